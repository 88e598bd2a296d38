"""Connection classes for pgmonkey's pools: fresh credentials, and no secret in errors.

psycopg_pool opens connections in the background and logs each failed attempt on the
``psycopg.pool`` logger (``error connecting in 'pool-1': ...``) before pgmonkey could see it.
The message quotes libpq, which quotes misplaced values (a ``password=`` fragment in ``host``,
a URL in ``dbname``). The pools pgmonkey opens make their connections with these classes, which
resolve the credentials for each new connection (a rotated ``from_file`` secret, a
``credential_provider``: see :mod:`pgmonkey.connections._credentials`), mask the secrets of
the connection parameters in the error where it is raised, and time each
connection for ``db.client.connection.create_time`` when the pool has metrics (see
:mod:`pgmonkey._metrics`). A pooled connection is still a ``psycopg.Connection`` (or
``AsyncConnection``).
"""

from __future__ import annotations

from time import perf_counter
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

import psycopg

from pgmonkey.config._redact import redact_exception
from pgmonkey.connections._credentials import resolve_credentials, resolve_credentials_async

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
    """A ``psycopg.Connection`` that connects with current credentials and quotes no secret.

    Give it to a psycopg_pool pool built elsewhere (``connection_class=PooledConnection``,
    as :mod:`pgmonkey_django` does for Django's pool) so that each new connection re-reads a
    rotated ``from_file`` secret and calls the ``credential_provider``.
    """

    _metrics: ClassVar[PoolMetrics | None] = None
    #: When a timed pool lent it (``perf_counter()``), 0.0 while it is in the pool.
    pgmonkey_lent_at: float = 0.0

    @classmethod
    def connect(cls, conninfo: str = "", **kwargs: Any) -> PooledConnection:
        """Connect as ``psycopg.Connection.connect`` does, with the credentials of now.

        Secrets are masked in its errors.
        """
        start = perf_counter()
        kwargs = resolve_credentials(kwargs)
        try:
            conn = super().connect(conninfo, **kwargs)
        except psycopg.Error as exc:
            redact_exception(exc, {"conninfo": conninfo, **kwargs})
            raise
        if cls._metrics is not None:
            cls._metrics.created(perf_counter() - start)
        return conn


class AsyncPooledConnection(psycopg.AsyncConnection[Any]):
    """The async twin of :class:`PooledConnection` (an async provider is awaited)."""

    _metrics: ClassVar[PoolMetrics | None] = None
    #: When a timed pool lent it (``perf_counter()``), 0.0 while it is in the pool.
    pgmonkey_lent_at: float = 0.0

    @classmethod
    async def connect(cls, conninfo: str = "", **kwargs: Any) -> AsyncPooledConnection:
        """Connect as ``psycopg.AsyncConnection.connect`` does, with the credentials of now.

        Secrets are masked in its errors.
        """
        start = perf_counter()
        kwargs = await resolve_credentials_async(kwargs)
        try:
            conn = await super().connect(conninfo, **kwargs)
        except psycopg.Error as exc:
            redact_exception(exc, {"conninfo": conninfo, **kwargs})
            raise
        if cls._metrics is not None:
            cls._metrics.created(perf_counter() - start)
        return conn
