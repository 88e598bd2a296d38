"""Connection classes for pgmonkey's pools: fresh credentials, quick recovery, no secret in errors.

psycopg_pool opens connections in the background and logs each failed attempt on the
``psycopg.pool`` logger (``error connecting in 'pool-1': ...``) before pgmonkey could see it.
The message quotes libpq, which quotes misplaced values (a ``password=`` fragment in ``host``,
a URL in ``dbname``). The pools pgmonkey opens make their connections with these classes, which

* resolve the credentials for each new connection (a rotated ``from_file`` secret, a
  ``credential_provider``: see :mod:`pgmonkey.connections._credentials`);
* retry an attempt that failed only because no suitable server is up yet (a failover, a
  restart) every 0.1 s doubling to 0.5 s, for up to 10 s, before psycopg_pool's own backoff
  (1, 2, 4 s between attempts) takes over: see :mod:`pgmonkey.connections._availability`.
  A wrong password, a missing database or a refused setting is never retried here;
* mask the secrets of the connection parameters in the error where it is raised;
* time each connection for ``db.client.connection.create_time`` when the pool has metrics
  (see :mod:`pgmonkey._metrics`).

A pooled connection is still a ``psycopg.Connection`` (or ``AsyncConnection``).

:func:`for_pool` makes the class of one pool, and :func:`watch` tells it its pool, so that
the retries stop as soon as the pool is closed (``pool.close()`` waits for its workers), and
so that :func:`check_and_sweep`, the ``check`` of pools with ``check_on_checkout``, can have
the pool discard all its broken idle connections when it finds one.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from time import perf_counter
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from pgmonkey.config._redact import redact_exception
from pgmonkey.connections._availability import RetryWindow
from pgmonkey.connections._credentials import resolve_credentials, resolve_credentials_async

if TYPE_CHECKING:
    from pgmonkey._metrics import PoolMetrics

__all__ = [
    "AsyncPooledConnection",
    "PooledConnection",
    "check_and_sweep",
    "check_and_sweep_async",
    "for_pool",
    "watch",
]

_C = TypeVar("_C", bound=type)

_CHECK_EVERY = 0.1
"""While pausing between retries, seconds between two looks at whether the pool closed."""


def check_and_sweep(conn: psycopg.Connection[Any]) -> None:
    """``check`` for pgmonkey's pools: ``ConnectionPool.check_connection``, then a sweep.

    A connection found broken at checkout usually means that its server went away and took
    every idle connection of the pool with it. psycopg_pool then checks the next idle
    connection for the same request, waiting 1, 2, 4 s between two failed checks (recent
    psycopg_pool versions, 3.3 here; 3.2.0 does not wait). So when the check fails, the
    pool's idle connections are all checked at once with its public ``check()``, which
    discards the broken ones and replaces them: the request then waits for a new connection.
    Connections of pools built elsewhere (no :func:`watch`) are only checked.
    """
    try:
        ConnectionPool.check_connection(conn)
    except Exception:
        pool = _watched_pool(conn)
        if pool is not None:
            with contextlib.suppress(Exception):
                pool.check()
        raise


async def check_and_sweep_async(conn: psycopg.AsyncConnection[Any]) -> None:
    """The async twin of :func:`check_and_sweep`."""
    try:
        await AsyncConnectionPool.check_connection(conn)
    except Exception:
        pool = _watched_pool(conn)
        if pool is not None:
            with contextlib.suppress(Exception):
                await pool.check()
        raise


def _watched_pool(conn: Any) -> Any:
    """The open pool that ``conn``'s class was told about by :func:`watch`, if any."""
    return _watched_pool_of(type(conn))


def _watched_pool_of(connection_class: type[Any]) -> Any:
    ref = getattr(connection_class, "_pgm_pool", None)
    pool = ref() if ref is not None else None
    return None if pool is None or pool.closed else pool


def for_pool(connection_class: _C, metrics: PoolMetrics | None) -> _C:
    """A subclass of ``connection_class`` for one pool, recording to ``metrics`` if given."""
    return cast(_C, type(connection_class.__name__, (connection_class,), {"_metrics": metrics}))


def watch(connection_class: type[Any], pool: Any) -> None:
    """Tell ``connection_class`` (from :func:`for_pool`) its pool.

    Its retries then stop once ``pool`` closes, and :func:`check_and_sweep` can sweep ``pool``.
    """
    connection_class._pgm_pool = weakref.ref(pool)


