"""pgmonkey's pools against psycopg_pool used directly, and the cached manager lookup.

* borrow-query-return (``SELECT 1``), sync, one thread: ``with pool as c`` vs
  ``with raw.connection() as c`` on pools of the same size.
* the same through async pools, 32 concurrent tasks.
* ``get_database_connection(path, "pool")`` on a cache hit (target: under 5 µs).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from _harness import Result, interleaved_median
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from pgmonkey import PGConnectionManager
from pgmonkey.connections import AsyncConnectionPool as PGAsyncPool
from pgmonkey.connections import ConnectionPool as PGPool

SYNC_OPS = 2000
TASKS = 32
ASYNC_OPS_PER_TASK = 100
LOOKUPS = 20000


def _config(server: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = server.config()
    cfg["pool_settings"] = {"min_size": 4, "max_size": 4, "timeout": 30}
    cfg["async_pool_settings"] = {"min_size": 8, "max_size": 8, "timeout": 30}
    return cfg


def _sync(cfg: dict[str, Any]) -> Result:
    ours = PGPool(cfg)
    ours.open()
    raw = ConnectionPool(
        "", kwargs=dict(cfg["connection_settings"]), min_size=4, max_size=4, open=False
    )
    raw.open(wait=True)

    def candidate() -> None:
        for _ in range(SYNC_OPS):
            with ours as c:
                c.execute("SELECT 1").fetchone()

    def baseline() -> None:
        for _ in range(SYNC_OPS):
            with raw.connection() as c:
                c.execute("SELECT 1").fetchone()

    candidate(), baseline()  # warm up
    cand, base = interleaved_median(candidate, baseline, repeat=9)
    ours.disconnect()
    raw.close()
    return Result(
        case="pool borrow-query-return (sync, 1 thread)",
        metric="µs/op",
        candidate=cand / SYNC_OPS * 1e6,
        baseline_name="psycopg_pool ConnectionPool.connection()",
        baseline=base / SYNC_OPS * 1e6,
        target_ratio=1.02,
    )


def _async(cfg: dict[str, Any]) -> Result:
    async def main() -> tuple[float, float]:
        ours = PGAsyncPool(cfg)
        await ours.open()
        raw = AsyncConnectionPool(
            "", kwargs=dict(cfg["connection_settings"]), min_size=8, max_size=8, open=False
        )
        await raw.open(wait=True)

        async def ours_task() -> None:
            for _ in range(ASYNC_OPS_PER_TASK):
                async with ours as c:
                    await (await c.execute("SELECT 1")).fetchone()

        async def raw_task() -> None:
            for _ in range(ASYNC_OPS_PER_TASK):
                async with raw.connection() as c:
                    await (await c.execute("SELECT 1")).fetchone()

        async def timed(task: Any) -> float:
            start = time.perf_counter()
            await asyncio.gather(*(task() for _ in range(TASKS)))
            return time.perf_counter() - start

        await timed(ours_task)
        await timed(raw_task)
        cands, bases = [], []
        for i in range(11):  # alternate who goes first, so both see the same drift
            if i % 2:
                cands.append(await timed(ours_task))
                bases.append(await timed(raw_task))
            else:
                bases.append(await timed(raw_task))
                cands.append(await timed(ours_task))
        await ours.disconnect()
        await raw.close()
        cands.sort()
        bases.sort()
        return cands[len(cands) // 2], bases[len(bases) // 2]

    cand, base = asyncio.run(main())
    ops = TASKS * ASYNC_OPS_PER_TASK
    return Result(
        case=f"pool borrow-query-return (async, {TASKS} tasks)",
        metric="µs/op",
        candidate=cand / ops * 1e6,
        baseline_name="psycopg_pool AsyncConnectionPool.connection()",
        baseline=base / ops * 1e6,
        target_ratio=1.02,
    )


def _lookup(cfg: dict[str, Any]) -> Result:
    manager = PGConnectionManager()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pgmonkey.yaml"
        path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
        name = str(path)
        pool = manager.get_database_connection(name, "pool")
        plain = {name: pool}

        def candidate() -> None:
            get = manager.get_database_connection
            for _ in range(LOOKUPS):
                get(name, "pool")

        def baseline() -> None:
            get = plain.get
            for _ in range(LOOKUPS):
                get(name)

        cand, base = interleaved_median(candidate, baseline, repeat=7)
        manager.clear_cache()
    return Result(
        case="cached get_database_connection(path, 'pool')",
        metric="µs/op",
        candidate=cand / LOOKUPS * 1e6,
        baseline_name="a plain dict lookup",
        baseline=base / LOOKUPS * 1e6,
        target_absolute=5.0,
    )


def run(ctx: dict[str, Any]) -> list[Result]:
    cfg = _config(ctx["server"])
    return [_sync(cfg), _async(cfg), _lookup(cfg)]
