"""The throwaway servers of pgmonkey.testing are real, and they go away."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from pgmonkey.errors import TestServerError
from pgmonkey.testing import PostgresServer, start_server


def _connect(cfg: dict[str, Any]) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(make_conninfo("", **cfg["connection_settings"]), autocommit=True)


def test_server_answers_queries_over_tcp(pg_server: PostgresServer) -> None:
    rows = pg_server.execute("SELECT current_user, inet_server_port()")
    assert rows == [("postgres", pg_server.port)]


def test_pg_database_is_fresh_and_dropped(pg_server: PostgresServer) -> None:
    names = {r[0] for r in pg_server.execute("SELECT datname FROM pg_database")}
    assert not any(n.startswith("pgmonkey_test_") for n in names)


def test_pg_database_config_connects_to_its_own_database(pg_database: dict[str, Any]) -> None:
    with _connect(pg_database) as conn:
        row = conn.execute("SELECT current_database(), current_user").fetchone()
    assert row is not None
    assert row[0].startswith("pgmonkey_test_")
    assert row[1] == "postgres"


def test_unix_socket_config_connects(pg_server: PostgresServer) -> None:
    cfg = pg_server.config(unix_socket=True)
    assert cfg["connection_settings"]["host"] == str(pg_server.socket_dir)
    with _connect(cfg) as conn:
        assert conn.execute("SELECT inet_server_port()").fetchone() == (None,)


@pytest.fixture(scope="module")
def server_with_roles() -> Iterator[PostgresServer]:
    with start_server(
        roles={"alice": "alice-pw", "nopass": None},
        databases={"appdb": "alice", "plaindb": None},
        settings={"work_mem": "8MB", "application_name": "it's quoted"},
    ) as server:
        yield server


def test_extra_roles_log_in_with_their_password(server_with_roles: PostgresServer) -> None:
    cfg = server_with_roles.config(user="alice", dbname="appdb")
    assert cfg["connection_settings"]["password"] == "alice-pw"
    with _connect(cfg) as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == (
            "alice",
            "appdb",
        )


def test_wrong_password_is_refused(server_with_roles: PostgresServer) -> None:
    cfg = server_with_roles.config(user="alice", password="wrong")
    with pytest.raises(
        psycopg.OperationalError, match='password authentication failed for user "alice"'
    ):
        _connect(cfg)


def test_role_without_password_cannot_use_tcp(server_with_roles: PostgresServer) -> None:
    cfg = server_with_roles.config(user="nopass")
    assert "password" not in cfg["connection_settings"]
    with pytest.raises(psycopg.OperationalError):
        _connect(cfg)
    with _connect(server_with_roles.config(user="nopass", unix_socket=True)) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("nopass",)


def test_extra_databases_have_their_owners(server_with_roles: PostgresServer) -> None:
    rows = server_with_roles.execute(
        "SELECT datname, pg_get_userbyid(datdba) FROM pg_database"
        " WHERE datname IN ('appdb', 'plaindb') ORDER BY 1"
    )
    assert rows == [("appdb", "alice"), ("plaindb", "postgres")]
    assert server_with_roles.databases == ["appdb", "plaindb"]


def test_settings_reach_postgresql_conf(server_with_roles: PostgresServer) -> None:
    assert server_with_roles.execute("SHOW work_mem") == [("8MB",)]
    assert server_with_roles.execute("SHOW application_name") == [("it's quoted",)]
    assert server_with_roles.execute("SHOW password_encryption") == [("scram-sha-256",)]


def test_restart_keeps_roles_and_data(server_with_roles: PostgresServer) -> None:
    server_with_roles.execute("CREATE TABLE IF NOT EXISTS kept (x int)", dbname="plaindb")
    server_with_roles.restart()
    assert server_with_roles.running
    assert server_with_roles.execute("SELECT count(*) FROM kept", dbname="plaindb") == [(0,)]


def test_ssl_config_on_a_plain_server_is_an_error(pg_server: PostgresServer) -> None:
    with pytest.raises(TestServerError, match=r"start_server\(ssl=True\)"):
        pg_server.config(ssl=True)
    with pytest.raises(TestServerError, match="cert_config"):
        pg_server.cert_config()


def test_roles_must_not_be_a_bare_string() -> None:
    with pytest.raises(TestServerError, match="roles"):
        start_server(roles="alice")


def test_closed_server_is_gone() -> None:
    server = start_server()
    workdir = server.workdir
    port = server.port
    server.close()
    assert not workdir.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(host="127.0.0.1", port=port, user="postgres", connect_timeout=2)


def test_killed_process_leaves_no_server(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import os
        from pgmonkey.testing import start_server
        server = start_server()
        print(server.workdir, flush=True)
        os.kill(os.getpid(), 9)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    workdir = Path(proc.stdout.strip())
    assert workdir.name.startswith("pgmonkey-pg-")
    deadline = time.monotonic() + 30
    while workdir.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not workdir.exists()


def test_repr_shows_no_password(server_with_roles: PostgresServer) -> None:
    text = repr(server_with_roles)
    assert server_with_roles.password not in text
    assert "alice-pw" not in text


def test_exit_of_a_forked_child_does_not_close_the_parents_server(
    pg_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pgmonkey.testing import _cleanup

    if not isinstance(pg_server, PostgresServer):
        pytest.skip("pg_server is an external server")
    monkeypatch.setattr(_cleanup, "_LIVE", dict(_cleanup._LIVE))
    assert id(pg_server) in _cleanup._LIVE
    with monkeypatch.context() as m:
        m.setattr(os, "getpid", lambda: -1)  # as seen from a forked child
        _cleanup._close_leftovers()
    assert pg_server.running
    assert pg_server.execute("SELECT 1") == [(1,)]
