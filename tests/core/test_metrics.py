"""OpenTelemetry metrics of pgmonkey's pools, read by the SDK's in-memory reader (real server)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from psycopg_pool import PoolTimeout

from pgmonkey import _metrics
from pgmonkey.connections import (
    AsyncConnectionPool,
    ConnectionPool,
    open_async_pool,
    open_pool,
)
from pgmonkey.errors import PoolExhaustedError
from tests._metrics_helpers import STATE, run_script
from tests._metrics_helpers import points as _points
from tests._metrics_helpers import values as _values

WORKERS = 8
ROUNDS = 20


def _pool_cfg(cfg: dict[str, Any], section: str, name: str, **settings: Any) -> dict[str, Any]:
    pool = {"min_size": 2, "max_size": 4, "name": name, **settings}
    return {**cfg, section: pool}


def _assert_no_secret(points: dict[str, list[Any]], cfg: dict[str, Any]) -> None:
    conn = cfg["connection_settings"]
    secrets = [str(conn[k]) for k in ("user", "password", "host") if conn.get(k)]
    for series in points.values():
        for point in series:
            for value in dict(point.attributes).values():
                assert not any(secret in str(value) for secret in secrets)


def _hammer(pool: ConnectionPool) -> None:
    def work() -> None:
        for _ in range(ROUNDS):
            with pool as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)

    threads = [threading.Thread(target=work) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _settle(pool: Any) -> None:
    """Wait until the connections the load made the pool open are all in it.

    psycopg_pool's ``pool_size`` counts a connection still being opened, so until then the
    ``used`` count (size minus available) includes it.
    """
    deadline = time.monotonic() + 30
    while (stats := pool.get_stats())["pool_size"] != stats["pool_available"]:
        assert time.monotonic() < deadline, stats
        time.sleep(0.01)


def test_sync_pool_under_load_reports_the_semantic_convention_metrics(
    pg_database: dict[str, Any], reader: InMemoryMetricReader
) -> None:
    cfg = _pool_cfg(pg_database, "pool_settings", "orders-sync")
    pool = ConnectionPool(cfg)
    try:
        pool.open()
        _hammer(pool)
        _settle(pool.pool)
        with pool, pool:  # two borrowed while the reader collects
            points = _points(reader)
    finally:
        pool.disconnect()
    assert (
        _values(points["db.client.connection.count"], "orders-sync", **{STATE: "used"})[0].value
        == 2
    )
    idle = _values(points["db.client.connection.count"], "orders-sync", **{STATE: "idle"})
    assert idle[0].value >= 0
    assert _values(points["db.client.connection.max"], "orders-sync")[0].value == 4
    assert _values(points["db.client.connection.idle.max"], "orders-sync")[0].value == 4
    assert _values(points["db.client.connection.idle.min"], "orders-sync")[0].value == 2
    assert _values(points["db.client.connection.pending_requests"], "orders-sync")[0].value == 0
    borrows = WORKERS * ROUNDS + 2
    assert _values(points["db.client.connection.wait_time"], "orders-sync")[0].count == borrows
    assert _values(points["db.client.connection.use_time"], "orders-sync")[0].count == borrows - 2
    created = _values(points["db.client.connection.create_time"], "orders-sync")[0]
    assert 2 <= created.count <= 4
    assert "db.client.connection.timeouts" not in points
    _assert_no_secret(points, cfg)


def test_exhausted_sync_pool_reports_pending_requests_and_timeouts(
    pg_database: dict[str, Any], reader: InMemoryMetricReader
) -> None:
    cfg = _pool_cfg(pg_database, "pool_settings", "tiny", min_size=1, max_size=1, timeout=0.5)
    pool = ConnectionPool(cfg)
    waiting = threading.Event()
    seen: list[int] = []
    try:
        pool.open()
        with pool:

            def borrow() -> None:
                waiting.set()
                with pytest.raises(PoolExhaustedError), pool:
                    pass

            thread = threading.Thread(target=borrow)
            thread.start()
            waiting.wait()
            while thread.is_alive() and not seen:
                pending = _values(_points(reader)["db.client.connection.pending_requests"], "tiny")
                if pending[0].value:
                    seen.append(pending[0].value)
            thread.join()
        points = _points(reader)
    finally:
        pool.disconnect()
    assert seen == [1]
    assert _values(points["db.client.connection.timeouts"], "tiny")[0].value == 1
    assert _values(points["db.client.connection.pending_requests"], "tiny")[0].value == 0


async def test_async_pool_under_load_reports_the_semantic_convention_metrics(
    pg_database: dict[str, Any], reader: InMemoryMetricReader
) -> None:
    cfg = _pool_cfg(pg_database, "async_pool_settings", "orders-async", max_size=2, timeout=0.2)
    pool = AsyncConnectionPool(cfg)
    try:
        await pool.open()

        async def work() -> None:
            for _ in range(ROUNDS):
                async with pool as conn:
                    cur = await conn.execute("SELECT 1")
                    assert await cur.fetchone() == (1,)

        await asyncio.gather(*(work() for _ in range(WORKERS)))
        async with pool:
            gate = asyncio.Event()

            async def held() -> None:
                async with pool:
                    gate.set()
                    await asyncio.sleep(0.5)

            holder = asyncio.create_task(held())
            await gate.wait()
            waiter = asyncio.create_task(pool.__aenter__())
            await asyncio.sleep(0.05)
            points = _points(reader)
            with pytest.raises(PoolExhaustedError):
                await waiter
            await holder
        after = _points(reader)
    finally:
        await pool.disconnect()
    assert _values(points["db.client.connection.pending_requests"], "orders-async")[0].value == 1
    used = _values(points["db.client.connection.count"], "orders-async", **{STATE: "used"})
    assert used[0].value == 2
    assert _values(after["db.client.connection.timeouts"], "orders-async")[0].value == 1
    borrows = WORKERS * ROUNDS + 2
    assert _values(after["db.client.connection.wait_time"], "orders-async")[0].count == borrows
    assert _values(after["db.client.connection.use_time"], "orders-async")[0].count == borrows
    assert _values(after["db.client.connection.create_time"], "orders-async")[0].count >= 2
    _assert_no_secret(after, cfg)


def test_metrics_false_creates_no_metrics(
    pg_database: dict[str, Any], reader: InMemoryMetricReader
) -> None:
    cfg = _pool_cfg(pg_database, "pool_settings", "quiet", metrics=False)
    pool = ConnectionPool(cfg)
    try:
        with pool as conn:
            conn.execute("SELECT 1")
        assert pool._metrics is None
        points = _points(reader)
    finally:
        pool.disconnect()
    assert not any(_values(series, "quiet") for series in points.values())


def test_pgmonkey_works_without_opentelemetry(pg_database: dict[str, Any]) -> None:
    cfg = _pool_cfg(pg_database, "pool_settings", "plain")
    script = (
        "import sys, json\n"
        "sys.modules['opentelemetry'] = None\n"
        "from pgmonkey.connections import ConnectionPool\n"
        "pool = ConnectionPool(json.loads(sys.argv[1]))\n"
        "with pool as conn:\n"
        "    print(conn.execute('SELECT 41 + 1').fetchone()[0], pool._metrics)\n"
        "pool.disconnect()\n"
    )
    assert run_script(script, cfg).split() == ["42", "None"]


def test_durations_beyond_the_buffer_are_recorded_at_once(
    pg_database: dict[str, Any], reader: InMemoryMetricReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_metrics, "BUFFERED", 3)
    pool = ConnectionPool(_pool_cfg(pg_database, "pool_settings", "buffered"))
    try:
        for _ in range(10):
            with pool as conn:
                conn.execute("SELECT 1")
        recorder = pool._metrics
        assert recorder is not None
        assert (len(recorder._waits), len(recorder._uses)) == (3, 3)
        points = _points(reader)
        assert (len(recorder._waits), len(recorder._uses)) == (0, 0)
    finally:
        pool.disconnect()
    assert _values(points["db.client.connection.wait_time"], "buffered")[0].count == 10
    assert _values(points["db.client.connection.use_time"], "buffered")[0].count == 10


def test_open_pool_takes_the_switch_as_an_override(
    pg_database: dict[str, Any], reader: InMemoryMetricReader
) -> None:
    cfg = _pool_cfg(pg_database, "pool_settings", "blocks", min_size=1, max_size=1)
    with open_pool(cfg, metrics=False) as quiet:
        assert _metrics.metrics_of(quiet) is None
    with open_pool({**cfg, "pool_settings": {**cfg["pool_settings"], "metrics": "off"}}) as off:
        assert _metrics.metrics_of(off) is None
    with open_pool(cfg) as pool:
        assert _metrics.metrics_of(pool) is not None
        points = _points(reader)
    assert _values(points["db.client.connection.create_time"], "blocks")[0].count == 1
    assert _values(points["db.client.connection.count"], "blocks", **{STATE: "idle"})[0].value == 1


def test_borrows_outside_pgmonkeys_blocks_are_timed_too(
    pg_database: dict[str, Any], reader: InMemoryMetricReader
) -> None:
    """The framework extensions and applications borrow with getconn()/connection()."""
    cfg = _pool_cfg(pg_database, "pool_settings", "direct", min_size=1, max_size=1)
    with open_pool(cfg) as pool:
        conn = pool.getconn()
        with pytest.raises(PoolTimeout):
            pool.getconn(timeout=0.05)
        pool.putconn(conn)
        with pool.connection() as conn:
            conn.execute("SELECT 1")
        points = _points(reader)
    assert _values(points["db.client.connection.wait_time"], "direct")[0].count == 2
    assert _values(points["db.client.connection.use_time"], "direct")[0].count == 2
    assert _values(points["db.client.connection.timeouts"], "direct")[0].value == 1


async def test_async_borrows_outside_pgmonkeys_blocks_are_timed_too(
    pg_database: dict[str, Any], reader: InMemoryMetricReader
) -> None:
    cfg = _pool_cfg(pg_database, "async_pool_settings", "direct-async", min_size=1, max_size=1)
    async with await open_async_pool(cfg) as pool:
        conn = await pool.getconn()
        with pytest.raises(PoolTimeout):
            await pool.getconn(timeout=0.05)
        await pool.putconn(conn)
        async with pool.connection() as conn:
            await conn.execute("SELECT 1")
        points = _points(reader)
    assert _values(points["db.client.connection.wait_time"], "direct-async")[0].count == 2
    assert _values(points["db.client.connection.use_time"], "direct-async")[0].count == 2
    assert _values(points["db.client.connection.timeouts"], "direct-async")[0].value == 1
