"""Metrics of the unpooled types (normal, async): a pool of at most one connection."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from pgmonkey import load_config
from pgmonkey.connections import AsyncConnection, Connection, ConnectionPool
from pgmonkey.errors import ConfigValidationError
from tests._metrics_helpers import NAME, STATE, assert_no_secret, points, value
from tests.core.test_metrics_load import CANARY, _canary_config, _secrets

WORKERS = 4
ROUNDS = 10
COUNT = "db.client.connection.count"
IDLE = {STATE: "idle"}
USED = {STATE: "used"}


def _name(conn: Connection | AsyncConnection) -> str:
    recorder = conn._metrics
    assert recorder is not None
    name = recorder.attributes[NAME]
    assert name.startswith("connection-")
    return name


def _counts(reader: InMemoryMetricReader, name: str) -> tuple[int, int, int]:
    found = points(reader)
    pending = value(found, "db.client.connection.pending_requests", name)
    return value(found, COUNT, name, **IDLE), value(found, COUNT, name, **USED), pending


def test_normal_connection_reports_blocks_connects_and_waiting_threads(
    pg_server: Any, pg_database: dict[str, Any], reader: InMemoryMetricReader
) -> None:
    cfg = _canary_config(pg_server, pg_database)
    conn = Connection(cfg)
    name = _name(conn)
    assert _counts(reader, name) == (0, 0, 0)  # not opened yet

    def work() -> None:
        for _ in range(ROUNDS):
            with conn as c:
                c.execute("SELECT 1")
                with conn:  # a savepoint in the same block: not a second use
                    c.execute("SELECT 2")

    try:
        threads = [threading.Thread(target=work) for _ in range(WORKERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert _counts(reader, name) == (1, 0, 0)
        with conn:
            assert _counts(reader, name) == (0, 1, 0)
            entered = threading.Event()

            def wait_for_the_block() -> None:
                entered.set()
                with conn as c:
                    c.execute("SELECT 1")

            waiter = threading.Thread(target=wait_for_the_block)
            waiter.start()
            entered.wait()
            pending = 0
            while not pending:  # the waiter is counted once it blocks on the connection
                pending = _counts(reader, name)[2]
            assert pending == 1
        waiter.join()
        conn.disconnect()
        assert _counts(reader, name) == (0, 0, 0)
        with conn as c:  # reopened: a second connection created
            c.execute("SELECT 1")
        found = points(reader)
    finally:
        conn.disconnect()
    blocks = WORKERS * ROUNDS + 3
    assert value(found, "db.client.connection.wait_time", name) == blocks
    assert value(found, "db.client.connection.use_time", name) == blocks
    assert value(found, "db.client.connection.create_time", name) == 2
    assert value(found, "db.client.connection.max", name) == 1
    assert value(found, "db.client.connection.idle.max", name) == 1
    assert value(found, "db.client.connection.idle.min", name) == 0
    assert "db.client.connection.timeouts" not in found
    assert_no_secret(found, *_secrets(cfg))


async def test_async_connection_reports_blocks_connects_and_waiting_tasks(
    pg_server: Any, pg_database: dict[str, Any], reader: InMemoryMetricReader
) -> None:
    cfg = _canary_config(pg_server, pg_database)
    conn = AsyncConnection(cfg)
    name = _name(conn)

    async def work() -> None:
        for _ in range(ROUNDS):
            async with conn as c:
                await c.execute("SELECT 1")
                async with conn:
                    await c.execute("SELECT 2")

    try:
        await asyncio.gather(*(work() for _ in range(WORKERS)))
        assert _counts(reader, name) == (1, 0, 0)
        async with conn:
            waiter = asyncio.create_task(work())
            while not _counts(reader, name)[2]:
                await asyncio.sleep(0)
            assert _counts(reader, name) == (0, 1, 1)
        await waiter
        found = points(reader)
    finally:
        await conn.disconnect()
    blocks = (WORKERS + 1) * ROUNDS + 1
    assert value(found, "db.client.connection.wait_time", name) == blocks
    assert value(found, "db.client.connection.use_time", name) == blocks
    assert value(found, "db.client.connection.create_time", name) == 1
    assert value(found, "db.client.connection.max", name) == 1
    assert_no_secret(found, *_secrets(cfg))


def test_each_unpooled_connection_has_its_own_name(
    pg_database: dict[str, Any], reader: InMemoryMetricReader
) -> None:
    first, second = Connection(pg_database), AsyncConnection(pg_database)
    assert _name(first) != _name(second)


def test_top_level_switch_turns_every_type_off_and_a_pool_section_wins(
    pg_database: dict[str, Any], reader: InMemoryMetricReader
) -> None:
    off = load_config({**pg_database, "metrics": "off"})
    assert off["metrics"] is False
    assert Connection(off)._metrics is None
    assert AsyncConnection(off)._metrics is None
    conn = Connection(off)
    try:
        with conn as c:
            c.execute("SELECT 1")
    finally:
        conn.disconnect()
    quiet = ConnectionPool({**off, "pool_settings": {"min_size": 1, "name": "quiet-pool"}})
    loud = ConnectionPool({**off, "pool_settings": {"min_size": 1, "metrics": True}})
    try:
        with quiet, loud:
            pass
        assert quiet._metrics is None
        assert loud._metrics is not None
        loud_name = loud.pool.name
        found = points(reader)
    finally:
        quiet.disconnect()
        loud.disconnect()
    names = {p.attributes[NAME] for series in found.values() for p in series}
    assert names == {loud_name}


def test_a_bad_top_level_switch_is_reported_with_its_key() -> None:
    with pytest.raises(ConfigValidationError) as caught:
        load_config({"connection_settings": {"host": "db"}, "metrics": "sometimes"})
    assert "metrics" in str(caught.value)
    assert caught.value.key_path == ("metrics",)


def test_an_unresolved_switch_is_refused_when_connecting(pg_database: dict[str, Any]) -> None:
    loaded = load_config({**pg_database, "metrics": "${PGMONKEY_METRICS}"})
    conn = Connection(loaded)
    with pytest.raises(ConfigValidationError) as caught, conn:
        pass
    assert caught.value.key_path == ("metrics",)
    assert CANARY not in str(caught.value)
