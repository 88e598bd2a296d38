"""Liveness and readiness checks shared by the framework extensions.

The extensions serve two endpoints with the same JSON everywhere:

* ``/healthz`` (liveness): the process answers. :func:`liveness` is ``{"status": "ok"}``;
  it never touches the database, so a database outage does not make an orchestrator restart
  healthy processes.
* ``/readyz`` (readiness): a connection is borrowed from the app's pool and ``SELECT 1``
  runs on it, all within ``timeout`` seconds (default :data:`DEFAULT_TIMEOUT`). The result is
  a :class:`Readiness`; its :meth:`~Readiness.as_json` is::

      {"status": "ok", "database": "default", "pool": {"pool_size": 2, ...}}
      {"status": "unavailable", "database": "default", "reason": "...", "pool": {...}}

  ``pool`` holds ``psycopg_pool``'s ``get_stats()`` (counts only, never a host, user or
  password). ``reason`` is one of a few fixed sentences naming the kind of failure and the
  exception class; the error text itself (which may name hosts and users) is only logged, on
  the ``pgmonkey.health`` logger, redacted by :func:`pgmonkey.config.redact_text`.

Example:
    >>> from pgmonkey.health import check_pool
    >>> report = check_pool(pool, timeout=2.0)  # doctest: +SKIP
    >>> report.status_code, report.as_json()  # doctest: +SKIP
    (200, {'status': 'ok', 'database': 'default', 'pool': {...}})
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolClosed, PoolTimeout

from pgmonkey.config import redact_text
from pgmonkey.errors import DatabaseConnectionError, PgMonkeyError, PoolExhaustedError

__all__ = [
    "DEFAULT_TIMEOUT",
    "Readiness",
    "check_async_pool",
    "check_connect",
    "check_pool",
    "liveness",
    "unavailable",
]

logger = logging.getLogger("pgmonkey.health")

DEFAULT_TIMEOUT = 2.0
"""Seconds ``/readyz`` waits for a connection and the answer to ``SELECT 1``."""

QUERY = "SELECT 1"

# psycopg_pool's own errors derive from psycopg.OperationalError; they are no broken connection.
_POOL_ERRORS = (PoolTimeout, PoolClosed)


@dataclass(frozen=True)
class Readiness:
    """The outcome of one readiness check.

    Attributes:
        ok: Whether a connection was borrowed and answered ``SELECT 1`` in time.
        database: The database (pool) name the check used.
        reason: Why the check failed (``None`` when ``ok``); never quotes a secret.
        pool: The pool's ``get_stats()``, or ``None`` when there is no pool to describe.
    """

    ok: bool
    database: str
    reason: str | None = None
    pool: Mapping[str, int] | None = None

    @property
    def status_code(self) -> int:
        """The HTTP status to answer with (200 when ready, 503 otherwise)."""
        return 200 if self.ok else 503

    def as_json(self) -> dict[str, Any]:
        """The response body: ``status``, ``database``, and ``reason``/``pool`` when known."""
        body: dict[str, Any] = {
            "status": "ok" if self.ok else "unavailable",
            "database": self.database,
        }
        if self.reason is not None:
            body["reason"] = self.reason
        if self.pool is not None:
            body["pool"] = dict(self.pool)
        return body


def liveness() -> dict[str, str]:
    """The body of ``/healthz``: ``{"status": "ok"}`` (no database access)."""
    return {"status": "ok"}


def _reason(exc: BaseException, timeout: float) -> str:
    """A fixed sentence for ``exc``: its kind and class name, never its (server) text."""
    kind = type(exc).__name__
    # asyncio.TimeoutError is an alias of TimeoutError only from Python 3.11 on.
    if isinstance(exc, (PoolTimeout, PoolExhaustedError, TimeoutError, asyncio.TimeoutError)):
        return (
            f"no database connection became available within {timeout:g} s "
            f"(the database is down or the pool is exhausted; {kind})"
        )
    if isinstance(exc, PoolClosed):
        return f"the connection pool is closed ({kind})"
    if isinstance(exc, DatabaseConnectionError):
        return f"the database could not be reached ({kind})"
    if isinstance(exc, psycopg.OperationalError):
        return f"the database connection failed ({kind})"
    if isinstance(exc, psycopg.Error):
        return f"the readiness query failed ({kind})"
    return f"the readiness check failed ({kind})"


def unavailable(
    database: str,
    exc: BaseException,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    pool: Mapping[str, int] | None = None,
    config: Any = None,
    reason: str | None = None,
) -> Readiness:
    """A failed :class:`Readiness` for ``exc``, logging the redacted error text.

    Args:
        database: The database name the check used.
        exc: What went wrong.
        timeout: The check's timeout (named in the reason of a timeout).
        pool: The pool's statistics, if a pool exists.
        config: The configuration the error text may quote (its secrets are masked in the
            log record).
        reason: The reason to report, instead of the one derived from the type of ``exc``
            (it must not quote secrets either).
    """
    logger.warning(
        "readiness check of %r failed: %s: %s",
        database,
        type(exc).__name__,
        redact_text(str(exc), config),
    )
    return Readiness(False, database, reason or _reason(exc, timeout), pool)


def _stats(pool: ConnectionPool[Any] | AsyncConnectionPool[Any]) -> dict[str, int]:
    return {key: int(value) for key, value in pool.get_stats().items()}


def _check_once(pool: ConnectionPool[Any], timeout: float) -> None:
    with pool.connection(timeout=timeout) as conn:
        conn.execute(QUERY).fetchall()


def check_pool(
    pool: ConnectionPool[Any],
    *,
    database: str = "default",
    timeout: float = DEFAULT_TIMEOUT,
    config: Any = None,
) -> Readiness:
    """Borrow a connection from ``pool`` and run ``SELECT 1`` on it.

    A connection that turns out broken (the server restarted since it was opened) makes the
    pool check its idle connections (``pool.check()``, discarding the dead ones) and the
    check is tried once more with the time left, so the first check after a restart already
    succeeds. ``timeout`` bounds the waits for a pooled connection; the query itself is
    bounded by the connection's own settings (``connect_timeout``, TCP keepalives).

    Args:
        pool: An open ``psycopg_pool.ConnectionPool``.
        database: The name reported in the result.
        timeout: Seconds to wait for a connection (default :data:`DEFAULT_TIMEOUT`).
        config: The configuration behind the pool, for masking its secrets in log records.

    Returns:
        The outcome (never raises for a database or pool failure).
    """
    deadline = time.monotonic() + timeout
    try:
        try:
            _check_once(pool, timeout)
        except psycopg.OperationalError as exc:
            if isinstance(exc, _POOL_ERRORS):
                raise
            pool.check()
            _check_once(pool, max(deadline - time.monotonic(), 0.01))
    except (psycopg.Error, PgMonkeyError) as exc:  # PoolTimeout, PoolClosed included
        return unavailable(database, exc, timeout=timeout, pool=_stats(pool), config=config)
    return Readiness(True, database, pool=_stats(pool))


async def _check_once_async(pool: AsyncConnectionPool[Any], timeout: float) -> None:
    async with pool.connection(timeout=timeout) as conn:
        await (await conn.execute(QUERY)).fetchall()


async def check_async_pool(
    pool: AsyncConnectionPool[Any],
    *,
    database: str = "default",
    timeout: float = DEFAULT_TIMEOUT,
    config: Any = None,
) -> Readiness:
    """:func:`check_pool` for a ``psycopg_pool.AsyncConnectionPool``.

    The whole check, query included, is cancelled after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout

    async def attempt() -> None:
        try:
            await _check_once_async(pool, timeout)
        except psycopg.OperationalError as exc:
            if isinstance(exc, _POOL_ERRORS):
                raise
            await pool.check()
            await _check_once_async(pool, max(deadline - time.monotonic(), 0.01))

    try:
        await asyncio.wait_for(attempt(), timeout)
    except (psycopg.Error, PgMonkeyError, TimeoutError, asyncio.TimeoutError) as exc:
        return unavailable(database, exc, timeout=timeout, pool=_stats(pool), config=config)
    return Readiness(True, database, pool=_stats(pool))


def check_connect(
    connect: Callable[[], psycopg.Connection[Any]],
    *,
    database: str = "default",
    timeout: float = DEFAULT_TIMEOUT,
    config: Any = None,
) -> Readiness:
    """Open a plain connection with ``connect()``, run ``SELECT 1`` and close it.

    For apps without a pool (``connection_type: normal``); ``pool`` is absent from the
    result. The connection's own ``connect_timeout`` bounds the attempt.
    """
    try:
        with connect() as conn:
            conn.execute(QUERY).fetchall()
    except (psycopg.Error, PgMonkeyError) as exc:
        return unavailable(database, exc, timeout=timeout, config=config)
    return Readiness(True, database)
