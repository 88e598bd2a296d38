"""``pgmonkey pgserverconfig --audit``: compare a live server with the recommendations.

The audit session is read-only (``SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY``,
then proven with ``SHOW default_transaction_read_only``) and runs in autocommit, so it
never holds a transaction open. It reads ``pg_settings``, ``pg_hba_file_rules`` (which needs
a superuser or an explicit grant: without it the audit says so and goes on) and the facts
of its own connection (client address, SSL, role memberships).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pgmonkey_cli._server.hba import HbaClient, HbaRule, first_match
from pgmonkey_cli._server.recommend import (
    DEFAULT_SUPERUSER_RESERVED,
    HbaLine,
    Network,
    Recommendations,
    SettingAdvice,
    recommend,
)

if TYPE_CHECKING:
    from typing_extensions import LiteralString

__all__ = ["AuditResult", "HbaVerdict", "SettingStatus", "run_audit"]

_SETTINGS = (
    "max_connections",
    "superuser_reserved_connections",
    "reserved_connections",
    "listen_addresses",
    "ssl",
    "ssl_cert_file",
    "ssl_key_file",
    "ssl_ca_file",
    "password_encryption",
    "unix_socket_directories",
)
_HBA_QUERY: LiteralString = (
    "SELECT line_number, type, database, user_name, address, netmask, auth_method, options,"
    " error FROM pg_hba_file_rules ORDER BY "
)
_HBA_QUERIES: dict[str, LiteralString] = {
    "rule_number": _HBA_QUERY + "rule_number",  # PostgreSQL 16+: include files
    "line_number": _HBA_QUERY + "line_number",
}
_LOOPBACK_LISTEN = {"localhost", "127.0.0.1", "::1"}


@dataclass
class SettingStatus:
    """One row of the postgresql.conf comparison."""

    name: str
    recommended: str
    current: str | None
    source: str | None
    status: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return dict(self.__dict__)


@dataclass
class HbaVerdict:
    """Which pg_hba rule a client would hit, and whether that is what we recommend."""

    client: str
    rule: HbaRule | None
    status: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "client": self.client,
            "matching_line": self.rule.line_number if self.rule else None,
            "method": self.rule.auth_method if self.rule else None,
            "status": self.status,
            "message": self.message,
        }


@dataclass
class AuditResult:
    """Everything the audit found."""

    server: dict[str, Any]
    recommendations: Recommendations
    settings: list[SettingStatus] = field(default_factory=list)
    hba_rules: list[HbaRule] | None = None
    hba_verdicts: list[HbaVerdict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is MISMATCH."""
        return all(s.status != "MISMATCH" for s in self.settings) and all(
            v.status != "MISMATCH" for v in self.hba_verdicts
        )

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "server": self.server,
            "ok": self.ok,
            "settings": [s.as_dict() for s in self.settings],
            "hba_rules": None if self.hba_rules is None else [r.as_dict() for r in self.hba_rules],
            "hba_verdicts": [v.as_dict() for v in self.hba_verdicts],
            "notes": self.notes,
        }


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1]
    return value


def _items(value: str) -> list[str]:
    return [v.strip().strip('"') for v in value.split(",") if v.strip()]


def _compare(advice: SettingAdvice, current: str | None) -> str:
    if current is None:
        return "UNKNOWN"
    want = _unquote(advice.value)
    if advice.check == "info":
        return "INFO"
    if advice.check == "at_least":
        try:
            return "OK" if int(current) >= int(want) else "MISMATCH"
        except ValueError:
            return "UNKNOWN"
    if advice.check == "equal":
        return "OK" if current.strip().lower() == want.lower() else "MISMATCH"
    if advice.check == "nonempty":
        return "OK" if current.strip() else "MISMATCH"
    if advice.check == "contains":
        items = _items(current)
        if advice.name == "listen_addresses":
            if "*" in items or want in items:
                return "OK"
            if want == "localhost" and _LOOPBACK_LISTEN & set(items):
                return "OK"
            return "MISMATCH"
        return "OK" if want in items else "MISMATCH"
    return "UNKNOWN"


