"""A throwaway PgBouncer in front of a test server, for :mod:`pgmonkey.testing`.

PgBouncer runs in the foreground as the child of a small watchdog process (started in a new
session, so a terminal's Ctrl-C reaches the test process first). The watchdog stops it and
deletes its directory when :meth:`PgBouncer.close` is called or when the test process goes
away for any reason, including SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pgmonkey._psycopg import require_psycopg
from pgmonkey.errors import TestServerError
from pgmonkey.files import write_private
from pgmonkey.testing._account import ServerAccount
from pgmonkey.testing._base import APPLICATION_NAME, ServerBase, wrap_connection_settings
from pgmonkey.testing._cleanup import register, unregister
from pgmonkey.testing._net import free_port
from pgmonkey.testing._settings import ENV_PGBOUNCER
from pgmonkey.testing._supervise import Supervised

if TYPE_CHECKING:
    import psycopg

__all__ = ["PgBouncer", "find_pgbouncer", "start_pgbouncer"]

_PGBOUNCER_LOCATIONS = (
    "/usr/sbin/pgbouncer",  # Debian, Ubuntu
    "/usr/bin/pgbouncer",  # RHEL, Fedora
    "/usr/local/bin/pgbouncer",
    "/usr/local/sbin/pgbouncer",
    "/opt/homebrew/bin/pgbouncer",
)
_POOL_MODES = ("session", "transaction", "statement")


def find_pgbouncer(executable: str | os.PathLike[str] | None = None) -> Path | None:
    """Return the ``pgbouncer`` executable, or ``None`` when there is none.

    Looks at ``executable``, then ``PGMONKEY_PGBOUNCER``, then ``PATH``, then the usual
    locations (``/usr/sbin/pgbouncer`` for the Debian package, which is not on a normal
    user's ``PATH``).
    """
    if executable is not None:
        path = Path(executable)
        return path if os.access(path, os.X_OK) else None
    if os.environ.get(ENV_PGBOUNCER):
        path = Path(os.environ[ENV_PGBOUNCER])
        return path if os.access(path, os.X_OK) else None
    on_path = shutil.which("pgbouncer")
    if on_path is not None:
        return Path(on_path)
    return next((Path(p) for p in _PGBOUNCER_LOCATIONS if os.access(p, os.X_OK)), None)


def _quote_userlist(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _ini_value(value: object) -> str:
    text = str(value)
    if "\n" in text:
        raise TestServerError("a PgBouncer setting cannot contain a newline")
    return text


@dataclass
class PgBouncer:
    """A running throwaway PgBouncer started by :func:`start_pgbouncer`.

    Attributes:
        server: The PostgreSQL server it forwards to.
        executable: The ``pgbouncer`` binary.
        workdir: Its temporary directory (configuration, ``userlist.txt``, log).
        port: The TCP port it listens on (on ``host``).
        host: The address clients use.
        pool_mode: ``session``, ``transaction`` or ``statement``.
        users: Role name to password, as written to the auth file.
    """

    server: ServerBase
    executable: Path
    workdir: Path
    port: int
    pool_mode: str
    host: str = "127.0.0.1"
    users: dict[str, str] = field(default_factory=dict, repr=False)
    settings: dict[str, str] = field(default_factory=dict)
    _account: tuple[int, int] | None = field(default=None, repr=False)
    _process: Supervised | None = field(default=None, repr=False)

    @property
    def ini_file(self) -> Path:
        """The generated ``pgbouncer.ini``."""
        return self.workdir / "pgbouncer.ini"

    @property
    def auth_file(self) -> Path:
        """The generated auth file (``"user" "password"`` lines)."""
        return self.workdir / "userlist.txt"

    @property
    def logfile(self) -> Path:
        """PgBouncer's log."""
        return self.workdir / "pgbouncer.log"

    def log_tail(self, lines: int = 30) -> str:
        """Return the last lines of the log (for error messages)."""
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # -- configurations

    def config(
        self,
        *,
        dbname: str | None = None,
        user: str | None = None,
        password: str | None = None,
        connection_type: str = "normal",
        **connection_settings: Any,
    ) -> dict[str, Any]:
        """Return a pgmonkey configuration dict that connects through PgBouncer.

        Args:
            dbname: Database (PgBouncer forwards every name to the server).
            user: Role; defaults to the server's superuser. It must be in :attr:`users`
                (see :meth:`add_user`).
            password: Its password; defaults to the one in :attr:`users`.
            connection_type: The configuration's ``connection_type``.
            **connection_settings: Extra or overriding ``connection_settings`` entries.
        """
        user = user if user is not None else self.server.superuser
        if password is None:
            password = self.users.get(user)
        settings: dict[str, Any] = {
            "user": user,
            "host": self.host,
            "port": self.port,
            "dbname": dbname if dbname is not None else self.server.default_dbname,
            "sslmode": "disable",
            "connect_timeout": 10,
            "application_name": APPLICATION_NAME,
        }
        if password is not None:
            settings["password"] = password
        settings.update(connection_settings)
        return wrap_connection_settings(settings, connection_type)

    def conninfo(self, *, dbname: str | None = None, **params: Any) -> str:
        """Return a libpq connection string through PgBouncer (superuser)."""
        require_psycopg()
        from psycopg.conninfo import make_conninfo

        base = self.config(dbname=dbname)["connection_settings"]
        base.update(params)
        return make_conninfo("", **base)

    def connect(self, *, dbname: str | None = None, **params: Any) -> psycopg.Connection[Any]:
        """Open an autocommit connection through PgBouncer as the superuser.

        ``dbname="pgbouncer"`` opens PgBouncer's admin console (``SHOW POOLS``, ...).
        """
        import psycopg

        return psycopg.connect(self.conninfo(dbname=dbname, **params), autocommit=True)

    def show(self, what: str) -> list[dict[str, Any]]:
        """Run ``SHOW <what>`` on the admin console (e.g. ``"POOLS"``) and return dict rows."""
        from psycopg.rows import dict_row

        if not what.replace("_", "").isalnum():
            raise TestServerError(f"not a PgBouncer SHOW command: {what!r}")
        with self.connect(dbname="pgbouncer") as conn:
            cur = conn.cursor(row_factory=dict_row)
            cur.execute(f"SHOW {what}".encode())
            return cur.fetchall()

    def add_user(self, name: str, password: str) -> None:
        """Let ``name`` log in through PgBouncer (the role must exist on the server)."""
        self.users[name] = password
        self._write_auth_file()
        with self.connect(dbname="pgbouncer") as conn:
            conn.execute(b"RELOAD")

    # -- files and process

    def _write_auth_file(self) -> None:
        lines = [f"{_quote_userlist(u)} {_quote_userlist(p)}" for u, p in self.users.items()]
        write_private(self.auth_file, "\n".join(lines) + "\n", owner=self._account)

    def _write_ini(self) -> None:
        server = self.server
        target = f"host={server.host} port={server.port}"
        certificates = getattr(server, "certificates", None)
        base: dict[str, object] = {
            "listen_addr": self.host,
            "listen_port": self.port,
            "unix_socket_dir": str(self.workdir),
            "auth_type": "scram-sha-256",
            "auth_file": str(self.auth_file),
            "admin_users": server.superuser,
            "stats_users": server.superuser,
            "pool_mode": self.pool_mode,
            "max_client_conn": 500,
            "default_pool_size": 20,
            "ignore_startup_parameters": "extra_float_digits",
        }
        if certificates is not None:
            base["server_tls_sslmode"] = "verify-full"
            base["server_tls_ca_file"] = str(certificates.ca_cert)
        else:
            sslmode = getattr(server, "params", {}).get("sslmode")
            if sslmode:
                base["server_tls_sslmode"] = sslmode
        base.update(self.settings)
        text = [
            "; written by pgmonkey.testing",
            "[databases]",
            f"* = {target}",
            "",
            "[pgbouncer]",
            *(f"{k} = {_ini_value(v)}" for k, v in base.items()),
        ]
        self.ini_file.write_text("\n".join(text) + "\n")
        if self._account is not None:
            os.chown(self.ini_file, *self._account)

    def _start(self, timeout: float = 30) -> None:
        process = Supervised(
            "pgbouncer",
            [str(self.executable), str(self.ini_file)],
            self.logfile,
            self.workdir,
            self._account,
            None,
            remove=self.workdir,
            stop_timeout=10,
        )
        self._process = process
        process.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.exited():
                raise TestServerError(
                    f"pgbouncer exited at start\n--- pgbouncer log ---\n{self.log_tail()}"
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.port), timeout=0.5),
            ):
                return
            time.sleep(0.05)
        raise TestServerError(
            f"pgbouncer did not listen on {self.host}:{self.port} within {timeout:.0f} s"
            f"\n--- pgbouncer log ---\n{self.log_tail()}"
        )

    def close(self) -> None:
        """Stop PgBouncer and delete its directory."""
        unregister(self)
        process, self._process = self._process, None
        if process is not None:
            process.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> PgBouncer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _launch(
    server: ServerBase,
    pool_mode: str = "transaction",
    *,
    users: Mapping[str, str] | None = None,
    settings: Mapping[str, object] | None = None,
    executable: str | os.PathLike[str] | None = None,
    account: tuple[int, int] | None = None,
) -> PgBouncer:
    """Start a PgBouncer in front of ``server`` and wait until it listens.

    Clients authenticate with SCRAM against an auth file holding plain passwords; PgBouncer
    logs in to the server with the same password (through TLS with the throwaway CA when the
    server was started with ``ssl=True``). Every database name is forwarded to the server.

    Args:
        server: A :class:`~pgmonkey.testing.PostgresServer` or
            :class:`~pgmonkey.testing.ExternalServer`.
        pool_mode: ``transaction`` (default), ``session`` or ``statement``.
        users: Extra role name -> password entries for the auth file (the superuser and the
            roles given to ``start_server(roles=...)`` with a password are always there).
        settings: Extra or overriding ``[pgbouncer]`` settings, e.g.
            ``{"default_pool_size": 5}``.
        executable: The ``pgbouncer`` binary; see :func:`find_pgbouncer`.
        account: ``(uid, gid)`` to run as (pgbouncer refuses to run as root); chosen
            automatically by :func:`start_pgbouncer`.

    Raises:
        TestServerError: No ``pgbouncer`` executable, a bad option, or it did not start.
    """
    if pool_mode not in _POOL_MODES:
        raise TestServerError(
            f"start_pgbouncer: pool_mode must be one of {', '.join(_POOL_MODES)}, "
            f"not {pool_mode!r}"
        )
    found = find_pgbouncer(executable)
    if found is None:
        where = executable or os.environ.get(ENV_PGBOUNCER)
        raise TestServerError(
            f"no usable pgbouncer executable ({where!r} is not executable)"
            if where
            else "no pgbouncer executable was found on PATH or in /usr/sbin: install it "
            f"(Debian/Ubuntu: 'apt-get install pgbouncer') or set {ENV_PGBOUNCER}"
        )
    known: dict[str, str] = {}
    superuser_password = server._superuser_password()
    if superuser_password is not None:
        known[server.superuser] = superuser_password
    known.update({name: pw for name, pw in server.roles.items() if pw is not None})
    known.update(users or {})
    workdir = Path(tempfile.mkdtemp(prefix="pgmonkey-bouncer-"))
    os.chmod(workdir, 0o755)  # noqa: S103 - the pgbouncer account reads its files
    if account is not None:
        os.chown(workdir, *account)
    bouncer = PgBouncer(
        server=server,
        executable=found,
        workdir=workdir,
        port=free_port("127.0.0.1"),
        pool_mode=pool_mode,
        users=known,
        settings={k: _ini_value(v) for k, v in (settings or {}).items()},
        _account=account,
    )
    try:
        bouncer._write_auth_file()
        bouncer._write_ini()
        bouncer._start()
    except BaseException:
        bouncer.close()
        raise
    return bouncer


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
    account = ServerAccount.for_server()
    bouncer = _launch(
        server,
        pool_mode,
        users=users,
        settings=settings,
        executable=executable,
        account=account.ids if account is not None else None,
    )
    register(bouncer)
    return bouncer
