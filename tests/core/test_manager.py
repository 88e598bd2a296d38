"""PGConnectionManager and the four connection types against a real server."""

# ruff: noqa: PT012  (blocks that must fail contain the block, on purpose)

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import pq

from pgmonkey import PGConnectionManager
from pgmonkey.connections import (
    AsyncConnection,
    AsyncConnectionPool,
    Connection,
    ConnectionPool,
    PGAsyncPoolConnection,
    PGNormalConnection,
)
from pgmonkey.errors import ConfigError, DatabaseConnectionError, SessionSettingError
from tests.core._manager_helpers import write_config

SYNC = {"statement_timeout": "4321", "search_path": "app, public", "work_mem": "6MB"}
ASYNC = {"statement_timeout": "8765", "lock_timeout": "3s"}


@pytest.fixture
def manager(pg_database: dict[str, Any]) -> Iterator[PGConnectionManager]:
    m = PGConnectionManager()
    m.clear_cache()
    yield m
    m.clear_cache()


@pytest.fixture
def cfg(pg_database: dict[str, Any], manager: PGConnectionManager) -> dict[str, Any]:
    return {
        **pg_database,
        "sync_settings": dict(SYNC),
        "async_settings": dict(ASYNC),
        "pool_settings": {"min_size": 1, "max_size": 4, "timeout": 10},
        "async_pool_settings": {"min_size": 1, "max_size": 4, "timeout": 10},
    }


@pytest.fixture
def cfg_file(cfg: dict[str, Any], tmp_path: Path) -> Path:
    return write_config(tmp_path / "pgmonkey.yaml", cfg)


# -- README-style usage, all four types -----------------------------------------------------


def test_readme_normal(manager: PGConnectionManager, cfg_file: Path) -> None:
    conn = manager.get_database_connection(str(cfg_file), "normal")
    assert isinstance(conn, Connection)
    with conn as c:
        assert isinstance(c, psycopg.Connection)
        with c.cursor() as cur:
            cur.execute("SELECT version()")
            row = cur.fetchone()
            assert row is not None
            assert "PostgreSQL" in row[0]
    with conn as c:  # the connection stays usable after a block
        assert c.execute("SELECT 1").fetchone() == (1,)


def test_readme_pool(manager: PGConnectionManager, cfg_file: Path) -> None:
    pool = manager.get_database_connection(str(cfg_file), "pool")
    assert isinstance(pool, ConnectionPool)
    with pool as c:
        assert isinstance(c, psycopg.Connection)
        c.execute("CREATE TABLE t (x int)")
        with c.cursor() as cur, cur.copy("COPY t FROM STDIN") as copy:
            copy.write_row((1,))
    with pool as c, c.transaction():
        assert c.execute("SELECT count(*) FROM t").fetchone() == (1,)


async def test_readme_async(manager: PGConnectionManager, cfg_file: Path) -> None:
    conn = await manager.get_database_connection(str(cfg_file), "async")
    assert isinstance(conn, AsyncConnection)
    async with conn as c:
        assert isinstance(c, psycopg.AsyncConnection)
        async with c.cursor() as cur:
            await cur.execute("SELECT 1")
            assert await cur.fetchone() == (1,)


async def test_readme_async_pool(manager: PGConnectionManager, cfg_file: Path) -> None:
    pool = await manager.get_database_connection(str(cfg_file), "async_pool")
    assert isinstance(pool, AsyncConnectionPool)
    async with pool as c:
        assert isinstance(c, psycopg.AsyncConnection)
        cur = await c.execute("SELECT 1")
        assert await cur.fetchone() == (1,)
    await manager.clear_cache_async()


def test_legacy_names() -> None:
    assert PGNormalConnection is Connection
    assert PGAsyncPoolConnection is AsyncConnectionPool


# -- type resolution ------------------------------------------------------------------------


def test_type_resolution(
    manager: PGConnectionManager, cfg: dict[str, Any], tmp_path: Path
) -> None:
    path = str(write_config(tmp_path / "c.yaml", cfg, connection_type="pool"))
    assert isinstance(manager.get_database_connection(path), ConnectionPool)
    assert isinstance(manager.get_database_connection(path, "normal"), Connection)
    path2 = str(
        write_config(tmp_path / "d.yaml", {k: v for k, v in cfg.items() if k != "connection_type"})
    )
    assert isinstance(manager.get_database_connection(path2), Connection)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Unsupported connection type: 'bogus'. Valid types: normal, pool, async, async_pool"
        ),
    ):
        manager.get_database_connection(path, "bogus")
    with pytest.raises(ConfigError):
        manager.get_database_connection_from_dict(cfg, "bogus")


