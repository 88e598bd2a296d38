"""Borrowing a connection and running a request's transaction on it (private).

The cleanup paths run shielded from cancellation (FastAPI's own shield around a dependency's
exit where FastAPI has one, else ours): when a client disconnects or the request task is
cancelled, the rollback and the return to the pool still happen, so no session is left
``idle in transaction`` and the pool never loses track of a connection.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import Any

import anyio
import fastapi.concurrency
from psycopg import AsyncConnection, Connection
from psycopg.pq import TransactionStatus
from psycopg_pool import AsyncConnectionPool, ConnectionPool

logger = logging.getLogger("pgmonkey.fastapi")

__all__ = ["AsyncBorrow", "AsyncTx", "SyncBorrow", "SyncTx"]

_IN_TRANSACTION = (TransactionStatus.INTRANS, TransactionStatus.INERROR)

EXITS_SHIELDED = hasattr(fastapi.concurrency, "_asynccontextmanager_with_shielded_exit")
"""Whether FastAPI runs the exit of ``yield`` dependencies shielded from cancellation itself.

Newer FastAPI versions do; then the cleanup below skips its own cancel scope (a few dozen
function calls per request). Older ones, or a renamed helper, keep our shield.
"""


async def _discard_async(conn: AsyncConnection[Any]) -> None:
    """Leave ``conn`` idle (rolled back) or closed, never in a transaction."""
    if conn.closed:
        return
    status = conn.pgconn.transaction_status
    if status in _IN_TRANSACTION:
        try:
            await conn.rollback()
            return
        except Exception as exc:  # the connection is unusable: the pool replaces it
            logger.warning("rollback failed, closing the connection: %s", exc)
    elif status == TransactionStatus.IDLE:
        return
    await conn.close()  # ACTIVE (an interrupted query) or UNKNOWN (broken)


def _discard_sync(conn: Connection[Any]) -> None:
    if conn.closed:
        return
    status = conn.pgconn.transaction_status
    if status in _IN_TRANSACTION:
        try:
            conn.rollback()
            return
        except Exception as exc:
            logger.warning("rollback failed, closing the connection: %s", exc)
    elif status == TransactionStatus.IDLE:
        return
    conn.close()


class AsyncBorrow:
    """Check out a connection: commit on success, roll back on any exception, always return.

    ``async with AsyncBorrow(pool) as conn``. ``shield=False`` only where the caller already
    shields the exit (a dependency's exit, when :data:`EXITS_SHIELDED`).

    A plain class, not an ``@asynccontextmanager`` generator: every request of the FastAPI
    dependencies enters one, and the generator machinery (a generator frame, its wrapper
    object, ``anext``/``athrow`` on each side) cost about a third of a borrow.
    """

    __slots__ = ("_conn", "_pool", "_shield")

    def __init__(self, pool: AsyncConnectionPool[Any], *, shield: bool = True) -> None:
        self._pool = pool
        self._shield = shield

    async def __aenter__(self) -> AsyncConnection[Any]:
        conn: AsyncConnection[Any] = await self._pool.getconn()
        self._conn = conn
        return conn

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        conn = self._conn
        try:
            # Nothing to commit on an idle connection (a read-only request in autocommit).
            if exc_type is None and conn.pgconn.transaction_status != TransactionStatus.IDLE:
                await conn.commit()
        finally:
            if not self._shield:
                await _give_back_async(self._pool, conn)
            else:
                with anyio.CancelScope(shield=True):
                    await _give_back_async(self._pool, conn)


async def _give_back_async(pool: AsyncConnectionPool[Any], conn: AsyncConnection[Any]) -> None:
    if conn.pgconn.transaction_status != TransactionStatus.IDLE:
        await _discard_async(conn)
    await pool.putconn(conn)


class SyncBorrow:
    """Sync twin of :class:`AsyncBorrow` (``with SyncBorrow(pool) as conn``)."""

    __slots__ = ("_conn", "_pool")

    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self._pool = pool

    def __enter__(self) -> Connection[Any]:
        conn: Connection[Any] = self._pool.getconn()
        self._conn = conn
        return conn

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        conn = self._conn
        try:
            if exc_type is None and conn.pgconn.transaction_status != TransactionStatus.IDLE:
                conn.commit()
        finally:
            if conn.pgconn.transaction_status != TransactionStatus.IDLE:
                _discard_sync(conn)
            self._pool.putconn(conn)


class AsyncTx:
    """The transaction of one request on an async connection.

    On an ordinary pooled connection it joins psycopg's implicit transaction (so work done
    earlier in the request by another dependency is committed too) and ends it with
    ``commit()``; on an autocommit connection or a pinned test connection it uses a
    ``conn.transaction()`` block (``BEGIN``/``COMMIT``, or a savepoint inside the test's
    outer transaction). :meth:`commit` and :meth:`rollback` are idempotent, so the
    commit-before-response middleware and the dependency's own exit can both call them.
    """

    __slots__ = ("_block", "conn", "done", "use_block")

    def __init__(self, conn: AsyncConnection[Any], *, use_block: bool) -> None:
        self.conn = conn
        self.use_block = use_block or conn.autocommit
        self._block: AbstractAsyncContextManager[Any] | None = None
        self.done = False

    async def begin(self) -> None:
        """Start the transaction (only a ``conn.transaction()`` block sends anything)."""
        if self.use_block:
            block = self._block = self.conn.transaction()
            await block.__aenter__()

    async def commit(self) -> None:
        """Commit (or release the savepoint); a failure is raised, the work is rolled back."""
        if self.done:
            return
        self.done = True
        if self._block is not None:
            await self._block.__aexit__(None, None, None)
        else:
            await self.conn.commit()

    async def rollback(self, exc: BaseException) -> None:
        """Roll back because of ``exc`` (shielded from cancellation)."""
        if self.done:
            return
        self.done = True
        if EXITS_SHIELDED:
            await self._roll_back(exc)
        else:
            with anyio.CancelScope(shield=True):
                await self._roll_back(exc)

    async def _roll_back(self, exc: BaseException) -> None:
        if self._block is not None:
            await self._block.__aexit__(type(exc), exc, exc.__traceback__)
        else:
            await _discard_async(self.conn)


class SyncTx:
    """Sync twin of :class:`AsyncTx`."""

    __slots__ = ("_block", "conn", "done", "use_block")

    def __init__(self, conn: Connection[Any], *, use_block: bool) -> None:
        self.conn = conn
        self.use_block = use_block or conn.autocommit
        self._block: AbstractContextManager[Any] | None = None
        self.done = False

    def begin(self) -> None:
        """Start the transaction."""
        if self.use_block:
            block = self._block = self.conn.transaction()
            block.__enter__()

    def commit(self) -> None:
        """Commit (or release the savepoint)."""
        if self.done:
            return
        self.done = True
        if self._block is not None:
            self._block.__exit__(None, None, None)
        else:
            self.conn.commit()

    def rollback(self, exc: BaseException) -> None:
        """Roll back because of ``exc``."""
        if self.done:
            return
        self.done = True
        if self._block is not None:
            self._block.__exit__(type(exc), exc, exc.__traceback__)
        else:
            _discard_sync(self.conn)

    def commit_later(self) -> Callable[[], Any]:
        """An async callable that commits in a worker thread (for the middleware)."""

        async def commit() -> None:
            await anyio.to_thread.run_sync(self.commit)

        return commit
