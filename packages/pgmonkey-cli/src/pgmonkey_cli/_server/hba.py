"""Which ``pg_hba.conf`` rule would PostgreSQL pick for a client? (first match wins)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pgmonkey_cli._server.recommend import Network

__all__ = ["HbaClient", "HbaMatch", "HbaRule", "first_match", "rule_matches", "rule_network"]

YES, NO, MAYBE = "yes", "no", "maybe"


@dataclass(frozen=True)
class HbaRule:
    """One row of ``pg_hba_file_rules``."""

    line_number: int
    type: str
    database: tuple[str, ...]
    user_name: tuple[str, ...]
    address: str | None
    netmask: str | None
    auth_method: str
    options: tuple[str, ...] = ()

    def address_text(self) -> str:
        """The address column as a person reads it (``net/len`` when a netmask is given)."""
        if self.address is None:
            return ""
        try:
            return str(rule_network(self.address, self.netmask))
        except ValueError:
            return self.address if not self.netmask else f"{self.address} {self.netmask}"

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "line": self.line_number,
            "type": self.type,
            "database": list(self.database),
            "user": list(self.user_name),
            "address": self.address_text() or None,
            "method": self.auth_method,
            "options": list(self.options),
        }


@dataclass(frozen=True)
class HbaClient:
    """A client as pg_hba sees it.

    Attributes:
        kind: ``local`` (unix socket) or ``tcp``.
        ssl: Whether the TCP connection uses SSL.
        network: The client's address (a /32 or /128) or network (``--client-cidr``).
        database: The database it asks for.
        user: The role it logs in as.
        member_of: Roles ``user`` is a member of (itself included), for ``+role``/``samerole``.
        description: How to name this client in the report.
    """

    kind: str
    ssl: bool
    network: Network | None
    database: str
    user: str
    member_of: frozenset[str] = field(default_factory=frozenset)
    description: str = "this client"


@dataclass
class HbaMatch:
    """The outcome of :func:`first_match`."""

    rule: HbaRule | None
    uncertain: list[tuple[HbaRule, str]] = field(default_factory=list)


def rule_network(address: str, netmask: str | None) -> Network:
    """The network of a pg_hba address and netmask (IPv6 masks included).

    Raises:
        ValueError: ``address`` is a host name, not an IP address.
    """
    if not netmask:
        return ipaddress.ip_network(address, strict=False)
    bits = bin(int(ipaddress.ip_address(netmask))).count("1")
    return ipaddress.ip_network(f"{address}/{bits}", strict=False)


def _match_name(items: Sequence[str], name: str, client: HbaClient, *, database: bool) -> str:
    for item in items:
        if item == "all":
            return YES
        if database:
            if item == "replication":
                continue  # only replication connections
            if item == "sameuser" and name == client.user:
                return YES
            if item in ("samerole", "samegroup") and name in client.member_of:
                return YES
        elif item.startswith("+"):
            if item[1:] in client.member_of:
                return YES
            continue
        if item.startswith("/"):
            try:
                if re.search(item[1:], name):
                    return YES
            except re.error:
                pass
            continue
        if item == name:
            return YES
    return NO


def _match_address(rule: HbaRule, client: HbaClient) -> tuple[str, str]:
    if rule.address in (None, "all"):
        return YES, ""
    net = client.network
    if net is None:
        return NO, ""
    if rule.address in ("samehost", "samenet"):
        if net.is_loopback:
            return YES, ""
        return MAYBE, f"'{rule.address}' depends on the server's own addresses"
    try:
        rule_net = rule_network(rule.address, rule.netmask)
    except ValueError:
        return MAYBE, f"host name {rule.address!r} is matched by DNS lookups"
    if rule_net.version != net.version:
        return NO, ""
    if net.subnet_of(rule_net):  # type: ignore[arg-type]
        return YES, ""
    if net.overlaps(rule_net):
        return MAYBE, f"covers only part of {net}"
    return NO, ""


def rule_matches(rule: HbaRule, client: HbaClient) -> tuple[str, str]:
    """Return (``yes``/``no``/``maybe``, why-maybe) for one rule and one client."""
    kind = rule.type
    if kind == "local":
        if client.kind != "local":
            return NO, ""
    elif (
        client.kind != "tcp"
        or (kind == "hostssl" and not client.ssl)
        or (kind == "hostnossl" and client.ssl)
    ):
        return NO, ""
    elif kind == "hostgssenc":
        return NO, ""  # pgmonkey does not negotiate GSSAPI encryption by itself
    if _match_name(rule.database, client.database, client, database=True) == NO:
        return NO, ""
    if _match_name(rule.user_name, client.user, client, database=False) == NO:
        return NO, ""
    if kind == "local":
        return YES, ""
    return _match_address(rule, client)


def first_match(rules: Sequence[HbaRule], client: HbaClient) -> HbaMatch:
    """Return the first rule that certainly matches, and the uncertain ones before it."""
    result = HbaMatch(rule=None)
    for rule in rules:
        verdict, why = rule_matches(rule, client)
        if verdict == YES:
            result.rule = rule
            return result
        if verdict == MAYBE:
            result.uncertain.append((rule, why))
    return result
