"""Opening and closing the pools of one app run (private).

Pools come from the core (:func:`pgmonkey.connections.open_async_pool` / ``open_pool``), so
every configuration setting means the same as everywhere else in pgmonkey. With ``wait``, a
single probe connection first reports a bad configuration at once with the server's reason
(wrong password, unreachable host), then the pool gets ``wait`` seconds to reach ``min_size``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout

from pgmonkey.connections import connect, connect_async, open_async_pool, open_pool
from pgmonkey.errors import DatabaseConnectionError

logger = logging.getLogger("pgmonkey.fastapi")

__all__ = ["close_async_pool", "close_pool", "start_async_pool", "start_pool"]


def _not_ready(pool: Any, name: str, wait: float) -> DatabaseConnectionError:
    return DatabaseConnectionError(
        f"pgmonkey_fastapi: the {name!r} pool did not reach min_size={pool.min_size} "
        f"connections within wait={wait:g}s"
    )


async def start_async_pool(
    cfg: Mapping[str, Any], *, name: str, wait: float | None
) -> AsyncConnectionPool[Any]:
    """Open an async pool; with ``wait``, fail fast on a bad configuration."""
    if wait is not None:
        await (await connect_async(cfg)).close()
    pool = await open_async_pool(cfg, wait=False, name=name)
    if wait is not None:
        try:
            await pool.wait(timeout=wait)
        except PoolTimeout:
            await pool.close(timeout=0)
            raise _not_ready(pool, name, wait) from None
    logger.debug("opened async pool %r", name)
    return pool


def start_pool(cfg: Mapping[str, Any], *, name: str, wait: float | None) -> ConnectionPool[Any]:
    """Open a sync pool (blocking: call it from a worker thread in async code)."""
    if wait is not None:
        connect(cfg).close()
    pool = open_pool(cfg, wait=False, name=name)
    if wait is not None:
        try:
            pool.wait(timeout=wait)
        except PoolTimeout:
            pool.close(timeout=0)
            raise _not_ready(pool, name, wait) from None
    logger.debug("opened pool %r", name)
    return pool


async def close_async_pool(pool: AsyncConnectionPool[Any], timeout: float) -> None:
    """Close an async pool, giving borrowed connections ``timeout`` seconds to come back."""
    await pool.close(timeout=timeout)
    logger.debug("closed async pool %r", pool.name)


def close_pool(pool: ConnectionPool[Any], timeout: float) -> None:
    """Close a sync pool (blocking)."""
    pool.close(timeout=timeout)
    logger.debug("closed pool %r", pool.name)
