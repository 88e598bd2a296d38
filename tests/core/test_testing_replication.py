"""A primary with a streaming standby (pg_basebackup -R), and promotion."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from pgmonkey.errors import TestServerError
from pgmonkey.testing import PostgresServer, start_server


@pytest.fixture(scope="module")
def primary() -> Iterator[PostgresServer]:
    with start_server(replication=True, roles={"app": "app-pw"}) as server:
        server.execute("CREATE TABLE items (id int PRIMARY KEY, name text)")
        yield server


@pytest.fixture(scope="module")
def standby(primary: PostgresServer) -> PostgresServer:
    return primary.start_standby()  # closed with the primary


def test_primary_has_replication_settings(primary: PostgresServer) -> None:
    assert primary.execute("SHOW wal_level") == [("replica",)]
    assert primary.in_recovery is False


def test_standby_streams_from_the_primary(
    primary: PostgresServer, standby: PostgresServer
) -> None:
    assert standby.primary is primary
    assert standby.port != primary.port
    assert standby.in_recovery is True
    rows = primary.execute("SELECT state, sync_state FROM pg_stat_replication")
    assert rows == [("streaming", "async")]


def test_data_written_on_the_primary_is_visible_on_the_standby(
    primary: PostgresServer, standby: PostgresServer
) -> None:
    primary.execute("INSERT INTO items VALUES (1, 'written on the primary')")
    standby.wait_for_replay()
    assert standby.execute("SELECT name FROM items WHERE id = 1") == [("written on the primary",)]


def test_standby_knows_the_roles_and_refuses_writes(standby: PostgresServer) -> None:
    cfg = standby.config(user="app")
    assert cfg["connection_settings"]["port"] == standby.port
    from psycopg.conninfo import make_conninfo

    with psycopg.connect(make_conninfo("", **cfg["connection_settings"])) as conn:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("INSERT INTO items VALUES (2, 'no')")


def test_promoted_standby_accepts_writes(primary: PostgresServer) -> None:
    with primary.start_standby() as second:
        primary.execute("INSERT INTO items VALUES (10, 'before promotion')")
        second.wait_for_replay()
        second.promote()
        assert second.primary is None
        assert second.in_recovery is False
        second.execute("INSERT INTO items VALUES (11, 'after promotion')")
        assert second.execute("SELECT id FROM items WHERE id >= 10 ORDER BY id") == [(10,), (11,)]
        # the old primary does not see writes of the promoted server
        assert primary.execute("SELECT count(*) FROM items WHERE id = 11") == [(0,)]
        workdir = second.workdir
    assert not workdir.exists()


def test_promoting_a_primary_fails_clearly(primary: PostgresServer) -> None:
    with pytest.raises(TestServerError, match="promote"):
        primary.promote()


def test_wait_for_replay_on_a_primary_is_an_error(primary: PostgresServer) -> None:
    with pytest.raises(TestServerError, match="not a standby"):
        primary.wait_for_replay()


def test_standby_of_a_minimal_wal_server_is_refused() -> None:
    with start_server(settings={"wal_level": "minimal", "max_wal_senders": 0}) as server:
        with pytest.raises(TestServerError, match=r"replication=True"):
            server.start_standby()