# -- session settings -----------------------------------------------------------------------


def _show(c: psycopg.Connection[Any], names: dict[str, str]) -> dict[str, str]:
    return {n: c.execute(f"SHOW {n}").fetchone()[0] for n in names}  # type: ignore[index]


def test_sync_settings_normal_and_every_pooled_connection(
    manager: PGConnectionManager, cfg: dict[str, Any]
) -> None:
    expected = {"statement_timeout": "4321ms", "search_path": "app, public", "work_mem": "6MB"}
    conn = manager.get_database_connection_from_dict(cfg, "normal")
    with conn as c:
        assert _show(c, SYNC) == expected
        c.rollback()
        assert _show(c, SYNC) == expected
    pool = manager.get_database_connection_from_dict(cfg, "pool")
    with pool as a, pool as b, pool as c2, pool as d:
        pids = set()
        for x in (a, b, c2, d):
            assert _show(x, SYNC) == expected
            x.rollback()
            assert _show(x, SYNC) == expected
            pids.add(x.info.backend_pid)
        assert len(pids) == 4
    assert pool.pool.get_stats().get("connections_errors", 0) == 0


async def test_async_settings_async_and_async_pool(
    manager: PGConnectionManager, cfg: dict[str, Any]
) -> None:
    for ctype in ("async", "async_pool"):
        obj = await manager.get_database_connection_from_dict(cfg, ctype)
        async with obj as c:
            await c.rollback()
            cur = await c.execute("SHOW statement_timeout")
            assert await cur.fetchone() == ("8765ms",)
            cur = await c.execute("SHOW lock_timeout")
            assert await cur.fetchone() == ("3s",)
            cur = await c.execute("SHOW work_mem")  # sync_settings do not apply here
            assert await cur.fetchone() != ("6MB",)


@pytest.mark.parametrize("ctype", ["normal", "pool", "async", "async_pool"])
async def test_invalid_setting_fails_at_connect(
    manager: PGConnectionManager, cfg: dict[str, Any], ctype: str
) -> None:
    section = "sync_settings" if ctype in ("normal", "pool") else "async_settings"
    bad = {**cfg, section: {"statement_timeout": "1s", "lock_timeout": "whenever"}}
    with pytest.raises(SessionSettingError) as info:
        result = manager.get_database_connection_from_dict(bad, ctype)
        if ctype.startswith("async"):
            await result
    assert info.value.setting == "lock_timeout"
    assert f"{section}.lock_timeout" in str(info.value)
    assert manager.cache_info["size"] == 0


# -- autocommit and check_on_checkout -------------------------------------------------------


async def test_autocommit_all_four_types(
    manager: PGConnectionManager, cfg: dict[str, Any]
) -> None:
    ac = {**cfg, "connection_settings": {**cfg["connection_settings"], "autocommit": True}}
    for ctype in ("normal", "pool"):
        with manager.get_database_connection_from_dict(ac, ctype) as c:
            assert c.autocommit
            c.execute("SELECT 1")
            assert c.info.transaction_status == pq.TransactionStatus.IDLE
    for ctype in ("async", "async_pool"):
        obj = await manager.get_database_connection_from_dict(ac, ctype)
        async with obj as c:
            assert c.autocommit
    with manager.get_database_connection_from_dict(cfg, "pool") as c:
        assert not c.autocommit


async def test_check_on_checkout_hands_out_idle(
    manager: PGConnectionManager, cfg: dict[str, Any]
) -> None:
    checked = {
        **cfg,
        "pool_settings": {"min_size": 1, "max_size": 1, "check_on_checkout": True},
        "async_pool_settings": {"min_size": 1, "max_size": 1, "check_on_checkout": True},
    }
    pool = manager.get_database_connection_from_dict(checked, "pool")
    assert pool.pool._check is not None
    for _ in range(2):
        with pool as c:
            assert c.info.transaction_status == pq.TransactionStatus.IDLE
            c.execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
    apool = await manager.get_database_connection_from_dict(checked, "async_pool")
    async with apool as c:
        assert c.info.transaction_status == pq.TransactionStatus.IDLE
        await c.execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")


