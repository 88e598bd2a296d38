"""Sustained load: 64 concurrent clients (threads and asyncio tasks) on pools of max_size 10."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from pgmonkey import PGConnectionManager
from pgmonkey.testing import PostgresServer
from tests.reliability._helpers import percentiles_ms, pool_config, rss_kib, sessions
from tests.reliability.conftest import Figures

pytestmark = pytest.mark.reliability

THREADS = 32
TASKS = 32
OPS_PER_CLIENT = 800  # 64 * 800 = 51,200 operations
WARMUP_PER_CLIENT = 100
RSS_GROWTH_LIMIT_KIB = 32 * 1024


def test_sustained_load(
    fault_server: PostgresServer, manager: PGConnectionManager, figures: Figures
) -> None:
    sync_cfg = pool_config(fault_server, "rel-load-sync", min_size=10, max_size=10)
    async_cfg = pool_config(fault_server, "rel-load-async", min_size=10, max_size=10)
    pool = manager.get_database_connection_from_dict(sync_cfg, "pool")
    pool.open()

    errors: list[BaseException] = []
    latencies: list[list[float]] = []
    warm = threading.Barrier(THREADS + 2)  # threads, the async side, the main thread
    rss: dict[str, int] = {}

    def sync_client() -> None:
        mine: list[float] = []
        latencies.append(mine)
        for i in range(OPS_PER_CLIENT):
            if i == WARMUP_PER_CLIENT:
                warm.wait(timeout=120)
            start = time.perf_counter()
            try:
                with pool as conn:
                    assert conn.execute("SELECT 1").fetchone() == (1,)
            except BaseException as exc:
                errors.append(exc)
            mine.append(time.perf_counter() - start)

    async def async_side() -> None:
        apool = await manager.get_database_connection_from_dict(async_cfg, "async_pool")
        await apool.open()
        warmed = 0

        async def client() -> None:
            nonlocal warmed
            mine: list[float] = []
            latencies.append(mine)
            for i in range(OPS_PER_CLIENT):
                if i == WARMUP_PER_CLIENT:
                    warmed += 1
                    while warmed < TASKS:
                        await asyncio.sleep(0.001)
                    if warmed == TASKS:
                        warmed += 1
                        await asyncio.to_thread(warm.wait, 120)
                start = time.perf_counter()
                try:
                    async with apool as conn:
                        cur = await conn.execute("SELECT 1")
                        assert await cur.fetchone() == (1,)
                except BaseException as exc:
                    errors.append(exc)
                mine.append(time.perf_counter() - start)

        await asyncio.gather(*(client() for _ in range(TASKS)))
        stats: dict[str, Any] = apool.pool.get_stats()
        async_idle.append(int(stats["pool_available"]))
        async_sessions.append(sessions(fault_server, "rel-load-async"))
        await apool.disconnect()

    async_idle: list[int] = []
    async_sessions: list[int] = []
    workers = [threading.Thread(target=sync_client) for _ in range(THREADS)]
    workers.append(threading.Thread(target=lambda: asyncio.run(async_side())))
    started = time.perf_counter()
    for w in workers:
        w.start()
    warm.wait(timeout=120)
    rss["after_warmup"] = rss_kib()
    for w in workers:
        w.join(timeout=240)
    elapsed = time.perf_counter() - started
    assert not any(w.is_alive() for w in workers), "load workers hung"
    rss["end"] = rss_kib()

    sync_stats = pool.pool.get_stats()
    sync_idle = int(sync_stats["pool_available"])
    sync_sessions = sessions(fault_server, "rel-load-sync")
    samples = [s for per_client in latencies for s in per_client]
    figures.record(
        "load: 32 threads + 32 tasks, max_size 10",
        operations=len(samples),
        errors=len(errors),
        seconds=elapsed,
        ops_per_s=len(samples) / elapsed,
        sync_sessions_after=sync_sessions,
        sync_pool_idle=sync_idle,
        async_sessions_after=async_sessions[0],
        async_pool_idle=async_idle[0],
        rss_growth_kib=rss["end"] - rss["after_warmup"],
        **percentiles_ms(samples),
    )
    assert errors == []
    assert len(samples) == (THREADS + TASKS) * OPS_PER_CLIENT >= 50_000
    assert sync_sessions == sync_idle == 10
    assert async_sessions == async_idle == [10]
    assert rss["end"] - rss["after_warmup"] < RSS_GROWTH_LIMIT_KIB
    manager.clear_cache()
    assert sessions(fault_server, "rel-load-sync", settle_to=0) == 0
    assert sessions(fault_server, "rel-load-async", settle_to=0) == 0
