"""Throwaway PostgreSQL clusters: :func:`start_server` and :class:`PostgresServer`."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pgmonkey.errors import TestServerError
from pgmonkey.files import write_private
from pgmonkey.testing._account import ServerAccount
from pgmonkey.testing._base import ServerBase
from pgmonkey.testing._binaries import find_bindir, ssl_support
from pgmonkey.testing._certs import Certificates, make_certificates
from pgmonkey.testing._cleanup import register, unregister
from pgmonkey.testing._net import free_port, ipv6_loopback_available
from pgmonkey.testing._settings import ENV_BINDIR

__all__ = ["DEFAULT_CERT_ROLES", "SUPERUSER", "PostgresServer", "start_server"]

logger = logging.getLogger("pgmonkey.testing")

SUPERUSER = "postgres"
DEFAULT_CERT_ROLES = ("certuser",)

_FAST_TEST_SETTINGS: Mapping[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "log_min_messages": "warning",
    "max_connections": "200",
}
_REPLICATION_SETTINGS: Mapping[str, str] = {
    "wal_level": "replica",
    "max_wal_senders": "10",
    "max_replication_slots": "10",
    "hot_standby": "on",
    "wal_keep_size": "64MB",
}

_WATCHDOG_CODE = """
import os, shutil, subprocess, sys
pg_ctl, datadir, workdir = sys.argv[1:4]
uid = int(sys.argv[4]) if len(sys.argv) > 4 else None
sys.stdin.buffer.read()  # returns at EOF: the parent closed the pipe or died
if os.path.exists(os.path.join(datadir, "postmaster.pid")):
    subprocess.run([pg_ctl, "-D", datadir, "-m", "immediate", "-w", "-t", "30", "stop"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, user=uid)
shutil.rmtree(workdir, ignore_errors=True)
"""


@dataclass
class PostgresServer(ServerBase):
    """A throwaway PostgreSQL cluster started by :func:`start_server`.

    Attributes:
        bindir: Where the server binaries came from.
        workdir: The temporary directory holding the data directory, sockets and logs.
        port: The TCP port (the same on 127.0.0.1, ``::1`` and the unix socket).
        host: The TCP address clients should use.
        password: The superuser's password.
        superuser: The superuser's name.
        settings: The ``postgresql.conf`` settings given at start.
        ipv6: Whether the server also listens on ``::1``.
        roles: Roles created by ``start_server(roles=...)`` (and the client-certificate roles),
            with their passwords (``None`` for certificate-only roles).
        databases: Databases created by ``start_server(databases=...)``.
        certificates: The throwaway CA and certificates when started with ``ssl=True``.
        require_ssl: Whether non-SSL TCP connections are rejected.
        cert_roles: Roles that authenticate with a client certificate.
        primary: For a standby, the server it streams from (``None`` once promoted).
    """

    bindir: Path
    workdir: Path
    port: int
    password: str = field(repr=False)
    host: str = "127.0.0.1"
    superuser: str = SUPERUSER
    settings: dict[str, str] = field(default_factory=dict)
    ipv6: bool = False
    account: ServerAccount | None = field(default=None, repr=False)
    _watchdog: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    roles: dict[str, str | None] = field(default_factory=dict, repr=False)
    databases: list[str] = field(default_factory=list)
    certificates: Certificates | None = None
    require_ssl: bool = False
    cert_roles: tuple[str, ...] = ()
    primary: PostgresServer | None = field(default=None, repr=False)
    _standbys: list[PostgresServer] = field(default_factory=list, repr=False)

    # -- locations

    @property
    def datadir(self) -> Path:
        """The cluster's data directory."""
        return self.workdir / "data"

    @property
    def socket_dir(self) -> Path:
        """The private directory holding the server's unix socket."""
        return self.workdir / "sockets"

    @property
    def ssl_dir(self) -> Path:
        """The directory of the server's certificate files (``ssl=True``)."""
        return self.workdir / "ssl"

    @property
    def logfile(self) -> Path:
        """The server log."""
        return self.workdir / "server.log"

    # -- configurations

    def _superuser_password(self) -> str | None:
        return self.password

    def _tcp_params(self, *, ssl: bool | None, user: str, password: str | None) -> dict[str, Any]:
        use_ssl = self.certificates is not None if ssl is None else ssl
        if not use_ssl:
            return {"host": self.host, "port": self.port, "sslmode": "disable"}
        if self.certificates is None:
            raise TestServerError(
                "config(ssl=True) needs a server started with start_server(ssl=True)"
            )
        params: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "sslmode": "verify-full",
            "sslrootcert": str(self.certificates.ca_cert),
        }
        client = self.certificates.clients.get(user)
        if client is not None and password is None:
            params.update(sslcert=str(client.cert), sslkey=str(client.key))
        return params

    def _socket_host(self) -> str:
        return str(self.socket_dir)

    def cert_config(
        self,
        user: str | None = None,
        *,
        dbname: str | None = None,
        connection_type: str = "normal",
        **connection_settings: Any,
    ) -> dict[str, Any]:
        """Return a pgmonkey config that logs in with a client certificate (no password).

        Args:
            user: The role; defaults to the first of ``cert_roles`` (``certuser``). A role
                not in ``cert_roles`` gets a certificate too, but the server's ``pg_hba.conf``
                asks it for a password, so the connection fails.
            dbname: Database to connect to.
            connection_type: The configuration's ``connection_type``.
            **connection_settings: Extra or overriding ``connection_settings`` entries.

        Raises:
            TestServerError: The server was not started with ``ssl=True``.
        """
        if self.certificates is None:
            raise TestServerError(
                "cert_config() needs a server started with start_server(ssl=True)"
            )
        if user is None:
            if not self.cert_roles:
                raise TestServerError("cert_config(): the server has no cert_roles; name a user")
            user = self.cert_roles[0]
        client = self.certificates.client(user)
        cfg = self.config(dbname=dbname, user=user, connection_type=connection_type, ssl=True)
        settings = cfg["connection_settings"]
        settings.pop("password", None)
        settings.update(sslcert=str(client.cert), sslkey=str(client.key), **connection_settings)
        return cfg

    # -- process control

    def run_tool(
        self, *args: str, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run a program of :attr:`bindir` (``initdb``, ``pg_ctl``, ...) as the server's account.

        Args:
            *args: The program's name, then its arguments.
            check: Raise ``subprocess.CalledProcessError`` on a non-zero exit.
            timeout: Seconds before ``subprocess.TimeoutExpired``.

        Returns:
            The finished process, with its output as text.
        """
        uid = self.account.uid if self.account else None
        gid = self.account.gid if self.account else None
        env = {**os.environ, "LC_ALL": "C"}
        return subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
            user=uid,
            group=gid,
            env=env,
            cwd=self.workdir,
            start_new_session=True,  # a terminal's Ctrl-C must not stop the server first
        )

    def _pg_ctl(self, *args: str) -> None:
        try:
            self.run_tool("pg_ctl", "-D", str(self.datadir), *args)
        except subprocess.CalledProcessError as exc:
            log_tail = self.log_tail()
            raise TestServerError(
                f"pg_ctl {' '.join(args)} failed: {exc.stderr.strip() or exc.stdout.strip()}"
                f"\n--- server log ---\n{log_tail}"
            ) from None

    def log_tail(self, lines: int = 30) -> str:
        """Return the last lines of the server log (for error messages)."""
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def start(self) -> None:
        """Start the server (again) and wait until it accepts connections."""
        self._pg_ctl("-l", str(self.logfile), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server. ``mode`` is pg_ctl's: ``smart``, ``fast`` or ``immediate``."""
        self._pg_ctl("-m", mode, "-w", "-t", "60", "stop")

    def restart(self, mode: str = "fast") -> None:
        """Stop then start the server."""
        self.stop(mode)
        self.start()

    @property
    def running(self) -> bool:
        """Whether the postmaster is running."""
        return (
            self.run_tool("pg_ctl", "-D", str(self.datadir), "status", check=False).returncode == 0
        )

    @property
    def supports_ssl(self) -> bool:
        """Whether the server binaries were built with SSL support."""
        return ssl_support(self.bindir.resolve())

    @property
    def in_recovery(self) -> bool:
        """Whether the server is a standby (``pg_is_in_recovery()``)."""
        return bool(self.execute("SELECT pg_is_in_recovery()")[0][0])

    # -- replication

    def start_standby(self, *, settings: Mapping[str, object] | None = None) -> PostgresServer:
        """Clone this server with ``pg_basebackup -R`` and start the clone as a hot standby.

        The standby streams from this server through its unix socket, has the same
        superuser, password, roles and certificates, and is closed with this server. Start
        the primary with ``start_server(replication=True)`` (the defaults of PostgreSQL 10+
        also allow it unless ``wal_level`` was set to ``minimal``).

        Args:
            settings: Extra ``postgresql.conf`` settings for the standby only.

        Raises:
            TestServerError: This server does not allow replication, or the copy failed.
        """
        level, senders = self.execute(
            "SELECT current_setting('wal_level'), current_setting('max_wal_senders')::int"
        )[0]
        if level == "minimal" or senders == 0:
            raise TestServerError(
                f"start_standby(): the primary has wal_level={level} and max_wal_senders="
                f"{senders}; start it with start_server(replication=True)"
            )
        merged = {**self.settings, **{k: _conf_text(v) for k, v in (settings or {}).items()}}
        standby = _new_server(self.bindir, password=self.password, settings=merged)
        standby.primary = self
        standby.roles = dict(self.roles)
        standby.cert_roles = self.cert_roles
        standby.require_ssl = self.require_ssl
        try:
            if self.certificates is not None:
                shutil.copytree(self.ssl_dir, standby.ssl_dir)
                standby.certificates = dataclasses.replace(
                    self.certificates,
                    ca_cert=standby.ssl_dir / self.certificates.ca_cert.name,
                    server_cert=standby.ssl_dir / self.certificates.server_cert.name,
                    server_key=standby.ssl_dir / self.certificates.server_key.name,
                )
            if standby.account is not None:
                standby.account.give(standby.workdir)
            standby._watchdog = _start_watchdog(standby)
            try:
                standby.run_tool(
                    "pg_basebackup",
                    "-D",
                    str(standby.datadir),
                    "-R",
                    "-X",
                    "stream",
                    "-c",
                    "fast",
                    "--no-sync",
                    "-h",
                    str(self.socket_dir),
                    "-p",
                    str(self.port),
                    "-U",
                    self.superuser,
                    timeout=120,
                )
            except subprocess.CalledProcessError as exc:
                raise TestServerError(f"pg_basebackup failed: {exc.stderr.strip()}") from None
            _write_conf(standby)
            _start_with_port_retries(standby)
        except BaseException:
            standby.close()
            raise
        self._standbys.append(standby)
        logger.info("started a standby of port %s on port %s", self.port, standby.port)
        return standby

    def wait_for_replay(self, timeout: float = 30.0) -> None:
        """Wait until this standby has replayed everything committed on its primary so far.

        Raises:
            TestServerError: This server is not a standby, or it did not catch up in time.
        """
        if self.primary is None:
            raise TestServerError("wait_for_replay(): this server is not a standby")
        with self.primary.connect() as conn:
            conn.execute(b"SET synchronous_commit = on")
            # A transaction that writes WAL and commits synchronously flushes all WAL before it.
            with conn.transaction():
                conn.execute(b"SELECT pg_logical_emit_message(true, 'pgmonkey.testing', '')")
            row = conn.execute(b"SELECT pg_current_wal_flush_lsn()::text").fetchone()
        assert row is not None
        target = row[0]
        deadline = time.monotonic() + timeout
        while True:
            done = self.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])
            if done == [(True,)]:
                return
            if time.monotonic() > deadline:
                raise TestServerError(
                    f"the standby on port {self.port} did not replay up to {target} within "
                    f"{timeout:.0f} s\n--- standby log ---\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def promote(self) -> None:
        """Promote this standby to a primary (``pg_ctl promote``, waits until it is done).

        Raises:
            TestServerError: The server is not a standby or the promotion failed.
        """
        self._pg_ctl("-w", "-t", "60", "promote")
        self.primary = None

    # -- closing

    def close(self) -> None:
        """Stop the server (and its standbys) and delete its directory."""
        unregister(self)
        for standby in self._standbys:
            with contextlib.suppress(Exception):
                standby.close()
        self._standbys.clear()
        try:
            if self.datadir.joinpath("postmaster.pid").exists():
                self.run_tool(
                    "pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop", check=False
                )
        finally:
            if self._watchdog is not None:
                with contextlib.suppress(OSError):
                    assert self._watchdog.stdin is not None
                    self._watchdog.stdin.close()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._watchdog.wait(timeout=30)
                self._watchdog = None
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _write_hba(server: PostgresServer) -> None:
    nets = ("127.0.0.1/32", "::1/128")
    lines = [
        "# written by pgmonkey.testing",
        "local   all          all                trust",
        "local   replication  all                trust",
    ]
    if server.certificates is None:
        for net in nets:
            lines.append(f"host    all          all   {net}  scram-sha-256")
            lines.append(f"host    replication  all   {net}  scram-sha-256")
    else:
        for role in server.cert_roles:
            quoted = '"' + role.replace('"', '""') + '"'
            lines.extend(f"hostssl all {quoted} {net} cert" for net in nets)
            lines.append(f"hostnossl all {quoted} all reject")
        for net in nets:
            lines.append(f"hostssl all          all   {net}  scram-sha-256")
            lines.append(f"hostssl replication  all   {net}  scram-sha-256")
        if server.require_ssl:
            lines.append("hostnossl all         all   all  reject")
            lines.append("hostnossl replication all   all  reject")
        else:
            for net in nets:
                lines.append(f"hostnossl all          all   {net}  scram-sha-256")
                lines.append(f"hostnossl replication  all   {net}  scram-sha-256")
    (server.datadir / "pg_hba.conf").write_text("\n".join(lines) + "\n")
    if server.account is not None:
        os.chown(server.datadir / "pg_hba.conf", *server.account.ids)


def _write_conf(server: PostgresServer) -> None:
    listen = "127.0.0.1,::1" if server.ipv6 else "127.0.0.1"
    conf: dict[str, str] = {
        "listen_addresses": listen,
        "port": str(server.port),
        "unix_socket_directories": str(server.socket_dir),
        "password_encryption": "scram-sha-256",
        **_FAST_TEST_SETTINGS,
    }
    if server.certificates is not None:
        conf.update(
            ssl="on",
            ssl_cert_file=str(server.certificates.server_cert),
            ssl_key_file=str(server.certificates.server_key),
            ssl_ca_file=str(server.certificates.ca_cert),
        )
    conf.update(server.settings)
    text = "\n".join(f"{k} = '{_escape_conf(v)}'" for k, v in conf.items())
    with (server.datadir / "postgresql.conf").open("a") as fh:
        fh.write("\n# added by pgmonkey.testing\n" + text + "\n")


def _conf_text(value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _escape_conf(value: object) -> str:
    return _conf_text(value).replace("\\", "\\\\").replace("'", "''")


def _new_server(
    bindir: Path, *, password: str | None, settings: Mapping[str, str]
) -> PostgresServer:
    """A PostgresServer object with its (empty) work directory, not yet initialised."""
    workdir = Path(tempfile.mkdtemp(prefix="pgmonkey-pg-"))
    server = PostgresServer(
        bindir=bindir,
        workdir=workdir,
        port=free_port(),
        password=password if password is not None else secrets.token_urlsafe(16),
        settings=dict(settings),
        ipv6=ipv6_loopback_available(),
        account=ServerAccount.for_server(),
    )
    register(server)
    try:
        server.socket_dir.mkdir(mode=0o700)
        os.chmod(workdir, 0o755)  # noqa: S103 - the server account must reach data/
    except BaseException:
        server.close()
        raise
    return server


def _roles_mapping(
    roles: Mapping[str, str | None] | Iterable[str] | None,
) -> dict[str, str | None]:
    if roles is None:
        return {}
    if isinstance(roles, Mapping):
        return dict(roles)
    if isinstance(roles, str):
        raise TestServerError("start_server(roles=...) takes a mapping or a list of names")
    return dict.fromkeys(roles)


def start_server(
    *,
    bindir: str | os.PathLike[str] | None = None,
    settings: Mapping[str, object] | None = None,
    password: str | None = None,
    ssl: bool = False,
    roles: Mapping[str, str | None] | Iterable[str] | None = None,
    databases: Mapping[str, str | None] | Iterable[str] | None = None,
    replication: bool = False,
    cert_roles: Iterable[str] = DEFAULT_CERT_ROLES,
    require_ssl: bool = True,
) -> PostgresServer:
    """Create and start a throwaway PostgreSQL cluster.

    Use the result as a context manager (or call :meth:`PostgresServer.close`) to stop it and
    delete its files. It is also stopped and deleted when the process exits or is killed.

    Args:
        bindir: Directory of the server binaries; see :func:`find_bindir`.
        settings: Extra ``postgresql.conf`` settings, e.g. ``{"max_connections": 20}``.
        password: The superuser's password; a random one by default.
        ssl: Create a throwaway CA, server and client certificates and turn SSL on (see the
            module docstring). Needs binaries built with SSL and ``cryptography``.
        roles: Extra login roles to create: a mapping of name to password (``None``: no
            password), or a list of names (no passwords). ``config(user=name)`` fills in
            the password given here.
        databases: Extra databases to create: a list of names, or a mapping of name to
            owner (``None``: the superuser).
        replication: Set ``wal_level=replica``, ``max_wal_senders`` and friends explicitly,
            for :meth:`PostgresServer.start_standby`.
        cert_roles: With ``ssl=True``, roles (created at start) that log in with a client
            certificate (``cert`` authentication) instead of a password.
        require_ssl: With ``ssl=True``, reject TCP connections without SSL (``hostnossl``
            ``reject``); ``False`` also accepts them with a password.

    Raises:
        PostgresNotFoundError: No server binaries were found.
        TestServerError: The cluster could not be created or started, or ``ssl=True`` with
            binaries built without SSL.
    """
    found = find_bindir(bindir)
    role_map = _roles_mapping(roles)
    db_map: dict[str, str | None] = (
        dict(databases) if isinstance(databases, Mapping) else dict.fromkeys(databases or ())
    )
    merged = {**(_REPLICATION_SETTINGS if replication else {})}
    merged.update({k: _conf_text(v) for k, v in (settings or {}).items()})
    if ssl and not ssl_support(found.resolve()):
        raise TestServerError(
            f"start_server(ssl=True): the PostgreSQL binaries in {found} were built without "
            "SSL support; use binaries with SSL (e.g. your distribution's package) through "
            f"bindir= or {ENV_BINDIR}"
        )
    server = _new_server(found, password=password, settings=merged)
    try:
        workdir = server.workdir
        if ssl:
            server.cert_roles = tuple(cert_roles)
            server.require_ssl = require_ssl
            server.ssl_dir.mkdir()
            client_dir = workdir / "client"
            client_dir.mkdir(mode=0o700)
            server.certificates = make_certificates(
                server.ssl_dir,
                client_dir,
                server_owner=server.account.ids if server.account else None,
                client_users=server.cert_roles,
            )
            for role in server.cert_roles:
                role_map.setdefault(role, None)
        pwfile = workdir / "pwfile"
        write_private(pwfile, server.password + "\n")
        account = server.account
        if account is not None:
            account.give(server.socket_dir)
            os.chown(pwfile, *account.ids)
            os.chown(workdir, *account.ids)
            if ssl:
                account.give(server.ssl_dir)
        server._watchdog = _start_watchdog(server)
        try:
            server.run_tool(
                "initdb",
                "-D",
                str(server.datadir),
                "-U",
                server.superuser,
                "--pwfile",
                str(pwfile),
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                timeout=120,
            )
        except subprocess.CalledProcessError as exc:
            raise TestServerError(f"initdb failed: {exc.stderr.strip()}") from None
        pwfile.unlink()
        _write_hba(server)
        _write_conf(server)
        _start_with_port_retries(server)
        for name, role_password in role_map.items():
            server.create_role(name, password=role_password)
        server.roles = role_map
        for name, owner in db_map.items():
            server.create_database(name, owner=owner)
        server.databases = list(db_map)
    except BaseException:
        server.close()
        raise
    logger.info("started PostgreSQL on port %s in %s", server.port, workdir)
    return server


def _start_watchdog(server: PostgresServer) -> subprocess.Popen[bytes]:
    args = [
        sys.executable,
        "-c",
        _WATCHDOG_CODE,
        str(server.bindir / "pg_ctl"),
        str(server.datadir),
        str(server.workdir),
    ]
    if server.account is not None:
        args.append(str(server.account.uid))
    return subprocess.Popen(
        args,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C in a terminal must not kill it before it cleans up
    )


def _start_with_port_retries(server: PostgresServer, attempts: int = 5) -> None:
    for attempt in range(attempts):
        try:
            server.start()
            return
        except TestServerError:
            if attempt == attempts - 1 or "Address already in use" not in server.log_tail():
                raise
            server.port = free_port()
            _write_conf(server)  # a later line wins in postgresql.conf
            time.sleep(0.1)