# -- failures at creation -------------------------------------------------------------------


@pytest.mark.parametrize("ctype", ["normal", "pool", "async", "async_pool"])
async def test_wrong_password_clear_error(
    manager: PGConnectionManager, cfg: dict[str, Any], ctype: str
) -> None:
    bad = {
        **cfg,
        "connection_settings": {**cfg["connection_settings"], "password": "Nope-Secret-77"},
    }
    bad["pool_settings"] = {"min_size": 2, "timeout": 30}
    bad["async_pool_settings"] = {"min_size": 2, "timeout": 30}
    with pytest.raises(DatabaseConnectionError, match="password authentication failed") as info:
        result = manager.get_database_connection_from_dict(bad, ctype)
        if ctype.startswith("async"):
            await result
    assert "Nope-Secret-77" not in str(info.value)


# -- nesting --------------------------------------------------------------------------------


def test_pool_nesting_keeps_outer_work(manager: PGConnectionManager, cfg: dict[str, Any]) -> None:
    pool = manager.get_database_connection_from_dict(cfg, "pool")
    with pool as c:
        c.execute("CREATE TABLE t (x int)")
    with pool as a:
        a.execute("INSERT INTO t VALUES (1)")
        with pool as b:
            assert b is not a
            b.execute("INSERT INTO t VALUES (2)")
        with pytest.raises(ZeroDivisionError), pool as b2:
            b2.execute("INSERT INTO t VALUES (3)")
            raise ZeroDivisionError
        a.execute("INSERT INTO t VALUES (4)")
        with pool.cursor() as cur:  # the innermost block's connection
            cur.execute("SELECT 1")
    with pool as c:
        assert c.execute("SELECT array_agg(x ORDER BY x) FROM t").fetchone() == ([1, 2, 4],)


def test_normal_nesting_is_a_savepoint(manager: PGConnectionManager, cfg: dict[str, Any]) -> None:
    conn = manager.get_database_connection_from_dict(cfg, "normal")
    with conn as c:
        c.execute("CREATE TABLE t (x int)")
    with conn as a:
        a.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(psycopg.errors.DivisionByZero), conn as b:
            b.execute("INSERT INTO t VALUES (2)")
            b.execute("SELECT 1/0")
        with conn as b:
            b.execute("INSERT INTO t VALUES (3)")
        a.execute("INSERT INTO t VALUES (4)")
    with conn as c:
        assert c.execute("SELECT array_agg(x ORDER BY x) FROM t").fetchone() == ([1, 3, 4],)
    with pytest.raises(RuntimeError), conn as c:
        c.execute("INSERT INTO t VALUES (5)")
        raise RuntimeError
    with conn.transaction() as c:
        assert c.execute("SELECT count(*) FROM t WHERE x = 5").fetchone() == (0,)


async def test_async_nesting(manager: PGConnectionManager, cfg: dict[str, Any]) -> None:
    pool = await manager.get_database_connection_from_dict(cfg, "async_pool")
    conn = await manager.get_database_connection_from_dict(cfg, "async")
    async with pool as c:
        await c.execute("CREATE TABLE t (x int)")
    async with pool as a:
        await a.execute("INSERT INTO t VALUES (1)")
        async with pool as b:
            await b.execute("INSERT INTO t VALUES (2)")
        async with conn as n:
            await n.execute("INSERT INTO t VALUES (3)")
            with pytest.raises(psycopg.errors.DivisionByZero):
                async with conn as inner:
                    await inner.execute("INSERT INTO t VALUES (4)")
                    await inner.execute("SELECT 1/0")
    async with pool.transaction() as c:
        cur = await c.execute("SELECT array_agg(x ORDER BY x) FROM t")
        assert await cur.fetchone() == ([1, 2, 3],)


# -- concurrency ----------------------------------------------------------------------------


