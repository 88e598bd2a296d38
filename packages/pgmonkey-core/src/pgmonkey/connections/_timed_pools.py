"""psycopg_pool pools that time every borrow for their metrics (see :mod:`pgmonkey._metrics`).

The pools pgmonkey opens with metrics on are these subclasses, so every borrow is timed
wherever it comes from: pgmonkey's ``with pool`` blocks, the framework extensions, and the
application's own ``pool.connection()`` or ``getconn()``/``putconn()``. A pool with metrics
off is psycopg_pool's own class, untouched.
"""

from __future__ import annotations

from time import perf_counter
from typing import TYPE_CHECKING, Any

from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout

if TYPE_CHECKING:
    from pgmonkey._metrics import PoolMetrics

__all__ = ["TimedAsyncConnectionPool", "TimedConnectionPool", "new_async_pool", "new_pool"]


class TimedConnectionPool(ConnectionPool[Any]):
    """A ``ConnectionPool`` recording each borrow's wait and use time, and its timeouts."""

    pgmonkey_metrics: PoolMetrics

    def getconn(self, timeout: float | None = None) -> Any:
        """``ConnectionPool.getconn``, timed (a ``PoolTimeout`` counts as a timeout)."""
        metrics = self.pgmonkey_metrics
        start = perf_counter()
        try:
            conn = super().getconn(timeout)
        except PoolTimeout:
            metrics.timed_out()
            raise
        metrics.borrowed[id(conn)] = borrowed = perf_counter()
        metrics.waited(borrowed - start)
        return conn

    def putconn(self, conn: Any) -> None:
        """``ConnectionPool.putconn``, recording how long the connection was held."""
        metrics = self.pgmonkey_metrics
        borrowed = metrics.borrowed.pop(id(conn), None)
        if borrowed is not None:
            metrics.used(perf_counter() - borrowed)
        super().putconn(conn)


class TimedAsyncConnectionPool(AsyncConnectionPool[Any]):
    """An ``AsyncConnectionPool`` recording each borrow's wait and use time, and its timeouts."""

    pgmonkey_metrics: PoolMetrics

    async def getconn(self, timeout: float | None = None) -> Any:
        """``AsyncConnectionPool.getconn``, timed (a ``PoolTimeout`` counts as a timeout)."""
        metrics = self.pgmonkey_metrics
        start = perf_counter()
        try:
            conn = await super().getconn(timeout)
        except PoolTimeout:
            metrics.timed_out()
            raise
        metrics.borrowed[id(conn)] = borrowed = perf_counter()
        metrics.waited(borrowed - start)
        return conn

    async def putconn(self, conn: Any) -> None:
        """``AsyncConnectionPool.putconn``, recording how long the connection was held."""
        metrics = self.pgmonkey_metrics
        borrowed = metrics.borrowed.pop(id(conn), None)
        if borrowed is not None:
            metrics.used(perf_counter() - borrowed)
        await super().putconn(conn)


def new_pool(metrics: PoolMetrics | None, **kwargs: Any) -> ConnectionPool[Any]:
    """A closed ``ConnectionPool`` built with ``kwargs``, timed when ``metrics`` is given."""
    if metrics is None:
        return ConnectionPool(**kwargs)
    pool = TimedConnectionPool(**kwargs)
    pool.pgmonkey_metrics = metrics
    metrics.bind(pool)
    return pool


def new_async_pool(metrics: PoolMetrics | None, **kwargs: Any) -> AsyncConnectionPool[Any]:
    """A closed ``AsyncConnectionPool`` built with ``kwargs``, timed when ``metrics`` is given."""
    if metrics is None:
        return AsyncConnectionPool(**kwargs)
    pool = TimedAsyncConnectionPool(**kwargs)
    pool.pgmonkey_metrics = metrics
    metrics.bind(pool)
    return pool
