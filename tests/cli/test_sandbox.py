"""``pgmonkey sandbox``: the real command, real clusters, cleaned up after every test."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pty
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from pgmonkey import testing
from pgmonkey.config import load_config
from pgmonkey.connections import connect, connect_async, open_async_pool, open_pool
from pgmonkey.errors import DatabaseConnectionError
from pgmonkey.testing._net import free_port

PASSWORD = "sandbox-" + secrets.token_hex(8)


def _run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pgmonkey_cli", "sandbox", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=cwd,
    )


def _kill_leftovers(root: Path) -> None:
    """Last resort after a failed test: immediate shutdown of any postmaster under ``root``."""
    for pidfile in root.glob("*/data/postmaster.pid"):
        with contextlib.suppress(OSError, ValueError):
            pid = int(pidfile.read_text().split("\n", 1)[0])
            os.kill(pid, signal.SIGQUIT)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                os.kill(pid, 0)  # raises ProcessLookupError once it is gone
                time.sleep(0.1)


@dataclass
class SandboxEnv:
    """A data directory for sandboxes and helpers to write configs and run the command.

    The data directory is made with ``mkdtemp`` (mode 0755) rather than in ``tmp_path``: as
    root, the server runs as the ``postgres`` account, which cannot enter pytest's 0700
    temporary directories.
    """

    data_dir: Path
    workdir: Path
    configs: list[Path] = field(default_factory=list)

    def write_config(self, name: str = "dev.yaml", **settings: Any) -> Path:
        path = self.workdir / name
        connection = {
            "host": "127.0.0.1",
            "port": free_port(),
            "user": "app",
            "password": PASSWORD,
            "dbname": "appdb",
            "connect_timeout": 10,
            **settings,
        }
        cfg = {
            "connection_type": "normal",
            "connection_settings": connection,
            "pool_settings": {"min_size": 1, "max_size": 3, "timeout": 10},
            "async_pool_settings": {"min_size": 1, "max_size": 3, "timeout": 10},
        }
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        if path not in self.configs:
            self.configs.append(path)
        return path

    def update_settings(self, path: Path, **settings: Any) -> None:
        cfg = yaml.safe_load(path.read_text())
        cfg["connection_settings"].update(settings)
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        command, *rest = args  # --data-dir before any "-- psql arguments"
        return _run(command, "--data-dir", str(self.data_dir), *rest, env=env, cwd=self.workdir)

    def status(self, config: Path) -> dict[str, Any]:
        proc = self.run("status", "--connconfig", str(config), "--json")
        info: dict[str, Any] = json.loads(proc.stdout)
        assert proc.returncode == (0 if info["state"] == "running" else 1)
        return info


@pytest.fixture
def sandboxes(tmp_path: Path) -> Iterator[SandboxEnv]:
    """A :class:`SandboxEnv`; every sandbox it made is destroyed (and checked gone) after."""
    data_dir = Path(tempfile.mkdtemp(prefix="pgmonkey-sandbox-test-"))
    data_dir.chmod(0o755)
    env = SandboxEnv(data_dir=data_dir, workdir=tmp_path)
    try:
        yield env
    finally:
        try:
            for config in env.configs:
                proc = env.run("destroy", "--yes", "--connconfig", str(config))
                assert proc.returncode == 0, proc.stderr
            assert not list(data_dir.glob("*/data")), "a sandbox survived destroy"
        finally:
            _kill_leftovers(data_dir)
            shutil.rmtree(data_dir, ignore_errors=True)


def _use_all_four_types(config: Path) -> list[str]:
    """Connect with the four connection types built from the same YAML; return the users.

    ``PGConnectionManager`` is still a placeholder, so this uses the building blocks it is
    built on (``pgmonkey.connections``), one per connection type.
    """
    cfg = load_config(config)
    users: list[str] = []

    def keep(row: tuple[Any, ...] | None) -> None:
        assert row is not None
        users.append(row[0])

    with connect(cfg) as conn:
        keep(conn.execute("SELECT current_user").fetchone())
    with open_pool(cfg) as pool, pool.connection() as conn:
        keep(conn.execute("SELECT current_user").fetchone())

    async def use_async() -> None:
        aconn = await connect_async(cfg)
        async with aconn:
            keep(await (await aconn.execute("SELECT current_user")).fetchone())
        apool = await open_async_pool(cfg)
        async with apool, apool.connection() as conn:
            keep(await (await conn.execute("SELECT current_user")).fetchone())

    asyncio.run(use_async())
    return users


def _sql(config: Path, query: str) -> list[tuple[Any, ...]]:
    with connect(load_config(config), autocommit=True) as conn:
        cur = conn.execute(query.encode())
        return cur.fetchall() if cur.description else []


def test_lifecycle_start_connect_stop_restart_destroy(sandboxes: SandboxEnv) -> None:
    config = sandboxes.write_config()
    started = sandboxes.run("start", "--connconfig", str(config))
    assert started.returncode == 0, started.stderr
    assert "Created and started the sandbox" in started.stdout
    assert PASSWORD not in started.stdout + started.stderr

    # The server outlives the command; the config's role and database are there.
    assert _use_all_four_types(config) == ["app"] * 4
    rows = _sql(
        config,
        "SELECT current_database(), rolsuper, rolpassword LIKE 'SCRAM-SHA-256$%' "
        "FROM pg_authid WHERE rolname = current_user",
    )
    assert rows == [("appdb", True, True)]
    hba = _sql(config, "SELECT DISTINCT auth_method FROM pg_hba_file_rules")
    assert hba == [("scram-sha-256",)]
    _sql(config, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)")

    info = sandboxes.status(config)
    assert info["state"] == "running"
    assert (info["host"], info["user"], info["dbname"]) == ("127.0.0.1", "app", "appdb")
    assert Path(info["directory"]).parent == sandboxes.data_dir
    assert PASSWORD not in json.dumps(info)

    # Starting again while it runs: nothing restarts; a changed password is applied.
    new_password = PASSWORD + "-changed"
    sandboxes.update_settings(config, password=new_password)
    again = sandboxes.run("start", "--connconfig", str(config))
    assert again.returncode == 0, again.stderr
    assert "already running" in again.stdout
    assert new_password not in again.stdout + again.stderr
    assert _sql(config, "SELECT n FROM kept") == [(42,)]

    stopped = sandboxes.run("stop", "--connconfig", str(config))
    assert stopped.returncode == 0, stopped.stderr
    assert "Stopped" in stopped.stdout
    assert sandboxes.status(config)["state"] == "stopped"
    with pytest.raises(DatabaseConnectionError):
        _sql(config, "SELECT 1")
    assert sandboxes.run("stop", "--connconfig", str(config)).returncode == 0  # idempotent

    restarted = sandboxes.run("start", "--connconfig", str(config))
    assert restarted.returncode == 0, restarted.stderr
    assert "Started the sandbox" in restarted.stdout
    assert _sql(config, "SELECT n FROM kept") == [(42,)]
    assert _use_all_four_types(config) == ["app"] * 4

    # A second config file never shares this sandbox; its port is taken by this one.
    other = sandboxes.write_config("other.yaml", port=info["port"])
    clash = sandboxes.run("start", "--connconfig", str(other))
    assert clash.returncode == 1
    assert f"port {info['port']} is already in use" in clash.stderr
    assert f"the sandbox of {config}" in clash.stderr
    assert sandboxes.status(other)["state"] == "absent"

    destroyed = sandboxes.run("destroy", "--yes", "--connconfig", str(config))
    assert destroyed.returncode == 0, destroyed.stderr
    assert not Path(info["directory"]).exists()
    assert sandboxes.status(config)["state"] == "absent"
    with pytest.raises(DatabaseConnectionError):
        _sql(config, "SELECT 1")


def test_psql_runs_with_the_config_parameters(sandboxes: SandboxEnv) -> None:
    config = sandboxes.write_config()
    not_yet = sandboxes.run("psql", "--connconfig", str(config))
    assert not_yet.returncode == 1
    assert "is not running" in not_yet.stderr
    assert sandboxes.run("start", "--connconfig", str(config)).returncode == 0
    proc = sandboxes.run(
        "psql", "--connconfig", str(config), "--",
        "-XAtc", "SELECT current_user || ' ' || current_database()",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "app appdb"
    assert PASSWORD not in proc.stdout + proc.stderr


def test_find_psql_explains_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pgmonkey_cli._sandbox._errors import SandboxError
    from pgmonkey_cli._sandbox._run import find_psql

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SandboxError, match="apt-get install postgresql-client"):
        find_psql(tmp_path)


def test_unix_socket_host_and_default_data_dir(sandboxes: SandboxEnv) -> None:
    """No --data-dir: the per-user data directory (XDG_DATA_HOME here); a socket host."""
    xdg = sandboxes.data_dir / "xdg"
    xdg.mkdir(mode=0o755)
    sockets = sandboxes.data_dir / "sockets"
    sockets.mkdir()
    sockets.chmod(0o1777)  # like /tmp: the server account (as root) must create its socket
    config = sandboxes.write_config(host=str(sockets))
    env = {**os.environ, "XDG_DATA_HOME": str(xdg)}
    try:
        started = _run("start", "--connconfig", str(config), env=env)
        assert started.returncode == 0, started.stderr
        status = _run("status", "--connconfig", str(config), "--json", env=env)
        info = json.loads(status.stdout)
        assert Path(info["directory"]).parent == xdg / "pgmonkey" / "sandboxes"
        assert info["state"] == "running"
        assert _sql(config, "SELECT inet_server_addr() IS NULL, current_user") == [(True, "app")]
        port = info["port"]
        assert (sockets / f".s.PGSQL.{port}").exists()
        with pytest.raises(psycopg.OperationalError):  # listens on the socket only
            psycopg.connect(
                host="127.0.0.1", port=port, user="app", password=PASSWORD, connect_timeout=5
            )
        listing = _run("status", env=env)
        assert listing.returncode == 0
        assert f"running  {sockets}:{port}" in listing.stdout
    finally:
        destroyed = _run("destroy", "--yes", "--connconfig", str(config), env=env)
        assert destroyed.returncode == 0, destroyed.stderr
    assert not list((xdg / "pgmonkey" / "sandboxes").iterdir())


def test_ssl_sandbox_accepts_verify_full(sandboxes: SandboxEnv) -> None:
    testing.require_ssl()
    config = sandboxes.write_config(host="localhost")
    started = sandboxes.run("start", "--connconfig", str(config), "--ssl")
    assert started.returncode == 0, started.stderr
    info = sandboxes.status(config)
    ca_cert = info["sslrootcert"]
    assert info["ssl"] is True
    assert f"sslrootcert: {ca_cert}" in started.stdout
    assert "sslmode: verify-full" in started.stdout
    # The printed lines go into the same YAML file (pgmonkey never rewrites it).
    sandboxes.update_settings(config, sslmode="verify-full", sslrootcert=ca_cert)
    assert _sql(config, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") == [(True,)]
    assert _use_all_four_types(config) == ["app"] * 4
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        psycopg.connect(
            host="127.0.0.1", port=info["port"], user="app", password=PASSWORD,
            dbname="appdb", sslmode="disable",
        )  # fmt: skip
    # SSL is remembered across a restart without --ssl.
    assert sandboxes.run("stop", "--connconfig", str(config)).returncode == 0
    assert sandboxes.run("start", "--connconfig", str(config)).returncode == 0
    assert _sql(config, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") == [(True,)]


def test_port_taken_by_another_program(sandboxes: SandboxEnv) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        config = sandboxes.write_config(port=port)
        proc = sandboxes.run("start", "--connconfig", str(config))
    assert proc.returncode == 1
    assert f"port {port} is already in use at 127.0.0.1:{port} by another program" in proc.stderr
    assert "connection_settings.port" in proc.stderr
    assert sandboxes.status(config)["state"] == "absent"  # nothing half-made


def test_no_binaries_says_how_to_install_them(sandboxes: SandboxEnv, tmp_path: Path) -> None:
    empty = tmp_path / "no-binaries"
    empty.mkdir()
    config = sandboxes.write_config()
    env = {**os.environ, testing.ENV_BINDIR: str(empty)}
    proc = sandboxes.run("start", "--connconfig", str(config), env=env)
    assert proc.returncode == 1
    assert "no PostgreSQL server binaries" in proc.stderr
    assert "apt-get install postgresql" in proc.stderr
    assert "pgmonkey-core[embedded]" in proc.stderr
    assert sandboxes.status(config)["state"] == "absent"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"host": "db.example.com"}, "connection_settings.host: a sandbox runs on this machine"),
        ({"host": "127.0.0.1,127.0.0.2"}, "lists several hosts"),
        ({"host": None}, "needs an explicit host"),
        ({"password": None}, "connection_settings.password: a sandbox needs the role's password"),
        ({"user": None}, "connection_settings.user: a sandbox needs the role name"),
        ({"port": "5432,5433"}, "connection_settings.port: a sandbox needs one port number"),
    ],
)
def test_unusable_configs_are_refused(
    sandboxes: SandboxEnv, settings: dict[str, Any], message: str
) -> None:
    config = sandboxes.write_config(**settings)
    proc = sandboxes.run("start", "--connconfig", str(config))
    assert proc.returncode == 2
    assert message in proc.stderr
    assert str(config) in proc.stderr
    assert PASSWORD not in proc.stderr
    assert not list(sandboxes.data_dir.iterdir())


def test_ssl_with_a_socket_host_is_a_usage_error(sandboxes: SandboxEnv) -> None:
    config = sandboxes.write_config(host=str(sandboxes.data_dir))
    proc = sandboxes.run("start", "--connconfig", str(config), "--ssl")
    assert proc.returncode == 2
    assert "--ssl needs a TCP host" in proc.stderr


def test_destroy_asks_and_refuses_without_a_terminal(sandboxes: SandboxEnv) -> None:
    config = sandboxes.write_config()
    assert sandboxes.run("destroy", "--connconfig", str(config)).returncode == 0  # none yet
    assert sandboxes.run("start", "--connconfig", str(config)).returncode == 0
    refused = sandboxes.run("destroy", "--connconfig", str(config))
    assert refused.returncode == 2
    assert "without confirmation" in refused.stderr
    assert "--yes" in refused.stderr
    assert sandboxes.status(config)["state"] == "running"
    # With a terminal it asks; anything but "y" keeps the sandbox.
    command = [sys.executable, "-m", "pgmonkey_cli", "sandbox", "destroy"]
    for answer, code, state in (("n\n", 1, "running"), ("y\n", 0, "absent")):
        primary, secondary = pty.openpty()
        try:
            os.write(primary, answer.encode())
            proc = subprocess.run(
                [*command, "--data-dir", str(sandboxes.data_dir), "--connconfig", str(config)],
                stdin=secondary,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        finally:
            os.close(secondary)
            os.close(primary)
        assert proc.returncode == code, proc.stderr
        assert "and all its data" in proc.stdout
        assert sandboxes.status(config)["state"] == state


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs the server as another account")
def test_root_needs_a_data_dir_the_server_account_can_reach(
    sandboxes: SandboxEnv, tmp_path: Path
) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    config = sandboxes.write_config()
    proc = _run("start", "--connconfig", str(config), "--data-dir", str(private / "sandboxes"))
    assert proc.returncode == 1
    assert "running as root, the sandbox server runs as the" in proc.stderr
    blocked = re.search(r"cannot enter (\S+) on the way to (\S+);", proc.stderr)
    assert blocked is not None, proc.stderr
    assert Path(blocked[1]) in (private, *private.parents)  # pytest's own dirs are 0700 too
    assert blocked[2] == str(private / "sandboxes")
    assert not (private / "sandboxes").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs the server as another account")
def test_root_default_data_dir_falls_back_when_unreachable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pgmonkey_cli._sandbox._paths import ROOT_FALLBACK, data_root

    account = testing.ServerAccount.for_server()
    reachable = Path(tempfile.mkdtemp(prefix="pgmonkey-sandbox-test-"))
    try:
        reachable.chmod(0o755)
        monkeypatch.setenv("XDG_DATA_HOME", str(reachable))
        assert data_root(None, account) == reachable / "pgmonkey" / "sandboxes"
        monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))  # under pytest's 0700 directory
        assert data_root(None, account) == ROOT_FALLBACK
        assert data_root(str(tmp_path), account) == tmp_path  # explicit: used as given
        assert data_root(None, None) == tmp_path / "pgmonkey" / "sandboxes"
    finally:
        shutil.rmtree(reachable)
