"""Connection classes for pgmonkey's pools: a failed connection attempt carries no secret.

psycopg_pool opens connections in the background and logs each failed attempt on the
``psycopg.pool`` logger (``error connecting in 'pool-1': ...``) before pgmonkey could see it.
The message quotes libpq, which quotes misplaced values (a ``password=`` fragment in ``host``,
a URL in ``dbname``). The pools pgmonkey opens make their connections with these classes, which
mask the secrets of the connection parameters in the error where it is raised, and time each
connection for ``db.client.connection.create_time`` when the pool has metrics (see
:mod:`pgmonkey._metrics`). A pooled connection is still a ``psycopg.Connection`` (or
``AsyncConnection``).
"""

from __future__ import annotations

from time import perf_counter
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

import psycopg

from pgmonkey.config._redact import redact_exception

if TYPE_CHECKING:
    from pgmonkey._metrics import PoolMetrics

__all__ = ["AsyncPooledConnection", "PooledConnection", "timed"]

_C = TypeVar("_C", bound=type)


def timed(connection_class: _C, metrics: PoolMetrics | None) -> _C:
    """``connection_class``, or a subclass recording each connection's creation time."""
    if metrics is None:
        return connection_class
    return cast(_C, type(connection_class.__name__, (connection_class,), {"_metrics": metrics}))


class PooledConnection(psycopg.Connection[Any]):
    """A ``psycopg.Connection`` whose connection errors never quote a secret."""

    _metrics: ClassVar[PoolMetrics | None] = None

    @classmethod
    def connect(cls, conninfo: str = "", **kwargs: Any) -> PooledConnection:
        """Connect as ``psycopg.Connection.connect`` does; mask secrets in its errors."""
        start = perf_counter()
        try:
            conn = super().connect(conninfo, **kwargs)
        except psycopg.Error as exc:
            redact_exception(exc, {"conninfo": conninfo, **kwargs})
            raise
        if cls._metrics is not None:
            cls._metrics.created(perf_counter() - start)
        return conn


class AsyncPooledConnection(psycopg.AsyncConnection[Any]):
    """A ``psycopg.AsyncConnection`` whose connection errors never quote a secret."""

    _metrics: ClassVar[PoolMetrics | None] = None

    @classmethod
    async def connect(cls, conninfo: str = "", **kwargs: Any) -> AsyncPooledConnection:
        """Connect as ``psycopg.AsyncConnection.connect`` does; mask secrets in its errors."""
        start = perf_counter()
        try:
            conn = await super().connect(conninfo, **kwargs)
        except psycopg.Error as exc:
            redact_exception(exc, {"conninfo": conninfo, **kwargs})
            raise
        if cls._metrics is not None:
            cls._metrics.created(perf_counter() - start)
        return conn
