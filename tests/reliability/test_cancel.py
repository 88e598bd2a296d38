"""Cancellation: a cancelled asyncio task and statement_timeout stop the query on the server."""

from __future__ import annotations

import asyncio
import time

import psycopg
import pytest

from pgmonkey import PGConnectionManager
from pgmonkey.testing import PostgresServer
from tests.reliability._helpers import pool_config
from tests.reliability.conftest import Figures

pytestmark = pytest.mark.reliability


def _active_sleeps(server: PostgresServer, app: str) -> int:
    rows = server.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
        "AND state = 'active' AND query LIKE 'SELECT pg_sleep(30)%%'",
        (app,),
    )
    return int(rows[0][0])


async def _wait_sleeps(server: PostgresServer, app: str, wanted: int, limit: float = 10) -> float:
    start = time.monotonic()
    while await asyncio.to_thread(_active_sleeps, server, app) != wanted:
        assert time.monotonic() - start < limit, f"{app}: {wanted} active pg_sleep expected"
        await asyncio.sleep(0.02)
    return time.monotonic() - start


async def test_cancelled_task_cancels_server_query(
    fault_server: PostgresServer, manager: PGConnectionManager, figures: Figures
) -> None:
    app = "rel-cancel-task"
    cfg = pool_config(fault_server, app, min_size=1, max_size=1, timeout=5)
    pool = await manager.get_database_connection_from_dict(cfg, "async_pool")

    async def slow() -> None:
        async with pool as conn:
            await conn.execute("SELECT pg_sleep(30)")

    task = asyncio.create_task(slow())
    await _wait_sleeps(fault_server, app, 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    gone_after = await _wait_sleeps(fault_server, app, 0)
    async with pool as conn:  # the only connection of the pool, usable again
        assert await (await conn.execute("SELECT 1")).fetchone() == (1,)
    figures.record("cancel: asyncio task", server_query_gone_after_s=gone_after)
    await manager.clear_cache_async()


def test_statement_timeout_cancels_and_connection_reusable(
    fault_server: PostgresServer, manager: PGConnectionManager, figures: Figures
) -> None:
    app = "rel-cancel-timeout"
    cfg = pool_config(fault_server, app, min_size=1, max_size=1, timeout=5)
    cfg["sync_settings"] = {"statement_timeout": "200ms"}
    pool = manager.get_database_connection_from_dict(cfg, "pool")
    start = time.monotonic()
    with pytest.raises(psycopg.errors.QueryCanceled, match="statement timeout"), pool as conn:
        conn.execute("SELECT pg_sleep(30)")
    took = time.monotonic() - start
    assert _active_sleeps(fault_server, app) == 0
    with pool as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        assert conn.execute("SHOW statement_timeout").fetchone() == ("200ms",)
    normal = manager.get_database_connection_from_dict(cfg, "normal")
    with pytest.raises(psycopg.errors.QueryCanceled), normal as conn:
        conn.execute("SELECT pg_sleep(30)")
    with normal as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    figures.record("cancel: statement_timeout=200ms", seconds_to_error=took)
