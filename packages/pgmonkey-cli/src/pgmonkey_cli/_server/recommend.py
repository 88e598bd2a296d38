"""Server-side settings a pgmonkey configuration needs: postgresql.conf and pg_hba.conf.

Pure functions of the (normalised) configuration and the command-line facts; no I/O.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEFAULT_SUPERUSER_RESERVED",
    "HbaLine",
    "Network",
    "Recommendations",
    "SettingAdvice",
    "hba_quote",
    "parse_client_cidr",
    "recommend",
]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_SUPERUSER_RESERVED = 3
"""PostgreSQL's default ``superuser_reserved_connections``."""
PSYCOPG_POOL_DEFAULT_SIZE = 4
"""psycopg_pool's default ``min_size`` (and ``max_size`` when it is not given)."""
LIBPQ_DEFAULT_SSLMODE = "prefer"
SSL_MODES_USING_SSL = ("prefer", "require", "verify-ca", "verify-full")
CLIENT_PLACEHOLDER = "CLIENT-CIDR"
_HBA_KEYWORDS = {"all", "sameuser", "samerole", "samegroup", "replication"}
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


@dataclass(frozen=True)
class SettingAdvice:
    """One recommended ``postgresql.conf`` setting.

    Attributes:
        name: The setting.
        value: The recommended value, as written in ``postgresql.conf``.
        check: How an audit compares the server's value: ``at_least`` (numeric),
            ``equal``, ``contains`` (a list setting must include the value), ``nonempty``
            or ``info`` (shown, never judged).
        reason: Why, in a few words.
    """

    name: str
    value: str
    check: str
    reason: str


@dataclass(frozen=True)
class HbaLine:
    """One recommended ``pg_hba.conf`` line."""

    type: str
    database: str
    user: str
    address: str | None
    method: str
    options: str = ""

    def columns(self) -> list[str]:
        """The line's fields in pg_hba.conf order (an empty address for ``local``)."""
        return [self.type, self.database, self.user, self.address or "", self.method, self.options]

    def text(self) -> str:
        """The line as it would be written in pg_hba.conf."""
        return " ".join(c for c in self.columns() if c)


@dataclass
class Recommendations:
    """What :func:`recommend` found.

    Attributes:
        settings: ``postgresql.conf`` recommendations, in display order.
        hba: ``pg_hba.conf`` lines, in order (first match wins on the server).
        notes: Explanations and warnings for people.
        max_connections: How ``max_connections`` was computed (for display and JSON).
        client: Facts about the client the lines are for.
    """

    settings: list[SettingAdvice] = field(default_factory=list)
    hba: list[HbaLine] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    max_connections: dict[str, Any] = field(default_factory=dict)
    client: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "postgresql_conf": [
                {"name": s.name, "value": s.value, "check": s.check, "reason": s.reason}
                for s in self.settings
            ],
            "pg_hba_conf": [
                {
                    "type": h.type,
                    "database": h.database,
                    "user": h.user,
                    "address": h.address,
                    "method": h.method,
                    "options": h.options,
                    "line": h.text(),
                }
                for h in self.hba
            ],
            "max_connections": self.max_connections,
            "client": self.client,
            "notes": self.notes,
        }


def parse_client_cidr(text: str) -> Network:
    """Parse ``--client-cidr`` (``10.0.0.0/24``, ``2001:db8::/64``, or a single address).

    Raises:
        ValueError: Not an IPv4/IPv6 address or network; the message says what was given.
    """
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ValueError(
            f"--client-cidr {text!r} is not an IP network (examples: 10.0.0.0/24, "
            "192.168.1.7, 2001:db8::/64)"
        ) from None


def hba_quote(name: str) -> str:
    """Quote a database or role name for pg_hba.conf when it needs it.

    Raises:
        ValueError: The name holds a line break or a NUL character, which no pg_hba.conf
            line can carry (a line break would start a new rule).
    """
    if any(ch in name for ch in "\n\r\x00"):
        raise ValueError(f"{name!r} contains a line break or NUL: pg_hba.conf cannot hold it")
    if _PLAIN_NAME.fullmatch(name) and name not in _HBA_KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


def _hba_name(value: Any, key: str, settings: Mapping[str, Any], recs: Recommendations) -> str:
    from pgmonkey.config import redact_text
    from pgmonkey.errors import ConfigValidationError

    text = str(value)
    shown = redact_text(text, settings)
    if shown != text:
        recs.notes.append(
            f"connection_settings.{key} seems to hold a password (a connection URL, or a "
            "'password' keyword and its value): libpq takes it as a plain name, so the lines "
            f"show it masked. Put the password in 'password' and only the name in '{key}'."
        )
    try:
        return hba_quote(shown)
    except ValueError as exc:
        raise ConfigValidationError(str(exc), key_path=("connection_settings", key)) from None


