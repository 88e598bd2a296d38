"""One shared cache, independent managers: clear_cache releases only what a manager handed out.

pgmonkey 3.x gave each manager its own cache, so ``m2.clear_cache()`` never touched the pool
``m1`` handed out (its README's ``AsyncDatabase.disconnect()`` relies on that). The cache is
now process-wide, and an object is closed only when no manager holds it any more.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pgmonkey import PGConnectionManager
from tests.core._manager_helpers import backends, settled_backends


@pytest.fixture
def cfg(pg_database: dict[str, Any]) -> Iterator[dict[str, Any]]:
    settings = {**pg_database["connection_settings"], "application_name": "holders"}
    cfg = {
        "connection_settings": settings,
        "pool_settings": {"min_size": 2, "max_size": 3, "timeout": 10},
        "async_pool_settings": {"min_size": 2, "max_size": 3, "timeout": 10},
    }
    yield cfg
    # Whatever a failing test left open: close it through a manager holding it.
    cleanup = PGConnectionManager()
    for ctype in ("normal", "pool"):
        cleanup.get_database_connection_from_dict(cfg, ctype)
    cleanup.clear_cache()


def test_clearing_one_manager_keeps_the_other_managers_pool(
    cfg: dict[str, Any], pg_server: Any
) -> None:
    m1, m2 = PGConnectionManager(), PGConnectionManager()
    p1 = m1.get_database_connection_from_dict(cfg, "pool")
    p2 = m2.get_database_connection_from_dict(cfg, "pool")
    assert p1 is p2  # still one shared pool
    m2.clear_cache()
    with p1 as conn:  # raised "this pool ... was closed" before
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert not p1.closed
    assert m1.cache_info["size"] == 1
    assert m2.cache_info["size"] == 0
    assert backends(pg_server, "holders") >= 2
    # m2 asks again: it gets the same (still cached) pool, not a second one.
    assert m2.get_database_connection_from_dict(cfg, "pool") is p1
    m1.clear_cache()
    assert not p1.closed  # m2 holds it again
    m2.clear_cache()
    assert p1.closed
    assert settled_backends(pg_server, "holders") == 0


def test_a_normal_connection_is_released_the_same_way(cfg: dict[str, Any], pg_server: Any) -> None:
    m1, m2 = PGConnectionManager(), PGConnectionManager()
    c1 = m1.get_database_connection_from_dict(cfg, "normal")
    assert m2.get_database_connection_from_dict(cfg, "normal") is c1
    with c1 as conn:
        conn.execute("SELECT 1")
    m1.clear_cache()
    with c1 as conn:
        assert conn.execute("SELECT 2").fetchone() == (2,)
    assert backends(pg_server, "holders") == 1
    m2.clear_cache()
    assert settled_backends(pg_server, "holders") == 0


async def test_async_pools_two_managers(cfg: dict[str, Any], pg_server: Any) -> None:
    m1, m2 = PGConnectionManager(), PGConnectionManager()
    p1 = await m1.get_database_connection_from_dict(cfg, "async_pool")
    assert await m2.get_database_connection_from_dict(cfg, "async_pool") is p1
    await m2.clear_cache_async()
    async with p1 as conn:
        cur = await conn.execute("SELECT 1")
        assert await cur.fetchone() == (1,)
    assert not p1.closed
    await m1.clear_cache_async()
    assert p1.closed
    assert settled_backends(pg_server, "holders") == 0


async def test_readme_async_database_pattern_with_two_instances(
    cfg: dict[str, Any], pg_server: Any
) -> None:
    # The 3.4.0 README's AsyncDatabase: connect() takes the pool, disconnect() clears the cache.
    class AsyncDatabase:
        def __init__(self) -> None:
            self.manager = PGConnectionManager()
            self.pool: Any = None

        async def connect(self) -> None:
            self.pool = await self.manager.get_database_connection_from_dict(cfg, "async_pool")

        async def disconnect(self) -> None:
            await self.manager.clear_cache_async()

        async def fetch_one(self, query: str) -> Any:
            async with self.pool as conn:
                cur = await conn.execute(query)
                return await cur.fetchone()

    first, second = AsyncDatabase(), AsyncDatabase()
    await first.connect()
    await second.connect()
    await first.disconnect()
    assert await second.fetch_one("SELECT 42") == (42,)
    await second.disconnect()
    assert second.pool.closed
    assert settled_backends(pg_server, "holders") == 0


async def test_async_with_manager_releases_only_its_own(
    cfg: dict[str, Any], pg_server: Any
) -> None:
    outer = PGConnectionManager()
    pool = await outer.get_database_connection_from_dict(cfg, "async_pool")
    async with PGConnectionManager() as inner:
        assert await inner.get_database_connection_from_dict(cfg, "async_pool") is pool
        conn = await inner.get_database_connection_from_dict(cfg, "async")
    assert conn.connection is None  # only inner held it: closed
    assert not pool.closed
    async with pool as c:
        await c.execute("SELECT 1")
    await outer.aclose()
    assert pool.closed
    assert settled_backends(pg_server, "holders") == 0


def test_with_manager_releases_only_its_own(cfg: dict[str, Any], pg_server: Any) -> None:
    outer = PGConnectionManager()
    pool = outer.get_database_connection_from_dict(cfg, "pool")
    with PGConnectionManager() as inner:
        assert inner.get_database_connection_from_dict(cfg, "pool") is pool
    assert not pool.closed
    outer.close()
    assert pool.closed
    assert settled_backends(pg_server, "holders") == 0


def test_force_reload_leaves_the_old_pool_to_its_other_holders(
    cfg: dict[str, Any], pg_server: Any
) -> None:
    m1, m2 = PGConnectionManager(), PGConnectionManager()
    old = m1.get_database_connection_from_dict(cfg, "pool")
    assert m2.get_database_connection_from_dict(cfg, "pool") is old
    new = m2.get_database_connection_from_dict(cfg, "pool", force_reload=True)
    assert new is not old
    with old as conn:  # m1 still holds the old pool: it stays open
        conn.execute("SELECT 1")
    assert m1.get_database_connection_from_dict(cfg, "pool") is new  # the cache has the new one
    assert m2.cache_info["size"] == 1
    assert m1.cache_info["size"] == 2  # the old pool and the new one
    m2.clear_cache()
    assert not new.closed  # m1 holds it too now
    m1.clear_cache()
    assert old.closed
    assert new.closed
    assert settled_backends(pg_server, "holders") == 0


def test_force_reload_by_the_only_holder_closes_the_old_object(cfg: dict[str, Any]) -> None:
    m = PGConnectionManager()
    old = m.get_database_connection_from_dict(cfg, "pool")
    new = m.get_database_connection_from_dict(cfg, "pool", force_reload=True)
    assert old.closed
    assert m.cache_info["size"] == 1
    m.clear_cache()
    assert new.closed


def test_a_dropped_manager_keeps_its_hold(cfg: dict[str, Any]) -> None:
    # `PGConnectionManager().get_database_connection(...)` as a one-liner: the manager goes
    # away at once, the pool must not be closed by somebody else's clear_cache().
    pool = PGConnectionManager().get_database_connection_from_dict(cfg, "pool")
    PGConnectionManager().clear_cache()
    with pool as conn:
        conn.execute("SELECT 1")
    keeper = PGConnectionManager()
    assert keeper.get_database_connection_from_dict(cfg, "pool") is pool
    keeper.clear_cache()
    assert not pool.closed  # the dropped manager still holds it (closed at exit)
    pool.disconnect()