class _Retrying:
    """What the sync and async classes share: their pool, and when it is closed.

    The ``_pgm_`` prefix keeps these names apart from psycopg's own private ones (psycopg
    reads ``_pool`` on its connections).
    """

    _metrics: ClassVar[PoolMetrics | None] = None
    #: When a timed pool lent it (``perf_counter()``), 0.0 while it is in the pool.
    pgmonkey_lent_at: float = 0.0
    _pgm_pool: ClassVar[weakref.ref[Any] | None] = None

    @classmethod
    def _pgm_pool_closed(cls) -> bool:
        return cls._pgm_pool is not None and _watched_pool_of(cls) is None

    @classmethod
    def _pgm_retry_at(cls, exc: psycopg.Error, retry: RetryWindow) -> float | None:
        """When to try again after ``exc`` (a ``perf_counter`` time), or ``None``: raise it."""
        pause = None if cls._pgm_pool_closed() else retry.pause(exc)
        return None if pause is None else perf_counter() + pause

    @classmethod
    def _pgm_created(cls, start: float) -> None:
        if cls._metrics is not None:
            cls._metrics.created(perf_counter() - start)


class PooledConnection(_Retrying, psycopg.Connection[Any]):
    """A ``psycopg.Connection`` for pools: current credentials, quick recovery, no secret.

    Give it to a psycopg_pool pool built elsewhere (``connection_class=PooledConnection``,
    as :mod:`pgmonkey_django` does for Django's pool) so that each new connection re-reads a
    rotated ``from_file`` secret and calls the ``credential_provider``, and the pool gets its
    connections back within half a second of a server becoming available again (the retries
    of one attempt last up to 10 s; closing such a pool meanwhile waits for them).
    """

    @classmethod
    def _pgm_pause(cls, until: float | None) -> bool:
        """Sleep until ``until``; false at once if it is ``None`` or when the pool closes."""
        while until is not None and not cls._pgm_pool_closed():
            if (left := until - perf_counter()) <= 0:
                return True
            time.sleep(min(left, _CHECK_EVERY))
        return False

    @classmethod
    def connect(cls, conninfo: str = "", **kwargs: Any) -> PooledConnection:
        """Connect as ``psycopg.Connection.connect`` does, with the credentials of now.

        An attempt that failed because no suitable server is up is retried for a few
        seconds; secrets are masked in the error raised.
        """
        kwargs = resolve_credentials(kwargs)
        retry = RetryWindow()
        while True:
            start = perf_counter()
            try:
                conn = super().connect(conninfo, **kwargs)
            except psycopg.Error as exc:
                if not cls._pgm_pause(cls._pgm_retry_at(exc, retry)):
                    redact_exception(exc, {"conninfo": conninfo, **kwargs})
                    raise
                continue
            cls._pgm_created(start)
            return conn


class AsyncPooledConnection(_Retrying, psycopg.AsyncConnection[Any]):
    """The async twin of :class:`PooledConnection` (an async provider is awaited)."""

    @classmethod
    async def _pgm_pause(cls, until: float | None) -> bool:
        """Sleep until ``until``; false at once if it is ``None`` or when the pool closes."""
        while until is not None and not cls._pgm_pool_closed():
            if (left := until - perf_counter()) <= 0:
                return True
            await asyncio.sleep(min(left, _CHECK_EVERY))
        return False

    @classmethod
    async def connect(cls, conninfo: str = "", **kwargs: Any) -> AsyncPooledConnection:
        """Connect as ``psycopg.AsyncConnection.connect`` does, with the credentials of now.

        An attempt that failed because no suitable server is up is retried for a few
        seconds (cancellable); secrets are masked in the error raised.
        """
        kwargs = await resolve_credentials_async(kwargs)
        retry = RetryWindow()
        while True:
            start = perf_counter()
            try:
                conn = await super().connect(conninfo, **kwargs)
            except psycopg.Error as exc:
                if not await cls._pgm_pause(cls._pgm_retry_at(exc, retry)):
                    redact_exception(exc, {"conninfo": conninfo, **kwargs})
                    raise
                continue
            cls._pgm_created(start)
            return conn