def _split_hosts(settings: Mapping[str, Any]) -> list[str]:
    host = settings.get("host")
    hostaddr = settings.get("hostaddr")
    if hostaddr not in (None, ""):
        return [h.strip() for h in str(hostaddr).split(",") if h.strip()]
    if host in (None, ""):
        return []
    return [h.strip() for h in str(host).split(",") if h.strip()]


def _is_socket(host: str) -> bool:
    return host.startswith(("/", "@"))


def _loopback_networks(host: str) -> list[Network] | None:
    """The client network for a server reached over loopback, else ``None``."""
    if host.lower() in _LOOPBACK_NAMES:
        return [ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("::1/128")]
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return None
    if addr.is_loopback:
        return [ipaddress.ip_network("::1/128" if addr.version == 6 else "127.0.0.1/32")]
    return None


def _pool_size(section: Mapping[str, Any] | None) -> int:
    if not section:
        return 0
    size = section.get("max_size", section.get("min_size", PSYCOPG_POOL_DEFAULT_SIZE))
    return int(size)


def _max_connections(
    cfg: Mapping[str, Any], processes: int, reserved: int, recs: Recommendations
) -> int:
    ctype = str(cfg.get("connection_type") or "normal")
    pool = _pool_size(cfg.get("pool_settings"))
    if not pool and ctype == "pool":
        pool = PSYCOPG_POOL_DEFAULT_SIZE
    apool = _pool_size(cfg.get("async_pool_settings"))
    if not apool and ctype == "async_pool":
        apool = PSYCOPG_POOL_DEFAULT_SIZE
    per_process = pool + apool
    single = 0
    if per_process == 0:
        single = 1  # a normal/async configuration: one connection per process
        per_process = 1
    app = per_process * processes
    headroom = max(5, math.ceil(app * 0.1))
    total = app + reserved + headroom
    recs.max_connections = {
        "pool_max_size": pool,
        "async_pool_max_size": apool,
        "single_connections": single,
        "per_process": per_process,
        "processes": processes,
        "application": app,
        "superuser_reserved_connections": reserved,
        "headroom": headroom,
        "total": total,
    }
    return total


