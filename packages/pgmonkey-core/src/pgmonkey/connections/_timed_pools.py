"""psycopg_pool pools that time every borrow for their metrics (see :mod:`pgmonkey._metrics`).

The pools pgmonkey opens with metrics on are these subclasses, so every borrow is timed
wherever it comes from: pgmonkey's ``with pool`` blocks, the framework extensions, and the
application's own ``pool.connection()`` or ``getconn()``/``putconn()``. A pool with metrics
off is psycopg_pool's own class, untouched, and so is a pool with metrics on while no
MeterProvider is set up, until the first collection (see :class:`~pgmonkey._metrics.PoolMetrics`).

A borrow costs two ``perf_counter()`` calls in ``getconn`` and one in ``putconn``, and one
call of the recorder each (see :meth:`~pgmonkey._metrics.PoolMetrics.lent`): the time it was
lent is kept on the connection itself, so no table of borrowed connections is kept.
"""

from __future__ import annotations

from time import perf_counter
from typing import TYPE_CHECKING, Any

from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout

if TYPE_CHECKING:
    from pgmonkey._metrics import PoolMetrics

__all__ = ["TimedAsyncConnectionPool", "TimedConnectionPool", "new_async_pool", "new_pool"]

# The parents' methods, called directly: no ``super()`` object per borrow.
_getconn = ConnectionPool.getconn
_putconn = ConnectionPool.putconn
_agetconn = AsyncConnectionPool.getconn
_aputconn = AsyncConnectionPool.putconn


class TimedConnectionPool(ConnectionPool[Any]):
    """A ``ConnectionPool`` recording each borrow's wait and use time, and its timeouts."""

    pgmonkey_metrics: PoolMetrics

    def getconn(self, timeout: float | None = None) -> Any:
        """``ConnectionPool.getconn``, timed (a ``PoolTimeout`` counts as a timeout)."""
        start = perf_counter()
        try:
            conn = _getconn(self, timeout)
        except PoolTimeout:
            self.pgmonkey_metrics.timed_out()
            raise
        self.pgmonkey_metrics.lent(conn, start)
        return conn

    def putconn(self, conn: Any) -> None:
        """``ConnectionPool.putconn``, recording how long the connection was held."""
        self.pgmonkey_metrics.returned(conn)
        _putconn(self, conn)


class TimedAsyncConnectionPool(AsyncConnectionPool[Any]):
    """An ``AsyncConnectionPool`` recording each borrow's wait and use time, and its timeouts."""

    pgmonkey_metrics: PoolMetrics

    async def getconn(self, timeout: float | None = None) -> Any:
        """``AsyncConnectionPool.getconn``, timed (a ``PoolTimeout`` counts as a timeout)."""
        start = perf_counter()
        try:
            conn = await _agetconn(self, timeout)
        except PoolTimeout:
            self.pgmonkey_metrics.timed_out()
            raise
        self.pgmonkey_metrics.lent(conn, start)
        return conn

    async def putconn(self, conn: Any) -> None:
        """``AsyncConnectionPool.putconn``, recording how long the connection was held."""
        self.pgmonkey_metrics.returned(conn)
        await _aputconn(self, conn)


def new_pool(metrics: PoolMetrics | None, **kwargs: Any) -> ConnectionPool[Any]:
    """A closed ``ConnectionPool`` built with ``kwargs``, timed when ``metrics`` is live.

    A dormant recorder's pool is psycopg_pool's class until the recorder wakes.
    """
    if metrics is None:
        return ConnectionPool(**kwargs)
    pool = (TimedConnectionPool if metrics.live else ConnectionPool)(**kwargs)
    pool.pgmonkey_metrics = metrics  # type: ignore[attr-defined]
    metrics.bind(pool, TimedConnectionPool)
    return pool


def new_async_pool(metrics: PoolMetrics | None, **kwargs: Any) -> AsyncConnectionPool[Any]:
    """A closed ``AsyncConnectionPool`` built with ``kwargs``, timed when ``metrics`` is live.

    A dormant recorder's pool is psycopg_pool's class until the recorder wakes.
    """
    if metrics is None:
        return AsyncConnectionPool(**kwargs)
    pool = (TimedAsyncConnectionPool if metrics.live else AsyncConnectionPool)(**kwargs)
    pool.pgmonkey_metrics = metrics  # type: ignore[attr-defined]
    metrics.bind(pool, TimedAsyncConnectionPool)
    return pool
