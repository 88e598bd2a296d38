"""Failover: the primary stops, the standby is promoted, and pgmonkey follows on its own."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from pgmonkey.config import load_config
from pgmonkey.connections import AsyncConnection, Connection, ConnectionPool
from pgmonkey.testing import PostgresServer, start_server

QUERY = "SELECT pg_is_in_recovery(), inet_server_port(), %s::int"
WORKERS = 8


@pytest.fixture
def cluster() -> Iterator[tuple[PostgresServer, PostgresServer]]:
    with start_server(replication=True, roles={"app": "app-pw"}) as primary:
        yield primary, primary.start_standby()  # both stopped with the primary


def failover_config(primary: PostgresServer, standby: PostgresServer, ctype: str) -> Any:
    cfg = primary.config(user="app", password="app-pw", connection_type=ctype)
    cs = cfg["connection_settings"]
    cs["host"] = f"{primary.host},{standby.host}"
    cs["port"] = f"{primary.port},{standby.port}"
    cs["target_session_attrs"] = "read-write"
    cs["connect_timeout"] = 2
    cfg["pool_settings"] = {
        "min_size": 4,
        "max_size": WORKERS,
        "timeout": 2,
        "check_on_checkout": True,
        "reconnect_timeout": 60,
    }
    return load_config(cfg)


@dataclass
class Outcome:
    """What the workers saw: (time, port) of successes and (time, error) of failures."""

    ok: list[tuple[float, int]] = field(default_factory=list)
    errors: list[tuple[float, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def worker(pool: ConnectionPool, outcome: Outcome, stop: threading.Event, n: int) -> None:
    i = 0
    while not stop.is_set():
        i += 1
        try:
            with pool as conn:
                row = conn.execute(QUERY, (n * 1_000_000 + i,)).fetchone()
            assert row is not None
            assert row[0] is False  # never a standby: read-write means the primary
            assert row[2] == n * 1_000_000 + i
            with outcome.lock:
                outcome.ok.append((time.monotonic(), int(row[1])))
        except Exception as exc:
            with outcome.lock:
                outcome.errors.append((time.monotonic(), f"{type(exc).__name__}: {exc}"))
            time.sleep(0.05)
        time.sleep(0.002)


async def _port_of(conn: AsyncConnection) -> int:
    async with conn as c:
        cur = await c.execute("SELECT inet_server_port()")
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


def _port_of_sync(conn: Connection) -> int:
    with conn as c:
        row = c.execute("SELECT inet_server_port()").fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.slow
def test_pool_and_cached_connections_follow_a_failover(
    cluster: tuple[PostgresServer, PostgresServer],
) -> None:
    primary, standby = cluster
    pool = ConnectionPool(failover_config(primary, standby, "pool"))
    normal = Connection(failover_config(primary, standby, "normal"))
    cached_async = AsyncConnection(failover_config(primary, standby, "async"))
    loop = asyncio.new_event_loop()
    outcome = Outcome()
    stop = threading.Event()
    threads = [
        threading.Thread(target=worker, args=(pool, outcome, stop, n), daemon=True)
        for n in range(WORKERS)
    ]
    try:
        pool.open()
        assert _port_of_sync(normal) == primary.port
        assert loop.run_until_complete(_port_of(cached_async)) == primary.port
        for t in threads:
            t.start()
        time.sleep(1.0)
        with outcome.lock:
            assert outcome.errors == []
            assert {port for _, port in outcome.ok} == {primary.port}

        failed_at = time.monotonic()
        primary.stop("immediate")
        standby.promote()
        promoted_at = time.monotonic()

        # keep querying until every worker has had a run of successes on the new primary
        deadline = promoted_at + 40
        while time.monotonic() < deadline:
            time.sleep(0.25)
            with outcome.lock:
                last_error = max((t for t, _ in outcome.errors), default=failed_at)
                after = [p for t, p in outcome.ok if t > last_error and p == standby.port]
            if len(after) >= 400 and time.monotonic() - last_error > 2:
                break
        stop.set()
        for t in threads:
            t.join(timeout=10)
        # the cached normal/async connections died with the old primary: their next use
        # reconnects, and libpq's read-write check picks the promoted server
        assert _port_of_sync(normal) == standby.port
        assert loop.run_until_complete(_port_of(cached_async)) == standby.port
    finally:
        stop.set()
        pool.disconnect()
        normal.disconnect()
        loop.run_until_complete(cached_async.disconnect())
        loop.close()

    with outcome.lock:
        errors = list(outcome.errors)
        ok = list(outcome.ok)
    last_error = max((t for t, _ in errors), default=failed_at)
    last_old = max(t for t, p in ok if p == primary.port)
    first_new = min(t for t, p in ok if p == standby.port)
    window_end = max(last_error, last_old)
    after = [p for t, p in ok if t > window_end]
    print(
        f"\nfailover: promotion took {promoted_at - failed_at:.2f} s; first query on the new "
        f"primary {first_new - failed_at:.2f} s after the primary stopped; "
        f"{len(errors)} errors, all within {window_end - failed_at:.2f} s; "
        f"{len(after)} queries since, all on the new primary"
    )
    # errors only inside one bounded window that starts at the failure...
    assert all(failed_at <= t <= window_end for t, _ in errors)
    assert window_end - failed_at < 30, errors[-3:]
    # ...then none: every query after it succeeded, on the promoted server
    assert len(after) >= 400
    assert set(after) == {standby.port}
    assert {p for t, p in ok if t < failed_at} == {primary.port}