def recommend(
    cfg: Mapping[str, Any],
    *,
    processes: int = 1,
    client_networks: Sequence[Network] = (),
    superuser_reserved: int = DEFAULT_SUPERUSER_RESERVED,
) -> Recommendations:
    """Compute the server settings that ``cfg`` needs.

    Args:
        cfg: A configuration as returned by :func:`pgmonkey.config.load_config`.
        processes: How many application processes (workers, replicas) each open the pools.
        client_networks: The networks the application connects from (``--client-cidr``).
            Empty: derived for loopback servers, otherwise left as a placeholder.
        superuser_reserved: The server's ``superuser_reserved_connections``.
    """
    recs = Recommendations()
    settings: Mapping[str, Any] = cfg.get("connection_settings") or {}
    hosts = _split_hosts(settings)
    if not hosts:
        recs.notes.append(
            "The config has no host: libpq connects through the default unix socket "
            "(/var/run/postgresql or /tmp), so a 'local' pg_hba line is needed."
        )
    socket_hosts = [h for h in hosts if _is_socket(h)] or ([] if hosts else ["(default)"])
    tcp_hosts = [h for h in hosts if not _is_socket(h)]

    user_value = settings.get("user")
    if user_value in (None, ""):
        user = "all"
        recs.notes.append(
            "The config has no user: libpq uses the operating-system user name, so the "
            "lines say 'all'; narrow them to that role."
        )
    else:
        user = _hba_name(user_value, "user", settings, recs)
    db_value = settings.get("dbname")
    if db_value in (None, ""):
        database = user if user != "all" else "all"
        if user != "all":
            recs.notes.append("The config has no dbname: libpq uses the user name.")
    else:
        database = _hba_name(db_value, "dbname", settings, recs)

    sslmode = str(settings.get("sslmode") or "")
    if not sslmode:
        sslmode = LIBPQ_DEFAULT_SSLMODE
        if tcp_hosts:
            recs.notes.append("The config has no sslmode: libpq's default 'prefer' is assumed.")
    has_password = settings.get("password") not in (None, "")
    has_client_cert = settings.get("sslcert") not in (None, "")

    # -- postgresql.conf
    total = _max_connections(cfg, processes, superuser_reserved, recs)
    mc = recs.max_connections
    parts = []
    if mc["pool_max_size"]:
        parts.append(f"pool {mc['pool_max_size']}")
    if mc["async_pool_max_size"]:
        parts.append(f"async_pool {mc['async_pool_max_size']}")
    if mc["single_connections"]:
        parts.append("1 connection")
    plural = "es" if processes != 1 else ""
    recs.settings.append(
        SettingAdvice(
            "max_connections",
            str(total),
            "at_least",
            f"({' + '.join(parts)}) x {processes} process{plural} + {superuser_reserved} "
            f"reserved + {mc['headroom']} headroom",
        )
    )
    uses_ssl = bool(tcp_hosts) and sslmode in SSL_MODES_USING_SSL
    if tcp_hosts:
        loopback = all(_loopback_networks(h) is not None for h in tcp_hosts)
        listen = "localhost" if loopback else "*"
        recs.settings.append(
            SettingAdvice(
                "listen_addresses",
                f"'{listen}'",
                "contains",
                "accept TCP connections" + (" on loopback" if listen == "localhost" else ""),
            )
        )
    if uses_ssl:
        recs.settings.append(SettingAdvice("ssl", "on", "equal", f"sslmode is {sslmode}"))
        recs.settings.append(
            SettingAdvice("ssl_cert_file", "'server.crt'", "info", "the server's certificate")
        )
        recs.settings.append(
            SettingAdvice("ssl_key_file", "'server.key'", "info", "its private key")
        )
        if has_client_cert:
            recs.settings.append(
                SettingAdvice(
                    "ssl_ca_file",
                    "'root.crt'",
                    "nonempty",
                    "CA that signed the client certificates",
                )
            )
    for host in socket_hosts:
        if host != "(default)" and host.startswith("/"):
            recs.settings.append(
                SettingAdvice(
                    "unix_socket_directories",
                    f"'{host}'",
                    "contains",
                    "the socket directory the config uses",
                )
            )

    # -- pg_hba.conf
    for _host in socket_hosts[:1]:
        method = "scram-sha-256" if has_password else "peer"
        recs.hba.append(HbaLine("local", database, user, None, method))
        if not has_password:
            recs.notes.append(
                "The unix-socket line uses 'peer': the operating-system user must be named "
                "like the role (or add a map). Put a password in the config to use "
                "scram-sha-256 instead."
            )
    if tcp_hosts:
        networks = list(client_networks)
        source = "--client-cidr"
        if not networks:
            derived: list[Network] = []
            for host in tcp_hosts:
                found = _loopback_networks(host)
                if found is None:
                    derived = []
                    break
                derived.extend(n for n in found if n not in derived)
            networks = derived
            source = "loopback: the client runs on the server's machine"
        if not networks:
            source = "unknown"
            recs.notes.append(
                f"The client's network is unknown: replace {CLIENT_PLACEHOLDER} with the "
                "network your application connects from, or pass --client-cidr "
                "(e.g. 10.0.0.0/24). The server host in the config says where the server "
                "is, not where the client is. With --audit, the address the server sees "
                "for this machine is used."
            )
        hba_type = "hostssl" if uses_ssl else "host"
        if has_client_cert and uses_ssl:
            method, options = (
                ("scram-sha-256", "clientcert=verify-full") if has_password else ("cert", "")
            )
        else:
            method, options = "scram-sha-256", ""
            if has_client_cert:
                recs.notes.append(
                    f"The config has sslcert but sslmode is {sslmode}: a client certificate "
                    "is only sent over SSL, so it is not used for authentication."
                )
        addresses = [str(n) for n in networks] or [CLIENT_PLACEHOLDER]
        for address in addresses:
            recs.hba.append(HbaLine(hba_type, database, user, address, method, options))
        recs.client = {"networks": [str(n) for n in networks], "source": source}
        if sslmode == "prefer":
            recs.notes.append(
                "sslmode 'prefer' silently falls back to an unencrypted connection, which "
                "a hostssl line then rejects; use sslmode 'require' (or verify-full) to "
                "make SSL certain."
            )
        elif sslmode == "allow":
            recs.notes.append(
                "sslmode 'allow' tries an unencrypted connection first: the line is 'host'. "
                "Use 'require' or stricter to encrypt."
            )
        if sslmode in ("verify-ca", "verify-full"):
            recs.notes.append(
                f"sslmode {sslmode} checks the server's certificate against sslrootcert"
                + (
                    " and the host name against the certificate"
                    if sslmode == "verify-full"
                    else ""
                )
                + "; it is not client-certificate authentication."
            )
        if has_client_cert and uses_ssl:
            recs.notes.append(
                "The config carries a client certificate: "
                + (
                    "the line asks for it and for the password (clientcert=verify-full)."
                    if has_password
                    else "the line uses 'cert' authentication (the certificate's CN must "
                    "be the role name)."
                )
            )
    else:
        recs.client = {"networks": [], "source": "unix socket"}
    if any(h.method == "scram-sha-256" for h in recs.hba):
        recs.settings.append(
            SettingAdvice("password_encryption", "scram-sha-256", "equal", "store scram verifiers")
        )
    if processes == 1:
        recs.notes.append(
            "max_connections assumes 1 application process; pass --processes N for "
            "N workers or replicas that each open the pools."
        )
    return recs