def _method_verdict(rule: HbaRule, wanted: HbaLine | None) -> tuple[str, str]:
    method = rule.auth_method
    where = f"line {rule.line_number} ({rule.type}, method {method})"
    if method == "reject":
        return "MISMATCH", f"{where} rejects it"
    if wanted is None:
        return "OK", f"{where} matches"
    if method == wanted.method:
        if wanted.options and not any(o.startswith("clientcert") for o in rule.options):
            return "REVIEW", f"{where} matches but does not ask for the client certificate"
        return "OK", f"{where} matches, as recommended"
    if method == "trust":
        return "REVIEW", f"{where} matches: trust lets it in without any password"
    if method == "md5" and wanted.method == "scram-sha-256":
        return "OK", f"{where} matches (md5 uses scram-sha-256 for scram passwords)"
    return "REVIEW", f"{where} matches; recommended method: {wanted.method}"


def _verdict(rules: Sequence[HbaRule], client: HbaClient, wanted: HbaLine | None) -> HbaVerdict:
    found = first_match(rules, client)
    doubts = "; ".join(
        f"line {r.line_number} may match first ({why})" for r, why in found.uncertain
    )
    if found.rule is None:
        if doubts:
            return HbaVerdict(
                client.description, None, "REVIEW", f"no rule certainly matches; {doubts}"
            )
        return HbaVerdict(
            client.description,
            None,
            "MISMATCH",
            "no rule matches: the server rejects this connection",
        )
    status, message = _method_verdict(found.rule, wanted)
    if doubts and status == "OK":
        status = "REVIEW"
    if doubts:
        message += f"; but {doubts}"
    return HbaVerdict(client.description, found.rule, status, message)


def _read_only_session(conn: Any) -> str:
    conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    row = conn.execute("SHOW default_transaction_read_only").fetchone()
    return str(row[0]) if row else ""


