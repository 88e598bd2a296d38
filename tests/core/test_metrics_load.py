"""Metrics under load: threads and tasks share a small pool until borrows time out.

The pools connect as a role whose password is a canary; every assertion compares what the
SDK's in-memory reader collected with what the workers saw and what psycopg_pool says.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from psycopg.conninfo import make_conninfo

from pgmonkey import _metrics
from pgmonkey.connections import AsyncConnectionPool, ConnectionPool
from pgmonkey.errors import PoolExhaustedError
from tests._metrics_helpers import STATE, assert_no_secret, points, value, values

CANARY = "Can4ry-metrics-Pw-9x"
WORKERS = 6
ROUNDS = 12
HOLD = "SELECT pg_sleep(0.02)"


def _canary_config(pg_server: Any, pg_database: dict[str, Any], **pool: Any) -> dict[str, Any]:
    role = f"metrics_{uuid.uuid4().hex[:10]}"
    pg_server.create_role(role, password=CANARY)
    dbname = pg_database["connection_settings"]["dbname"]
    cfg: dict[str, Any] = pg_server.config(dbname=dbname, user=role, password=CANARY)
    settings = {"min_size": 1, "max_size": 2, "timeout": 0.05, **pool}
    return {**cfg, "pool_settings": settings, "async_pool_settings": settings}


def _secrets(cfg: dict[str, Any]) -> list[str]:
    conn = cfg["connection_settings"]
    return [CANARY, conn["user"], str(conn["host"]), make_conninfo("", **conn)]


class _Tally:
    """What the workers saw: borrows that got a connection, borrows that timed out."""

    def __init__(self) -> None:
        self.borrowed = 0
        self.timed_out = 0
        self._lock = threading.Lock()

    def add(self, *, borrowed: int = 0, timed_out: int = 0) -> None:
        with self._lock:
            self.borrowed += borrowed
            self.timed_out += timed_out


def _check(
    found: dict[str, list[Any]], name: str, stats: dict[str, int], tally: _Tally, cfg: Any
) -> None:
    """The collected points against the workers' tally and the pool's own statistics."""
    assert value(found, "db.client.connection.timeouts", name) == tally.timed_out
    assert value(found, "db.client.connection.wait_time", name) == tally.borrowed
    assert value(found, "db.client.connection.use_time", name) == tally.borrowed
    # Every connection the pool made was timed (all attempts succeeded here).
    assert value(found, "db.client.connection.create_time", name) == stats["connections_num"]
    idle = value(found, "db.client.connection.count", name, **{STATE: "idle"})
    used = value(found, "db.client.connection.count", name, **{STATE: "used"})
    assert (idle, used) == (stats["pool_available"], stats["pool_size"] - stats["pool_available"])
    assert value(found, "db.client.connection.max", name) == stats["pool_max"] == 2
    assert value(found, "db.client.connection.idle.max", name) == 2
    assert value(found, "db.client.connection.idle.min", name) == stats["pool_min"] == 1
    assert value(found, "db.client.connection.pending_requests", name) == 0
    for metric in ("create_time", "wait_time", "use_time"):
        (point,) = values(found[f"db.client.connection.{metric}"], name)
        assert tuple(point.explicit_bounds) == _metrics.BUCKETS
    assert_no_secret(found, *_secrets(cfg))


def test_threads_exhausting_a_small_pool_are_counted_exactly(
    pg_server: Any, pg_database: dict[str, Any], reader: InMemoryMetricReader
) -> None:
    cfg = _canary_config(pg_server, pg_database, name="load-sync")
    pool = ConnectionPool(cfg)
    tally = _Tally()

    def borrow() -> None:
        try:
            with pool as conn:
                conn.execute(HOLD)
        except PoolExhaustedError:
            tally.add(timed_out=1)
        else:
            tally.add(borrowed=1)

    def work() -> None:
        for _ in range(ROUNDS):
            borrow()

    def run(target: Any) -> None:
        threads = [threading.Thread(target=target) for _ in range(WORKERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    try:
        pool.open()
        run(work)
        with pool, pool:  # both connections held: every worker's borrow times out
            tally.add(borrowed=2)
            before = tally.timed_out
            run(borrow)
            assert tally.timed_out == before + WORKERS
            during = points(reader)
        found = points(reader)
        stats = pool.pool.get_stats()
    finally:
        pool.disconnect()
    assert value(during, "db.client.connection.count", "load-sync", **{STATE: "used"}) == 2
    assert value(during, "db.client.connection.count", "load-sync", **{STATE: "idle"}) == 0
    assert tally.borrowed + tally.timed_out == WORKERS * (ROUNDS + 1) + 2
    _check(found, "load-sync", stats, tally, cfg)


async def test_tasks_exhausting_a_small_async_pool_are_counted_exactly(
    pg_server: Any, pg_database: dict[str, Any], reader: InMemoryMetricReader
) -> None:
    cfg = _canary_config(pg_server, pg_database, name="load-async")
    pool = AsyncConnectionPool(cfg)
    tally = _Tally()

    async def borrow() -> None:
        try:
            async with pool as conn:
                await conn.execute(HOLD)
        except PoolExhaustedError:
            tally.add(timed_out=1)
        else:
            tally.add(borrowed=1)

    async def work() -> None:
        for _ in range(ROUNDS):
            await borrow()

    try:
        await pool.open()
        await asyncio.gather(*(work() for _ in range(WORKERS)))
        async with pool, pool:
            tally.add(borrowed=2)
            before = tally.timed_out
            await asyncio.gather(*(borrow() for _ in range(WORKERS)))
            assert tally.timed_out == before + WORKERS
            during = points(reader)
        found = points(reader)
        assert pool.pool is not None
        stats = pool.pool.get_stats()
    finally:
        await pool.disconnect()
    assert value(during, "db.client.connection.count", "load-async", **{STATE: "used"}) == 2
    assert tally.borrowed + tally.timed_out == WORKERS * (ROUNDS + 1) + 2
    _check(found, "load-async", stats, tally, cfg)
