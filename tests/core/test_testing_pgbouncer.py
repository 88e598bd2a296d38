"""start_pgbouncer(): a real PgBouncer in front of a throwaway server."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from pgmonkey import testing
from pgmonkey.errors import TestServerError
from pgmonkey.testing import PgBouncer, PostgresServer


def _connect(cfg: dict[str, Any]) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(make_conninfo("", **cfg["connection_settings"]), autocommit=True)


def test_query_through_pgbouncer(pg_bouncer: PgBouncer, pg_database: dict[str, Any]) -> None:
    dbname = pg_database["connection_settings"]["dbname"]
    cfg = pg_bouncer.config(dbname=dbname)
    assert cfg["connection_settings"]["port"] == pg_bouncer.port
    assert cfg["connection_settings"]["port"] != pg_bouncer.server.port
    with _connect(cfg) as conn:
        row = conn.execute("SELECT current_database(), %s::int + 1", [41]).fetchone()
    assert row == (dbname, 42)
    pools = [p for p in pg_bouncer.show("POOLS") if p["database"] == dbname]
    assert [p["pool_mode"] for p in pools] == ["transaction"]


def test_server_sees_pgbouncer_as_the_client(pg_bouncer: PgBouncer) -> None:
    with pg_bouncer.connect() as conn:
        row = conn.execute("SELECT inet_server_port()").fetchone()
    assert row == (pg_bouncer.server.port,)


def test_add_user_lets_a_new_role_in(pg_bouncer: PgBouncer, pg_server: PostgresServer) -> None:
    pg_server.create_role("bouncer_newcomer", password="nc-pw")
    with pytest.raises(psycopg.OperationalError):
        _connect(pg_bouncer.config(user="bouncer_newcomer", password="nc-pw"))
    pg_bouncer.add_user("bouncer_newcomer", "nc-pw")
    with _connect(pg_bouncer.config(user="bouncer_newcomer")) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("bouncer_newcomer",)


def test_wrong_password_is_refused_by_pgbouncer(pg_bouncer: PgBouncer) -> None:
    with pytest.raises(psycopg.OperationalError, match="SASL authentication failed"):
        _connect(pg_bouncer.config(password="not-the-password"))


def test_session_mode_and_settings(pg_server: PostgresServer) -> None:
    testing.require_pgbouncer()
    with testing.start_pgbouncer(
        pg_server, "session", settings={"default_pool_size": 3}
    ) as bouncer:
        assert "default_pool_size = 3" in bouncer.ini_file.read_text()
        with bouncer.connect() as conn:
            conn.execute("SET application_name = 'kept in session mode'")
            assert conn.execute("SHOW application_name").fetchone() == ("kept in session mode",)
        workdir = bouncer.workdir
    assert not workdir.exists()


def test_pgbouncer_in_front_of_an_ssl_server(pg_ssl_server: PostgresServer) -> None:
    testing.require_pgbouncer()
    with testing.start_pgbouncer(pg_ssl_server) as bouncer:
        with bouncer.connect() as conn:
            row = conn.execute(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
            ).fetchone()
    assert row == (True,)  # PgBouncer -> server is TLS, verified against the throwaway CA


def test_bad_pool_mode_is_refused(pg_server: PostgresServer) -> None:
    with pytest.raises(TestServerError, match="pool_mode must be one of"):
        testing.start_pgbouncer(pg_server, "sometimes")


def test_repr_shows_no_password(pg_bouncer: PgBouncer) -> None:
    assert pg_bouncer.users
    for secret in pg_bouncer.users.values():
        assert secret not in repr(pg_bouncer)


def test_missing_executable_is_a_clear_error(pg_server: PostgresServer, tmp_path: Path) -> None:
    missing = tmp_path / "pgbouncer"
    assert testing.find_pgbouncer(missing) is None
    with pytest.raises(TestServerError, match="no usable pgbouncer executable"):
        testing.start_pgbouncer(pg_server, executable=missing)


def test_killed_process_leaves_no_pgbouncer(pg_server: PostgresServer) -> None:
    testing.require_pgbouncer()
    script = textwrap.dedent(
        f"""
        import os
        from pgmonkey.testing import ExternalServer, start_pgbouncer
        server = ExternalServer.from_dsn({pg_server.conninfo()!r})
        bouncer = start_pgbouncer(server)
        print(bouncer.workdir, bouncer.port, flush=True)
        os.kill(os.getpid(), 9)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    workdir_text, port_text = proc.stdout.split()
    workdir = Path(workdir_text)
    assert workdir.name.startswith("pgmonkey-bouncer-")
    deadline = time.monotonic() + 30
    while workdir.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not workdir.exists()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", int(port_text)), timeout=2).close()
