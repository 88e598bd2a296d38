"""Server restart (fast and immediate) while pools and a cached connection are in use."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import psycopg
import pytest

from pgmonkey import PGConnectionManager
from pgmonkey.errors import PgMonkeyError
from pgmonkey.testing import PostgresServer
from tests.reliability._helpers import pool_config
from tests.reliability.conftest import Figures

pytestmark = pytest.mark.reliability

CLEAR_ERRORS = (psycopg.OperationalError, PgMonkeyError)
AFTER_RESTART_S = 3.0  # every client keeps working this long after the server is back
TAIL_OPS = 20  # ... and its last operations must all succeed


class Recorder:
    """Outcome of every operation: (monotonic time, error or None), per client."""

    def __init__(self) -> None:
        self.outcomes: dict[str, list[tuple[float, BaseException | None]]] = {}
        self.stop = threading.Event()

    def run(self, name: str, op: Callable[[], None]) -> None:
        mine = self.outcomes.setdefault(name, [])
        while not self.stop.is_set():
            try:
                op()
                mine.append((time.monotonic(), None))
            except BaseException as exc:
                mine.append((time.monotonic(), exc))
                time.sleep(0.01)
            time.sleep(0.002)

    async def arun(self, name: str, op: Callable[[], object]) -> None:
        mine = self.outcomes.setdefault(name, [])
        while not self.stop.is_set():
            try:
                await op()  # type: ignore[misc]
                mine.append((time.monotonic(), None))
            except Exception as exc:
                mine.append((time.monotonic(), exc))
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.002)


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_restart_under_use(
    mode: str, fault_server: PostgresServer, manager: PGConnectionManager, figures: Figures
) -> None:
    cfg = pool_config(fault_server, f"rel-restart-{mode}", min_size=4, max_size=4, timeout=5)
    pool = manager.get_database_connection_from_dict(cfg, "pool")
    normal = manager.get_database_connection_from_dict(cfg, "normal")
    rec = Recorder()

    def pool_op() -> None:
        with pool as conn:
            conn.execute("SELECT pg_sleep(0.005)")

    def normal_op() -> None:
        with normal as conn:
            conn.execute("SELECT pg_sleep(0.005)")

    async def async_side() -> None:
        apool = await manager.get_database_connection_from_dict(cfg, "async_pool")

        async def aop() -> None:
            async with apool as conn:
                await conn.execute("SELECT pg_sleep(0.005)")

        await asyncio.gather(*(rec.arun(f"async_pool#{i}", aop) for i in range(3)))
        await apool.disconnect()

    clients = [threading.Thread(target=rec.run, args=(f"pool#{i}", pool_op)) for i in range(3)]
    clients.append(threading.Thread(target=rec.run, args=("normal", normal_op)))
    clients.append(threading.Thread(target=lambda: asyncio.run(async_side())))
    for c in clients:
        c.start()
    try:
        time.sleep(0.5)
        down = time.monotonic()
        fault_server.restart(mode)
        up = time.monotonic()
        time.sleep(AFTER_RESTART_S)
    finally:
        rec.stop.set()
        for c in clients:
            c.join(timeout=60)
    assert not any(c.is_alive() for c in clients), "a client hung"

    failures = [(t, e) for ops in rec.outcomes.values() for t, e in ops if e is not None]
    unclear = [e for _, e in failures if not isinstance(e, CLEAR_ERRORS)]
    assert unclear == [], f"unclear errors: {unclear!r}"
    for name, ops in rec.outcomes.items():
        tail = ops[-TAIL_OPS:]
        assert len(tail) == TAIL_OPS, name
        assert all(e is None for _, e in tail), (name, tail)
        assert any(e is None and t < down for t, e in ops), f"{name} never worked before"
    first_fail = min((t for t, _ in failures), default=down)
    last_fail = max((t for t, _ in failures), default=down)
    recovered = {
        name: min(t for t, e in ops if e is None and t > max(up, last_fail)) - up
        for name, ops in rec.outcomes.items()
    }
    per_client = {
        name: sum(1 for _, e in ops if e is not None) for name, ops in rec.outcomes.items()
    }
    figures.record(
        f"restart ({mode}) under use",
        failed_ops=len(failures),
        failed_per_client=per_client,
        restart_s=up - down,
        failure_window_s=last_fail - first_fail,
        last_failure_after_up_s=last_fail - up,
        worst_recovery_after_up_s=max(recovered.values()),
        error_types=sorted({type(e).__name__ for _, e in failures}),
    )
    # After the failure window no operation failed: the tails above prove it for each client.
    assert last_fail - up < AFTER_RESTART_S