@pytest.mark.parametrize("ctype", ["pool", "normal"])
def test_64_threads(manager: PGConnectionManager, cfg: dict[str, Any], ctype: str) -> None:
    obj = manager.get_database_connection_from_dict(cfg, ctype)
    with obj as c:
        c.execute("CREATE TABLE t (tid int, n int)")
    errors: list[BaseException] = []
    start = threading.Barrier(64)

    def work(tid: int) -> None:
        try:
            start.wait()
            same = manager.get_database_connection_from_dict(cfg, ctype)
            assert same is obj
            for n in range(5):
                with same as c:
                    c.execute("INSERT INTO t VALUES (%s, %s)", (tid, n))
                    assert c.execute(
                        "SELECT count(*) FROM t WHERE tid = %s", (tid,)
                    ).fetchone() == (n + 1,)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with obj as c:
        assert c.execute("SELECT count(*), count(DISTINCT tid) FROM t").fetchone() == (320, 64)


@pytest.mark.parametrize("ctype", ["async_pool", "async"])
async def test_64_tasks(manager: PGConnectionManager, cfg: dict[str, Any], ctype: str) -> None:
    obj = await manager.get_database_connection_from_dict(cfg, ctype)
    async with obj as c:
        await c.execute("CREATE TABLE t (tid int, n int)")

    async def work(tid: int) -> None:
        same = await manager.get_database_connection_from_dict(cfg, ctype)
        assert same is obj
        for n in range(3):
            async with same as c:
                await c.execute("INSERT INTO t VALUES (%s, %s)", (tid, n))
                await asyncio.sleep(0)
                cur = await c.execute("SELECT count(*) FROM t WHERE tid = %s", (tid,))
                assert await cur.fetchone() == (n + 1,)

    await asyncio.gather(*(work(i) for i in range(64)))
    async with obj as c:
        cur = await c.execute("SELECT count(*), count(DISTINCT tid) FROM t")
        assert await cur.fetchone() == (192, 64)


def test_concurrent_first_calls_open_one_pool(
    manager: PGConnectionManager, cfg: dict[str, Any]
) -> None:
    got: list[Any] = []
    start = threading.Barrier(16)

    def work() -> None:
        start.wait()
        got.append(manager.get_database_connection_from_dict(cfg, "pool"))

    threads = [threading.Thread(target=work) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 16
    assert len({id(x) for x in got}) == 1


# -- dead connections -----------------------------------------------------------------------


def test_terminated_normal_connection_is_replaced(
    manager: PGConnectionManager, cfg: dict[str, Any], pg_server: Any
) -> None:
    conn = manager.get_database_connection_from_dict(cfg, "normal")
    with conn as c:
        pid = c.info.backend_pid
    pg_server.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
    with conn as c:
        assert c.info.backend_pid != pid
        assert c.execute("SHOW statement_timeout").fetchone() == ("4321ms",)


async def test_terminated_async_connection_is_replaced(
    manager: PGConnectionManager, cfg: dict[str, Any], pg_server: Any
) -> None:
    conn = await manager.get_database_connection_from_dict(cfg, "async")
    async with conn as c:
        pid = c.info.backend_pid
    pg_server.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
    async with conn as c:
        assert c.info.backend_pid != pid
    # killed in the middle of a block: that block fails, the next one works
    async with conn as c:
        pid = c.info.backend_pid
    with pytest.raises(psycopg.OperationalError):
        async with conn as c:
            pg_server.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
            await c.execute("SELECT 1")
    async with conn as c:
        cur = await c.execute("SELECT 1")
        assert await cur.fetchone() == (1,)


# -- the shared cache -----------------------------------------------------------------------


def test_two_managers_share_one_pool(cfg: dict[str, Any], cfg_file: Path) -> None:
    m1, m2 = PGConnectionManager(), PGConnectionManager()
    p1 = m1.get_database_connection(cfg_file, "pool")
    p2 = m2.get_database_connection(str(cfg_file), "pool")
    p3 = m2.get_database_connection_from_dict(cfg, "pool")
    assert p1 is p2 is p3
    info = m1.cache_info
    assert info["size"] == 1
    assert info["connection_types"] == {"pool": 1}
    assert info["entries"][0]["host"] == cfg["connection_settings"]["host"]
    assert cfg["connection_settings"]["password"] not in repr(info)
    assert cfg["connection_settings"]["password"] not in repr(p1)


def test_force_reload_does_not_break_blocks_in_use(
    manager: PGConnectionManager, cfg: dict[str, Any]
) -> None:
    for ctype in ("pool", "normal"):
        old = manager.get_database_connection_from_dict(cfg, ctype)
        with old as c:
            new = manager.get_database_connection_from_dict(cfg, ctype, force_reload=True)
            assert new is not old
            assert c.execute("SELECT 1").fetchone() == (1,)  # still fine
        assert manager.get_database_connection_from_dict(cfg, ctype) is new
        with new as c:
            assert c.execute("SELECT 2").fetchone() == (2,)
    assert manager.cache_info["size"] == 2


def test_changed_file_gives_a_new_object(
    manager: PGConnectionManager, cfg: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    write_config(path, cfg)
    first = manager.get_database_connection(path, "normal")
    assert manager.get_database_connection(path, "normal") is first
    write_config(path, cfg, sync_settings={"statement_timeout": "777"})
    second = manager.get_database_connection(path, "normal")
    assert second is not first
    with second as c:
        assert c.execute("SHOW statement_timeout").fetchone() == ("777ms",)


async def test_async_with_manager_closes(cfg: dict[str, Any], pg_server: Any) -> None:
    async with PGConnectionManager() as m:
        pool = await m.get_database_connection_from_dict(cfg, "async_pool")
        conn = await m.get_database_connection_from_dict(cfg, "async")
        async with pool as c:
            await c.execute("SELECT 1")
        async with conn as c:
            await c.execute("SELECT 1")
        assert m.cache_info["size"] == 2
    assert m.cache_info["size"] == 0
    assert pool.closed
    assert conn.connection is None
    dbname = cfg["connection_settings"]["dbname"]
    rows = pg_server.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (dbname,))
    assert rows == [(0,)]


def test_clear_cache_closes_everything(
    manager: PGConnectionManager, cfg: dict[str, Any], pg_server: Any
) -> None:
    manager.get_database_connection_from_dict(cfg, "pool")
    with manager.get_database_connection_from_dict(cfg, "normal") as c:
        c.execute("SELECT 1")
    manager.clear_cache()
    dbname = cfg["connection_settings"]["dbname"]
    rows = pg_server.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (dbname,))
    assert rows == [(0,)]
    assert manager.cache_info == {"size": 0, "connection_types": {}, "entries": []}


