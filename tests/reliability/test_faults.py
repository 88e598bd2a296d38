"""Terminated backends, exhausted pools and servers, an unreachable server at startup."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from contextlib import ExitStack

import psycopg
import pytest

from pgmonkey import PGConnectionManager
from pgmonkey.errors import DatabaseConnectionError, PoolExhaustedError
from pgmonkey.testing import PostgresServer, start_server
from tests.reliability._helpers import pool_config, sessions
from tests.reliability.conftest import Figures

pytestmark = pytest.mark.reliability

POOL_SIZE = 5
CALLERS = 20


def _terminate_all(server: PostgresServer, application_name: str) -> int:
    rows = server.execute(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
        "WHERE application_name = %s AND backend_type = 'client backend') t",
        (application_name,),
    )
    return int(rows[0][0])


def _wait_for_sessions(server: PostgresServer, app: str, wanted: int, limit: float = 15) -> float:
    start = time.monotonic()
    while sessions(server, app) != wanted:
        assert time.monotonic() - start < limit, f"{app}: pool did not refill to {wanted}"
        time.sleep(0.05)
    return time.monotonic() - start


@pytest.mark.parametrize("check", [True, False], ids=["check_on_checkout", "no_check"])
def test_terminate_all_pooled_backends(
    check: bool, fault_server: PostgresServer, manager: PGConnectionManager, figures: Figures
) -> None:
    app = f"rel-terminate-{'check' if check else 'nocheck'}"
    cfg = pool_config(
        fault_server, app, min_size=POOL_SIZE, max_size=POOL_SIZE, check_on_checkout=check
    )
    pool = manager.get_database_connection_from_dict(cfg, "pool")
    pool.open()
    _wait_for_sessions(fault_server, app, POOL_SIZE)
    old_pids = {
        r[0]
        for r in fault_server.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (app,)
        )
    }
    assert _terminate_all(fault_server, app) == POOL_SIZE

    errors: list[BaseException] = []

    def caller() -> None:
        try:
            with pool as conn:
                conn.execute("SELECT 1").fetchone()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=caller) for _ in range(CALLERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    refill_s = _wait_for_sessions(fault_server, app, POOL_SIZE)
    new_pids = {
        r[0]
        for r in fault_server.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (app,)
        )
    }
    figures.record(
        f"pg_terminate_backend x{POOL_SIZE} ({'check_on_checkout' if check else 'no check'})",
        callers=CALLERS,
        failed_callers=len(errors),
        refill_s=refill_s,
    )
    assert not new_pids & old_pids
    for exc in errors:
        assert isinstance(exc, psycopg.OperationalError), repr(exc)
    if check:
        assert errors == []
    # Whatever happened, the next calls all work.
    for _ in range(POOL_SIZE * 2):
        with pool as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)


def test_pool_exhausted_names_pool_and_size(
    fault_server: PostgresServer, manager: PGConnectionManager, figures: Figures
) -> None:
    cfg = pool_config(fault_server, "rel-exhaust", min_size=1, max_size=2, timeout=0.5)
    cfg["pool_settings"]["name"] = "orders-pool"
    pool = manager.get_database_connection_from_dict(cfg, "pool")
    with pool, pool:
        start = time.monotonic()
        with pytest.raises(PoolExhaustedError) as info, pool:
            pass
        waited = time.monotonic() - start
    message = str(info.value)
    assert "'orders-pool'" in message
    assert "max_size=2" in message
    assert "timeout=0.5s" in message
    assert fault_server.password not in message
    figures.record("pool exhausted (sync)", waited_s=waited, timeout_s=0.5)
    with pool as conn:  # usable again once connections are back
        assert conn.execute("SELECT 1").fetchone() == (1,)


async def test_async_pool_exhausted_names_pool_and_size(
    fault_server: PostgresServer, manager: PGConnectionManager
) -> None:
    cfg = pool_config(fault_server, "rel-aexhaust", min_size=1, max_size=1, timeout=0.3)
    cfg["async_pool_settings"]["name"] = "async-orders"
    pool = await manager.get_database_connection_from_dict(cfg, "async_pool")
    async with pool:
        with pytest.raises(PoolExhaustedError) as info:
            async with pool:
                pass
    assert "'async-orders'" in str(info.value)
    assert "max_size=1" in str(info.value)
    async with pool as conn:
        assert await (await conn.execute("SELECT 1")).fetchone() == (1,)
    await manager.clear_cache_async()


def test_server_max_connections_exhausted(manager: PGConnectionManager, figures: Figures) -> None:
    server_cm = start_server(settings={"max_connections": 6}, roles={"app": "app-pw-1"})
    with server_cm as server, ExitStack() as stack:
        cfg = server.config(user="app", application_name="rel-maxconn")
        held = []
        while True:  # fill every non-reserved slot
            try:
                held.append(stack.enter_context(server.connect(user="app", password="app-pw-1")))
            except psycopg.OperationalError:
                break
        assert held, "could not open any connection"
        with pytest.raises(DatabaseConnectionError) as info:
            manager.get_database_connection_from_dict(cfg, "pool").open()
        message = str(info.value)
        assert "could not connect to PostgreSQL" in message
        assert "connection slots" in message or "too many clients" in message
        assert "app-pw-1" not in message
        with pytest.raises(DatabaseConnectionError):
            manager.get_database_connection_from_dict(cfg, "normal")
        held.pop().close()
        deadline = time.monotonic() + 10
        while sessions(server, "pgmonkey-tests") > len(held):  # the backend is exiting
            assert time.monotonic() < deadline
            time.sleep(0.05)
        normal = manager.get_database_connection_from_dict(cfg, "normal")
        with normal as conn:  # nothing broken was cached: a freed slot is used
            assert conn.execute("SELECT 1").fetchone() == (1,)
        figures.record("server max_connections exhausted", slots_filled=len(held) + 1)
        manager.clear_cache()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_server_unreachable_at_startup(
    fault_server: PostgresServer, manager: PGConnectionManager, figures: Figures
) -> None:
    cfg = pool_config(fault_server, "rel-unreachable")
    cfg["connection_settings"].update(port=_closed_port(), connect_timeout=2)
    port = cfg["connection_settings"]["port"]
    for ctype in ("normal", "pool"):
        start = time.monotonic()
        with pytest.raises(DatabaseConnectionError) as info:
            manager.get_database_connection_from_dict(cfg, ctype)  # opens at once
        elapsed = time.monotonic() - start
        message = str(info.value)
        assert f"port={port}" in message
        assert "could not connect to PostgreSQL" in message
        assert fault_server.password not in message
        figures.record(f"unreachable at startup ({ctype})", seconds_to_error=elapsed)

    async def async_types() -> None:
        for ctype in ("async", "async_pool"):
            with pytest.raises(DatabaseConnectionError) as info:
                await manager.get_database_connection_from_dict(cfg, ctype)
            assert f"port={port}" in str(info.value)
        await manager.clear_cache_async()

    asyncio.run(async_types())


def test_server_stopping_during_pool_creation(
    fault_server: PostgresServer, manager: PGConnectionManager, figures: Figures
) -> None:
    cfg = pool_config(fault_server, "rel-stop-open", min_size=8, max_size=8, timeout=3)
    stopper = threading.Timer(0.05, fault_server.stop, kwargs={"mode": "immediate"})
    try:
        stopper.start()
        outcome = "opened"
        try:
            pool = manager.get_database_connection_from_dict(cfg, "pool")
            pool.open()
        except DatabaseConnectionError as exc:
            outcome = f"{type(exc).__name__}: {str(exc)[:60]}"
        stopper.join()
    finally:
        if not fault_server.running:
            fault_server.start()
    manager.clear_cache()
    figures.record("server stopping during pool creation", outcome=outcome)
    pool = manager.get_database_connection_from_dict(cfg, "pool")
    with pool as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