def run_audit(
    cfg: Mapping[str, Any],
    *,
    processes: int,
    client_networks: Sequence[Network],
) -> AuditResult:
    """Connect read-only with ``cfg`` and compare the server with the recommendations.

    Raises:
        pgmonkey.errors.PgMonkeyError: The connection failed, or the session could not be
            made read-only (nothing was read then).
    """
    import psycopg
    from psycopg import errors as pg_errors

    from pgmonkey.connections import connect
    from pgmonkey.errors import DatabaseConnectionError

    audit_cfg = {k: v for k, v in cfg.items() if k not in ("sync_settings", "async_settings")}
    try:
        conn = connect(audit_cfg, autocommit=True)
    except psycopg.Error as exc:
        raise DatabaseConnectionError(f"could not connect for the audit: {exc}") from None
    with conn:
        read_only = _read_only_session(conn)
        if read_only != "on":
            raise DatabaseConnectionError(
                "the audit session could not be made read-only "
                f"(default_transaction_read_only = {read_only!r}); nothing was read"
            )
        facts = conn.execute(
            "SELECT current_setting('server_version'), current_setting('server_version_num'),"
            " session_user, current_database(), host(inet_client_addr()),"
            " (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()),"
            " (SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid()),"
            " (SELECT rolsuper FROM pg_roles WHERE rolname = session_user),"
            " current_setting('transaction_read_only')"
        ).fetchone()
        assert facts is not None
        version, version_num, user, database, client_addr, ssl, ssl_version, is_super, tro = facts
        member_of = frozenset(
            r[0]
            for r in conn.execute(
                "SELECT rolname FROM pg_roles WHERE pg_has_role(session_user, oid, 'member')"
            ).fetchall()
        )
        rows = conn.execute(
            "SELECT name, setting, source FROM pg_settings WHERE name = ANY(%s)",
            (list(_SETTINGS),),
        ).fetchall()
        current = {name: (setting, source) for name, setting, source in rows}
        notes: list[str] = []
        rules: list[HbaRule] | None = None
        order = "rule_number" if int(version_num) >= 160000 else "line_number"
        try:
            hba_rows = conn.execute(_HBA_QUERIES[order]).fetchall()
        except pg_errors.InsufficientPrivilege:
            notes.append(
                f"Role {user!r} may not read pg_hba_file_rules (needs a superuser, or "
                "GRANT SELECT ON pg_hba_file_rules plus EXECUTE ON FUNCTION "
                "pg_hba_file_rules()): the pg_hba.conf comparison is skipped."
            )
        else:
            rules = []
            broken = 0
            for line, typ, dbs, users, addr, mask, method, options, error in hba_rows:
                if error is not None:
                    broken += 1
                    continue
                rules.append(
                    HbaRule(
                        int(line),
                        str(typ),
                        tuple(dbs or ()),
                        tuple(users or ()),
                        addr,
                        mask,
                        str(method),
                        tuple(options or ()),
                    )
                )
            if broken:
                notes.append(
                    f"{broken} line(s) of pg_hba.conf have errors; the server keeps its "
                    "previous rules until they are fixed."
                )
            notes.append(
                "pg_hba_file_rules shows the file as it is now; a reload "
                "(SELECT pg_reload_conf()) makes the server use it."
            )

    reserved = _int(current.get("superuser_reserved_connections"), DEFAULT_SUPERUSER_RESERVED)
    reserved += _int(current.get("reserved_connections"), 0)
    networks = list(client_networks)
    this_net: Network | None = None
    if client_addr:
        this_net = ipaddress.ip_network(client_addr)
    base = recommend(
        cfg, processes=processes, client_networks=networks, superuser_reserved=reserved
    )
    if not networks and base.client.get("source") == "unknown" and this_net is not None:
        networks = [this_net]
        base = recommend(
            cfg, processes=processes, client_networks=networks, superuser_reserved=reserved
        )
        base.client["source"] = "the address the server sees for this machine"
    result = AuditResult(
        server={
            "version": version,
            "user": user,
            "database": database,
            "superuser": bool(is_super),
            "client_address": client_addr,
            "connection": "tcp" if client_addr else "unix socket",
            "ssl": bool(ssl),
            "ssl_version": ssl_version,
            "default_transaction_read_only": read_only,
            "transaction_read_only": tro,
        },
        recommendations=base,
        notes=notes,
    )
    for advice in base.settings:
        value = current.get(advice.name)
        status = _compare(advice, value[0] if value else None)
        result.settings.append(
            SettingStatus(
                advice.name,
                _unquote(advice.value),
                value[0] if value else None,
                value[1] if value else None,
                status,
                advice.reason,
            )
        )
    if any(s.current is None for s in result.settings):
        result.notes.append(
            "Some settings are hidden from this role (UNKNOWN): a superuser or a member "
            "of pg_read_all_settings can see them."
        )
    if rules is not None:
        result.hba_rules = rules
        kind = "tcp" if client_addr else "local"
        tcp_line = next((h for h in base.hba if h.type != "local"), None)
        local_line = next((h for h in base.hba if h.type == "local"), None)
        label = f"{kind} connection" if kind == "local" else f"{client_addr}"
        result.hba_verdicts.append(
            _verdict(
                rules,
                HbaClient(
                    kind=kind,
                    ssl=bool(ssl),
                    network=this_net,
                    database=str(database),
                    user=str(user),
                    member_of=member_of | {str(user)},
                    description=f"this connection ({label}" + (", SSL" if ssl else "") + ")",
                ),
                tcp_line if kind == "tcp" else local_line,
            )
        )
        if tcp_line is not None:
            for net in client_networks:
                if this_net is not None and net == this_net:
                    continue
                result.hba_verdicts.append(
                    _verdict(
                        rules,
                        HbaClient(
                            kind="tcp",
                            ssl=tcp_line.type == "hostssl",
                            network=net,
                            database=str(database),
                            user=str(user),
                            member_of=member_of | {str(user)},
                            description=f"clients in {net}",
                        ),
                        tcp_line,
                    )
                )
    return result


def _int(entry: tuple[str, str] | None, default: int) -> int:
    if entry is None:
        return default
    try:
        return int(entry[0])
    except ValueError:
        return default
