"""The building blocks: connect, connect_async, open_pool, open_async_pool (real server)."""

from __future__ import annotations

import socket
import time
from typing import Any

import psycopg
import pytest
from psycopg import pq

from pgmonkey.config import load_config
from pgmonkey.connections import connect, connect_async, open_async_pool, open_pool
from pgmonkey.errors import ConfigValidationError, DatabaseConnectionError, SessionSettingError

SETTINGS = {
    "statement_timeout": "1234",
    "lock_timeout": "2s",
    "work_mem": "8MB",
    "search_path": '"$user", public, pg_catalog',
}


def _with(cfg: dict[str, Any], **sections: Any) -> dict[str, Any]:
    out = {**cfg, **sections}
    return out


def _show(conn: psycopg.Connection[Any]) -> dict[str, str]:
    return {name: conn.execute(f"SHOW {name}").fetchone()[0] for name in SETTINGS}  # type: ignore[index]


EXPECTED = {
    "statement_timeout": "1234ms",
    "lock_timeout": "2s",
    "work_mem": "8MB",
    "search_path": '"$user", public, pg_catalog',
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- connect -------------------------------------------------------------------------------


def test_connect_applies_sync_settings_and_they_survive_rollback(
    pg_database: dict[str, Any],
) -> None:
    cfg = _with(pg_database, sync_settings=SETTINGS, async_settings={"work_mem": "1MB"})
    with connect(cfg) as conn:
        assert conn.info.transaction_status == pq.TransactionStatus.IDLE
        assert not conn.autocommit
        assert _show(conn) == EXPECTED
        conn.rollback()
        assert _show(conn) == EXPECTED
        conn.execute("SELECT 1")
        conn.rollback()
        assert _show(conn) == EXPECTED


def test_connect_merges_user_options(pg_database: dict[str, Any]) -> None:
    cfg = dict(pg_database)
    cfg["connection_settings"] = {**cfg["connection_settings"], "options": "-c lock_timeout=7s"}
    cfg["sync_settings"] = {"statement_timeout": "99"}
    with connect(cfg) as conn:
        assert conn.execute("SHOW lock_timeout").fetchone() == ("7s",)
        assert conn.execute("SHOW statement_timeout").fetchone() == ("99ms",)


def test_connect_value_with_spaces_and_backslashes(pg_database: dict[str, Any]) -> None:
    cfg = _with(pg_database, sync_settings={"pgmonkey.note": "a b\\c\td"})
    with connect(cfg) as conn:
        assert conn.execute("SELECT current_setting('pgmonkey.note')").fetchone() == ("a b\\c\td",)


def test_connect_autocommit(pg_database: dict[str, Any]) -> None:
    cfg = dict(pg_database)
    cfg["connection_settings"] = {**cfg["connection_settings"], "autocommit": True}
    with connect(cfg) as conn:
        assert conn.autocommit
    with connect(cfg, autocommit=False) as conn:
        assert not conn.autocommit
    with connect(pg_database, autocommit=True) as conn:
        assert conn.autocommit


@pytest.mark.parametrize(
    ("setting", "value", "fragment"),
    [
        ("statement_timeout", "abc", 'invalid value for parameter "statement_timeout"'),
        ("no_such_setting", "1", 'unrecognized configuration parameter "no_such_setting"'),
        ("work_mem", "1", 'outside the valid range for parameter "work_mem"'),
    ],
)
def test_connect_invalid_setting_fails_loudly(
    pg_database: dict[str, Any], setting: str, value: str, fragment: str
) -> None:
    cfg = _with(pg_database, sync_settings={"lock_timeout": "1s", setting: value})
    with pytest.raises(SessionSettingError) as info:
        connect(cfg)
    assert info.value.setting == setting
    assert f"sync_settings.{setting}" in str(info.value)
    assert fragment in str(info.value)
    assert pg_database["connection_settings"]["password"] not in str(info.value)


def test_connect_bad_setting_name_rejected_before_connecting(pg_database: dict[str, Any]) -> None:
    cfg = _with(pg_database, sync_settings={"work_mem=1 -c x": "1"})
    with pytest.raises(
        (SessionSettingError, ConfigValidationError), match="not a valid PostgreSQL"
    ):
        connect(cfg)
    for hostile in ("work_mem=1 -c x", "work_mem\n", "\nwork_mem"):
        normal = load_config(pg_database)
        normal["sync_settings"] = {hostile: "1"}
        with pytest.raises(SessionSettingError, match="not a valid PostgreSQL parameter name"):
            connect(normal)


def test_connect_wrong_password(pg_database: dict[str, Any]) -> None:
    cfg = dict(pg_database)
    cfg["connection_settings"] = {**cfg["connection_settings"], "password": "wrong-Secret-9"}
    with pytest.raises(DatabaseConnectionError) as info:
        connect(cfg)
    assert not isinstance(info.value, SessionSettingError)
    assert "password authentication failed" in str(info.value)
    assert "wrong-Secret-9" not in str(info.value)


async def test_connect_async_applies_async_settings(pg_database: dict[str, Any]) -> None:
    cfg = _with(pg_database, async_settings=SETTINGS, sync_settings={"work_mem": "1MB"})
    conn = await connect_async(cfg)
    try:
        assert not conn.autocommit
        for name, expected in EXPECTED.items():
            cur = await conn.execute(f"SHOW {name}")
            assert (await cur.fetchone()) == (expected,)
        await conn.rollback()
        cur = await conn.execute("SHOW statement_timeout")
        assert (await cur.fetchone()) == ("1234ms",)
        assert conn.info.transaction_status == pq.TransactionStatus.INTRANS
    finally:
        await conn.close()


async def test_connect_async_autocommit_and_invalid_setting(pg_database: dict[str, Any]) -> None:
    conn = await connect_async(pg_database, autocommit=True)
    assert conn.autocommit
    await conn.close()
    with pytest.raises(SessionSettingError) as info:
        await connect_async(_with(pg_database, async_settings={"lock_timeout": "soon"}))
    assert info.value.setting == "lock_timeout"


# -- pools ---------------------------------------------------------------------------------


def test_open_pool_settings_on_every_connection(pg_database: dict[str, Any]) -> None:
    cfg = _with(
        pg_database,
        sync_settings=SETTINGS,
        pool_settings={"min_size": 3, "max_size": 3, "timeout": 10},
    )
    pool = open_pool(cfg)
    try:
        assert pool.get_stats()["pool_size"] == 3
        conns = [pool.getconn() for _ in range(3)]
        for conn in conns:
            assert _show(conn) == EXPECTED
            conn.rollback()
            assert _show(conn) == EXPECTED
            conn.rollback()
        for conn in conns:
            pool.putconn(conn)
        assert pool.get_stats().get("connections_errors", 0) == 0
    finally:
        pool.close()


def test_open_pool_autocommit_and_check(pg_database: dict[str, Any]) -> None:
    cfg = dict(pg_database)
    cfg["connection_settings"] = {**cfg["connection_settings"], "autocommit": True}
    cfg["pool_settings"] = {"min_size": 1, "max_size": 2, "timeout": 5, "check_on_checkout": True}
    pool = open_pool(cfg, name="checked")
    try:
        assert pool.name == "checked"
        with pool.connection() as conn:
            assert conn.autocommit
            assert conn.info.transaction_status == pq.TransactionStatus.IDLE
        assert pool._check is not None  # psycopg_pool's own check
    finally:
        pool.close()


def test_open_pool_check_hands_out_idle_connections(pg_database: dict[str, Any]) -> None:
    cfg = _with(
        pg_database, pool_settings={"min_size": 1, "max_size": 1, "check_on_checkout": True}
    )
    with open_pool(cfg) as pool:
        with pool.connection() as conn:
            assert not conn.autocommit
            assert conn.info.transaction_status == pq.TransactionStatus.IDLE
            conn.execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")


def test_open_pool_wrong_password_fails_fast(pg_database: dict[str, Any]) -> None:
    cfg = dict(pg_database)
    cfg["connection_settings"] = {**cfg["connection_settings"], "password": "wrong-Secret-9"}
    cfg["pool_settings"] = {"min_size": 2, "max_size": 4, "timeout": 30}
    start = time.monotonic()
    with pytest.raises(DatabaseConnectionError, match="password authentication failed") as info:
        open_pool(cfg)
    assert "wrong-Secret-9" not in str(info.value)
    assert time.monotonic() - start < 25  # well under the 30 s pool timeout


def test_open_pool_unreachable_host(pg_database: dict[str, Any]) -> None:
    cfg = dict(pg_database)
    port = _free_port()
    cfg["connection_settings"] = {**cfg["connection_settings"], "port": port, "connect_timeout": 2}
    with pytest.raises(DatabaseConnectionError, match=f"port={port}"):
        open_pool(cfg)


def test_open_pool_invalid_setting_no_discard_loop(pg_database: dict[str, Any]) -> None:
    cfg = _with(pg_database, sync_settings={"statement_timeout": "soon"})
    with pytest.raises(SessionSettingError, match=r"sync_settings\.statement_timeout"):
        open_pool(cfg)


async def test_open_async_pool(pg_database: dict[str, Any]) -> None:
    cfg = _with(
        pg_database,
        async_settings=SETTINGS,
        async_pool_settings={"min_size": 2, "max_size": 2, "check_on_checkout": True},
    )
    pool = await open_async_pool(cfg)
    try:
        assert pool.get_stats()["pool_size"] == 2
        async with pool.connection() as conn:
            assert conn.info.transaction_status == pq.TransactionStatus.IDLE
            cur = await conn.execute("SHOW statement_timeout")
            assert (await cur.fetchone()) == ("1234ms",)
            await conn.rollback()
            cur = await conn.execute("SHOW search_path")
            assert (await cur.fetchone()) == (EXPECTED["search_path"],)
    finally:
        await pool.close()


async def test_open_async_pool_errors(pg_database: dict[str, Any]) -> None:
    with pytest.raises(SessionSettingError) as info:
        await open_async_pool(_with(pg_database, async_settings={"work_mem": "lots"}))
    assert info.value.setting == "work_mem"
    cfg = dict(pg_database)
    cfg["connection_settings"] = {**cfg["connection_settings"], "password": "wrong-Secret-9"}
    with pytest.raises(DatabaseConnectionError, match="password authentication failed"):
        await open_async_pool(cfg)


async def test_open_async_pool_autocommit(pg_database: dict[str, Any]) -> None:
    cfg = dict(pg_database)
    cfg["connection_settings"] = {**cfg["connection_settings"], "autocommit": True}
    pool = await open_async_pool(cfg, name="apool", min_size=1)
    try:
        assert pool.name == "apool"
        async with pool.connection() as conn:
            assert conn.autocommit
    finally:
        await pool.close()


# -- test_connection() and transaction() on the four wrapper types ---------------------------


async def test_test_connection_and_transaction_on_every_type(pg_database: dict[str, Any]) -> None:
    from pgmonkey.connections import (
        AsyncConnection,
        AsyncConnectionPool,
        Connection,
        ConnectionPool,
    )

    for sync_cls in (Connection, ConnectionPool):
        obj = sync_cls(pg_database)
        obj.test_connection()
        with obj.transaction() as c:
            c.execute("CREATE TABLE IF NOT EXISTS tc (n int)")
            c.execute("INSERT INTO tc VALUES (1)")
        obj.disconnect()
    for async_cls in (AsyncConnection, AsyncConnectionPool):
        aobj = async_cls(pg_database)
        await aobj.test_connection()
        async with aobj.transaction() as ac:
            await ac.execute("INSERT INTO tc VALUES (2)")
        await aobj.disconnect()
    with psycopg.connect(**pg_database["connection_settings"]) as check:
        assert check.execute("SELECT sum(n) FROM tc").fetchone() == (6,)


def test_test_connection_failure_names_the_target(pg_database: dict[str, Any]) -> None:
    from pgmonkey.connections import Connection

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free_port = s.getsockname()[1]
    cfg = _with(pg_database)
    cfg["connection_settings"] = {**cfg["connection_settings"], "port": free_port}
    with pytest.raises(DatabaseConnectionError, match=f"port={free_port}"):
        Connection(cfg).test_connection()
