"""What a pgmonkey configuration asks of its sandbox: where to listen, which role and database."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pgmonkey_cli._sandbox._errors import SandboxUsageError

__all__ = ["ADMIN_ROLE", "DEFAULT_PORT", "LOOPBACK_HOSTS", "SandboxSpec", "spec_from_config"]

ADMIN_ROLE = "pgmonkey_sandbox_admin"
"""The cluster's bootstrap superuser, used by the command itself (never by applications)."""
DEFAULT_PORT = 5432
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_NAME_BYTES = 63
"""PostgreSQL's NAMEDATALEN - 1: longer role and database names are silently truncated."""
_SSL_MODES_NEEDING_SSL = ("require", "verify-ca", "verify-full")
# Keys passed on to psql besides host/port/user/dbname (libpq keywords only).
_NOT_FOR_PSQL = ("password", "autocommit", "credential_provider")


@dataclass(frozen=True)
class SandboxSpec:
    """The parts of a configuration that shape its sandbox.

    Attributes:
        config_path: The configuration file, absolute and with symlinks resolved.
        host: ``connection_settings.host`` as written (a loopback name or a directory).
        socket_dir: The unix-socket directory when ``host`` is one, else ``None``.
        port: The port (default 5432).
        user: The role the configuration logs in as.
        dbname: The database (default: the role's name, as libpq does).
        password: The role's password (never printed).
        sslmode: The configuration's ``sslmode``, if any.
        settings: The libpq parameters of the configuration, without the password.
    """

    config_path: Path
    host: str
    socket_dir: Path | None
    port: int
    user: str
    dbname: str
    password: str = field(repr=False)
    sslmode: str | None = None
    settings: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def listen_addresses(self) -> str:
        """The server's ``listen_addresses`` (empty: unix socket only)."""
        return "" if self.socket_dir is not None else self.host

    @property
    def tcp_addresses(self) -> tuple[str, ...]:
        """The IP addresses the server listens on (for the port check)."""
        if self.socket_dir is not None:
            return ()
        if self.host == "localhost":
            return ("127.0.0.1", "::1")
        return (self.host,)

    @property
    def wants_ssl(self) -> bool:
        """Whether the configuration's ``sslmode`` fails without SSL."""
        return self.sslmode in _SSL_MODES_NEEDING_SSL

    def where(self) -> str:
        """``host:port`` or ``socket-dir (port N)`` for messages."""
        if self.socket_dir is not None:
            return f"unix socket {self.socket_dir} (port {self.port})"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def psql_params(self) -> dict[str, Any]:
        """Libpq parameters for ``psql`` (everything but the password)."""
        return {k: v for k, v in self.settings.items() if k not in _NOT_FOR_PSQL}


def _problem(path: Path, key: str, message: str) -> SandboxUsageError:
    return SandboxUsageError(
        message, source=str(path), key_path=("connection_settings", key) if key else None
    )


def _text(settings: Mapping[str, Any], key: str) -> str | None:
    value = settings.get(key)
    if value is None or value == "":
        return None
    return str(value)


def _host(path: Path, settings: Mapping[str, Any]) -> tuple[str, Path | None]:
    host = _text(settings, "host")
    if host is None:
        raise _problem(
            path,
            "host",
            "a sandbox needs an explicit host: 127.0.0.1, localhost, ::1 or a unix-socket "
            "directory",
        )
    if "," in host:
        raise _problem(path, "host", f"a sandbox is one server; {host!r} lists several hosts")
    hostaddr = _text(settings, "hostaddr")
    if hostaddr is not None and hostaddr not in ("127.0.0.1", "::1"):
        raise _problem(
            path,
            "hostaddr",
            f"a sandbox runs on this machine only: hostaddr must be 127.0.0.1 or ::1, "
            f"not {hostaddr!r}",
        )
    if host in LOOPBACK_HOSTS:
        return host, None
    if host.startswith("/"):
        directory = Path(host)
        if not directory.is_dir():
            raise _problem(
                path,
                "host",
                f"the unix-socket directory {host} does not exist; create it or use 127.0.0.1",
            )
        return host, directory
    raise _problem(
        path,
        "host",
        f"a sandbox runs on this machine only: host must be 127.0.0.1, localhost, ::1 or a "
        f"unix-socket directory, not {host!r} (point a copy of the file at 127.0.0.1 to "
        f"get a local sandbox)",
    )


def _port(path: Path, settings: Mapping[str, Any]) -> int:
    raw = settings.get("port")
    if raw is None or raw == "":
        return DEFAULT_PORT
    try:
        port = int(str(raw).strip())
    except ValueError:
        raise _problem(path, "port", f"a sandbox needs one port number, not {raw!r}") from None
    if not 1 <= port <= 65535:
        raise _problem(path, "port", f"port {port} is out of range (1-65535)")
    return port


def _check_name(path: Path, key: str, name: str) -> None:
    """Refuse names the server would truncate, reject, or that libpq cannot send."""
    from pgmonkey.config import redact_text

    if redact_text(name) != name:  # the message must not repeat the name then
        what = "a role" if key == "user" else "a database"
        raise _problem(
            path,
            key,
            f"{key} seems to hold a password (a connection URL, or a 'password' keyword and "
            f"its value), and the sandbox would create {what} by that name: put the password "
            f"in 'password' and only the name in '{key}'",
        )
    if not name.strip():
        raise _problem(path, key, f"{key} {name!r} is blank")
    if "\x00" in name:
        raise _problem(path, key, f"{key} {name!r} contains a NUL character")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise _problem(
            path,
            key,
            f"{key} {name[:20]!r}... is longer than {MAX_NAME_BYTES} bytes (PostgreSQL would "
            "shorten it)",
        )
    if key == "user" and name.startswith("pg_"):
        raise _problem(path, key, f"role names starting with 'pg_' are reserved: {name!r}")


def spec_from_config(cfg: Mapping[str, Any], path: str | os.PathLike[str]) -> SandboxSpec:
    """Check that a loaded configuration can have a sandbox and describe it.

    Args:
        cfg: The configuration, as returned by :func:`pgmonkey.config.load_config`.
        path: The file it came from (its resolved path identifies the sandbox).

    Raises:
        SandboxUsageError: The host is not local, the user or password is missing, or the
            role or database name cannot be created as written (blank, NUL, over 63 bytes,
            a reserved ``pg_`` role name, a password inside it).
    """
    config_path = Path(path).expanduser().resolve()
    settings = cfg.get("connection_settings")
    if not isinstance(settings, Mapping):
        raise SandboxUsageError(
            "the file has no connection_settings section", source=str(config_path)
        )
    host, socket_dir = _host(config_path, settings)
    port = _port(config_path, settings)
    user = _text(settings, "user")
    if user is None:
        raise _problem(config_path, "user", "a sandbox needs the role name (user)")
    if user == ADMIN_ROLE:
        raise _problem(config_path, "user", f"the role name {ADMIN_ROLE!r} is reserved")
    password = _text(settings, "password")
    if password is None:
        raise _problem(
            config_path,
            "password",
            "a sandbox needs the role's password (TCP logins use scram-sha-256); with "
            "${VAR} references, pass --resolve-env",
        )
    dbname = _text(settings, "dbname") or user
    _check_name(config_path, "user", user)
    _check_name(config_path, "dbname" if _text(settings, "dbname") else "user", dbname)
    return SandboxSpec(
        config_path=config_path,
        host=host,
        socket_dir=socket_dir,
        port=port,
        user=user,
        dbname=dbname,
        password=password,
        sslmode=_text(settings, "sslmode"),
        settings={k: v for k, v in settings.items() if k != "password"},
    )