# -- logging --------------------------------------------------------------------------------


async def test_logging_has_no_secret(
    manager: PGConnectionManager, cfg: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pgmonkey")
    for ctype in ("normal", "pool"):
        with manager.get_database_connection_from_dict(cfg, ctype) as c:
            c.execute("SELECT 1")
    for ctype in ("async", "async_pool"):
        async with await manager.get_database_connection_from_dict(cfg, ctype) as c:
            await c.execute("SELECT 1")
    await manager.clear_cache_async()
    assert caplog.records
    password = cfg["connection_settings"]["password"]
    for record in caplog.records:
        if record.name.startswith("pgmonkey"):
            assert password not in record.getMessage()
    assert {r.name for r in caplog.records if r.name.startswith("pgmonkey")} <= {
        "pgmonkey",
        "pgmonkey.manager",
        "pgmonkey.connections",
        "pgmonkey.config",
    }


# -- repr: the real state, never a secret ---------------------------------------------------


def test_sync_reprs_tell_the_real_state(cfg: dict[str, Any]) -> None:
    from pgmonkey.connections import Connection, ConnectionPool

    password = cfg["connection_settings"]["password"]
    for cls in (Connection, ConnectionPool):
        obj = cls(cfg)
        assert repr(obj).endswith("(not opened yet)>"), repr(obj)
        assert obj.state == "not opened yet"
        with obj as conn:
            conn.execute("SELECT 1")
        assert repr(obj).endswith("(open)>"), repr(obj)
        obj.disconnect()
        assert repr(obj).endswith("(closed)>"), repr(obj)
        assert f"dbname={cfg['connection_settings']['dbname']}" in repr(obj)
        assert password not in repr(obj)


async def test_async_reprs_tell_the_real_state(cfg: dict[str, Any]) -> None:
    from pgmonkey.connections import AsyncConnection, AsyncConnectionPool

    password = cfg["connection_settings"]["password"]
    for cls in (AsyncConnection, AsyncConnectionPool):
        obj = cls(cfg)
        assert repr(obj).endswith("(not opened yet)>"), repr(obj)
        async with obj as conn:
            await conn.execute("SELECT 1")
        assert repr(obj).endswith("(open)>"), repr(obj)
        await obj.disconnect()
        assert repr(obj).endswith("(closed)>"), repr(obj)
        assert password not in repr(obj)
