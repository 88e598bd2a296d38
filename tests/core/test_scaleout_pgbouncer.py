"""``pooler: pgbouncer``: the four connection types through a real transaction-mode PgBouncer."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from pgmonkey.config import load_config
from pgmonkey.connections import (
    AsyncConnection,
    AsyncConnectionPool,
    Connection,
    ConnectionPool,
    PoolerDetectedWarning,
    _pooler,
    connect,
)
from pgmonkey.errors import ConfigValidationError
from pgmonkey.testing import PgBouncer

CLIENTS = 16
QUERIES = 10_000
SQL = "SELECT %s::int * 2, %s::text"


@pytest.fixture(autouse=True)
def _forget_checked_targets() -> Iterator[None]:
    _pooler._checked.clear()
    yield
    _pooler._checked.clear()


def bouncer_config(bouncer: PgBouncer, ctype: str, **top: Any) -> dict[str, Any]:
    cfg = bouncer.config(connection_type=ctype)
    cfg["pool_settings"] = {"min_size": 2, "max_size": 8, "timeout": 10}
    cfg["async_pool_settings"] = {"min_size": 2, "max_size": 8, "timeout": 10}
    cfg.update(top)
    return load_config(cfg)


def _check(row: Any, n: int) -> None:
    assert row == (n * 2, f"q{n}")


def _sync_clients(cfg: dict[str, Any]) -> list[BaseException]:
    errors: list[BaseException] = []
    share = QUERIES // CLIENTS
    pool = ConnectionPool(cfg) if cfg["connection_type"] == "pool" else None

    def client(k: int) -> None:
        target = pool if pool is not None else Connection(cfg)
        try:
            for i in range(share):
                n = k * share + i
                with target as conn:
                    assert conn.prepare_threshold is None
                    _check(conn.execute(SQL, (n, f"q{n}")).fetchone(), n)
        except BaseException as exc:
            errors.append(exc)
        finally:
            if pool is None:
                target.disconnect()

    try:
        threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        if pool is not None:
            pool.disconnect()
    return errors


async def _async_clients(cfg: dict[str, Any]) -> list[BaseException]:
    errors: list[BaseException] = []
    share = QUERIES // CLIENTS
    pool = AsyncConnectionPool(cfg) if cfg["connection_type"] == "async_pool" else None

    async def client(k: int) -> None:
        target = pool if pool is not None else AsyncConnection(cfg)
        try:
            for i in range(share):
                n = k * share + i
                async with target as conn:
                    assert conn.prepare_threshold is None
                    cur = await conn.execute(SQL, (n, f"q{n}"))
                    _check(await cur.fetchone(), n)
        except BaseException as exc:
            errors.append(exc)
        finally:
            if pool is None:
                await target.disconnect()

    try:
        await asyncio.gather(*(client(k) for k in range(CLIENTS)))
    finally:
        if pool is not None:
            await pool.disconnect()
    return errors


@pytest.mark.parametrize("ctype", ["normal", "pool", "async", "async_pool"])
def test_ten_thousand_queries_from_sixteen_clients(pg_bouncer: PgBouncer, ctype: str) -> None:
    cfg = bouncer_config(pg_bouncer, ctype, pooler="pgbouncer")
    if ctype in ("normal", "pool"):
        errors = _sync_clients(cfg)
    else:
        errors = asyncio.run(_async_clients(cfg))
    assert errors == []
    # the transactions really went through PgBouncer
    stats = {s["database"]: s for s in pg_bouncer.show("STATS")}
    assert stats[cfg["connection_settings"]["dbname"]]["total_xact_count"] >= QUERIES


def _run_round_robin(conns: list[psycopg.Connection[Any]], rounds: int) -> None:
    for i in range(rounds):
        for conn in conns:
            conn.execute(SQL, (i, f"q{i}")).fetchone()


def test_without_the_mode_prepared_statements_break(pg_bouncer: PgBouncer) -> None:
    """Why the mode exists: psycopg prepares a repeated query, PgBouncer moves the session."""
    cfg = bouncer_config(pg_bouncer, "normal", pooler="none")
    conns = [connect(cfg, autocommit=True) for _ in range(3)]
    try:
        with pytest.raises(psycopg.Error, match="prepared statement"):
            _run_round_robin(conns, 200)
    finally:
        for conn in conns:
            conn.close()


def test_mode_turns_prepared_statements_off(pg_bouncer: PgBouncer) -> None:
    with connect(bouncer_config(pg_bouncer, "normal", pooler="pgbouncer")) as conn:
        assert conn.prepare_threshold is None
    with connect(bouncer_config(pg_bouncer, "normal", pooler="none")) as conn:
        assert conn.prepare_threshold == 5


def test_a_pooler_without_the_mode_is_detected(pg_bouncer: PgBouncer) -> None:
    cfg = bouncer_config(pg_bouncer, "normal")
    with pytest.warns(PoolerDetectedWarning, match="set 'pooler: pgbouncer'") as caught:
        connect(cfg).close()
    assert f"port={pg_bouncer.port}" in str(caught[0].message)
    connect(cfg).close()  # once per target and process: no second warning (warnings are errors)


async def test_a_pooler_without_the_mode_is_detected_async(pg_bouncer: PgBouncer) -> None:
    pool = AsyncConnectionPool(bouncer_config(pg_bouncer, "async_pool"))
    try:
        with pytest.warns(PoolerDetectedWarning, match="PgBouncer"):
            await pool.open()
    finally:
        await pool.disconnect()


def test_a_direct_connection_is_not_reported(pg_database: dict[str, Any]) -> None:
    # warnings are errors in this test suite: a false positive would fail here
    conn = Connection(load_config(pg_database))
    try:
        with conn as c:
            assert c.execute("SELECT 1").fetchone() == (1,)
    finally:
        conn.disconnect()


def test_session_settings_are_refused_with_the_reason() -> None:
    with pytest.raises(ConfigValidationError) as caught:
        load_config(
            {
                "pooler": "pgbouncer",
                "connection_settings": {"host": "bouncer"},
                "async_settings": {"statement_timeout": "1s", "work_mem": "8MB"},
            }
        )
    assert caught.value.key_path == ("async_settings",)
    text = str(caught.value)
    assert "session settings (statement_timeout, work_mem) cannot be used with" in text
    assert "ALTER ROLE" in text
    with pytest.raises(ConfigValidationError, match="options"):
        load_config({"pooler": "pgbouncer", "connection_settings": {"options": "-c a.b=1"}})


def test_pooler_is_validated_and_kept() -> None:
    cfg = load_config({"pooler": "PgBouncer", "connection_settings": {}})
    assert list(cfg)[:2] == ["connection_type", "pooler"]
    assert cfg["pooler"] == "pgbouncer"
    assert "pooler" not in load_config({"connection_settings": {}})
    with pytest.raises(ConfigValidationError, match="did you mean 'pgbouncer'"):
        load_config({"pooler": "pgbounce", "connection_settings": {}})
