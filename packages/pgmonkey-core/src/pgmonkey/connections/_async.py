"""The async twins of ``_sync.py``: ``AsyncConnection`` and ``AsyncConnectionPool``.

An async object belongs to the event loop that opened it. Used from a later loop (a new
``asyncio.run()``) after that loop ended, it opens a fresh connection or pool in the new loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Mapping
from time import perf_counter
from types import TracebackType
from typing import Any, ClassVar, cast

import psycopg
from psycopg_pool import AsyncConnectionPool as _PsycopgAsyncPool
from psycopg_pool import PoolClosed, PoolTimeout

from pgmonkey import _lifecycle, _metrics
from pgmonkey.connections._base import BaseConnection
from pgmonkey.connections._connect_async import connect_async, open_async_pool
from pgmonkey.connections._health import looks_dead
from pgmonkey.connections._params import metrics_switch
from pgmonkey.errors import DatabaseConnectionError

__all__ = ["AsyncConnection", "AsyncConnectionPool", "finish_async_connection"]

logger = logging.getLogger("pgmonkey.connections")

_running_loop = asyncio.get_running_loop


def finish_async_connection(conn: psycopg.AsyncConnection[Any] | None) -> None:
    """Close an async connection without an event loop (its loop is gone)."""
    if conn is not None and not conn.closed:
        with contextlib.suppress(Exception):
            conn.pgconn.finish()


def _finish_async_pool(pool: _PsycopgAsyncPool[Any] | None) -> None:
    """Close an async pool whose event loop is gone: its idle connections, without awaiting."""
    if pool is None or pool.closed:
        return
    with contextlib.suppress(Exception):
        idle = list(pool._pool)
        pool._pool.clear()
        pool._closed = True
        for conn in idle:
            finish_async_connection(conn)


def _loop_usable(loop: asyncio.AbstractEventLoop | None) -> bool:
    return loop is not None and not loop.is_closed()


class _AsyncBlocks(BaseConnection):
    """``transaction()`` and ``test_connection()``, built on the subclass's own blocks."""

    _test_what: ClassVar[str] = "connection"

    async def __aenter__(self) -> psycopg.AsyncConnection[Any]:
        raise NotImplementedError

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        raise NotImplementedError

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A block in a psycopg transaction; yields the connection.

        For a pool the block borrows a connection; nested in another block of the same
        connection it is a savepoint.
        """
        async with self as conn, conn.transaction():
            yield conn

    async def test_connection(self) -> None:
        """Run ``SELECT 1`` in a block (for a pool: on a borrowed connection).

        Raises:
            DatabaseConnectionError: No connection could be opened, borrowed or used.
        """
        try:
            async with self as conn:
                await (await conn.execute("SELECT 1")).fetchone()
        except psycopg.Error as exc:
            raise self._test_error(self._test_what, exc) from exc


class AsyncConnection(_AsyncBlocks):
    """One cached psycopg ``AsyncConnection`` (``connection_type: async``).

    ``async with conn as c:`` yields the real :class:`psycopg.AsyncConnection`, commits on a
    clean exit and rolls back on an exception, and keeps the connection open. Blocks of
    different tasks take turns; a block nested in another one of the same task runs in a
    savepoint. A connection the server closed is replaced at the next block.
    """

    connection_type = "async"

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock: asyncio.Lock | None = None
        self._retired = False
        self._metrics = _metrics.attach_connection(self, metrics_switch(self.config))
        _lifecycle.track(self)

    async def connect(self) -> None:
        """Open the connection now if it is not open (blocks open it on demand anyway).

        Raises:
            DatabaseConnectionError: The server cannot be reached or refused the login.
        """
        await self._live()

    @property
    def connection(self) -> psycopg.AsyncConnection[Any] | None:
        """The underlying psycopg ``AsyncConnection`` (``None`` before the first use)."""
        return self._conn

    def _handle(self) -> psycopg.AsyncConnection[Any] | None:
        return self._conn

    def _metric_stats(self) -> _metrics.Stats:
        """Its counts for the observable instruments (``None`` once retired)."""
        if self._retired or self._metrics is None:
            return None
        conn, lock = self._conn, self._lock
        is_open = conn is not None and not conn.closed
        return _metrics.unpooled_stats(is_open, lock is not None and lock.locked(), self._metrics)

    def _bind(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._lock is None:
            if _loop_usable(self._loop) and self._loop.is_running():  # type: ignore[union-attr]
                raise self._other_loop_error("connection")
            finish_async_connection(self._conn)
            self._conn = None
            self._loop = loop
            self._lock = asyncio.Lock()
            _lifecycle.close_at_loop_end(self)
        return self._lock

    async def _live(self) -> psycopg.AsyncConnection[Any]:
        self._bind()
        conn = self._conn
        if conn is None or looks_dead(conn):
            if conn is not None:
                logger.info("replacing a closed connection (%s)", self.target)
                with contextlib.suppress(Exception):
                    await conn.close()
            self._conn = None
            start = perf_counter()
            self._conn = conn = await connect_async(self.config)
            if self._metrics is not None:
                self._metrics.created(perf_counter() - start)
            self._opened = True
        return conn

    # -- blocks

    async def __aenter__(self) -> psycopg.AsyncConnection[Any]:
        stack = self._blocks.get()
        me = asyncio.current_task()
        if stack and stack[-1][0] is me:
            conn: psycopg.AsyncConnection[Any] = stack[-1][1]
            savepoint = conn.transaction()
            await savepoint.__aenter__()
            self._blocks.set((*stack, (me, conn, savepoint, 0.0)))
            return conn
        lock = self._bind()
        metrics = self._metrics
        start = 0.0
        if metrics is not None and metrics.live:
            start = perf_counter()
            if lock.locked():
                await metrics.wait_turn_async(lock, me)
            else:
                await lock.acquire()
        else:
            metrics = None
            await lock.acquire()
        try:
            conn = await self._live()
        except BaseException:
            lock.release()
            raise
        borrowed = 0.0  # when the block got the connection; 0.0: not timed
        if metrics is not None:
            borrowed = perf_counter()
            metrics.waited(borrowed - start)
        self._blocks.set((*stack, (me, conn, None, borrowed)))
        return conn

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack = self._blocks.get()
        _, conn, savepoint, borrowed = stack[-1]
        self._blocks.set(stack[:-1])
        if savepoint is not None:
            await savepoint.__aexit__(exc_type, exc, tb)
            return
        try:
            if not (conn.closed or conn.broken):
                if exc_type is not None:
                    with contextlib.suppress(psycopg.OperationalError):
                        await conn.rollback()
                else:
                    await conn.commit()
        finally:
            if (conn.closed or conn.broken) and self._conn is conn:
                self._conn = None
            if self._lock is not None:
                self._lock.release()
            if borrowed and self._metrics is not None:
                self._metrics.used(perf_counter() - borrowed)
            if self._retired:
                await self._aclose_quietly()

    # -- direct use

    def cursor(self, *args: Any, **kwargs: Any) -> psycopg.AsyncCursor[Any]:
        """A cursor of the underlying connection.

        Raises:
            DatabaseConnectionError: The connection is not open (use a block or ``connect()``).
        """
        conn = self._conn
        if conn is None or conn.closed:
            raise DatabaseConnectionError(
                "no open connection: use `async with conn as c:` or `await conn.connect()` first"
            )
        return cast("psycopg.AsyncCursor[Any]", conn.cursor(*args, **kwargs))

    async def commit(self) -> None:
        """Commit the underlying connection's transaction (nothing if it is not open)."""
        if self._conn is not None and not self._conn.closed:
            await self._conn.commit()

    async def rollback(self) -> None:
        """Roll back the underlying connection's transaction (nothing if it is not open)."""
        if self._conn is not None and not self._conn.closed:
            await self._conn.rollback()

    async def disconnect(self) -> None:
        """Close the connection; the next block opens a new one."""
        await self._aclose_quietly()

    close = disconnect

    # -- lifecycle

    async def _aretire(self) -> None:
        self._retired = True
        if self._lock is None or not self._lock.locked():
            await self._aclose_quietly()

    async def _aclose_quietly(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            if self._loop is asyncio.get_running_loop():
                with contextlib.suppress(Exception):
                    await conn.close()
            else:
                finish_async_connection(conn)

    def _close_sync(self) -> None:
        conn, self._conn = self._conn, None
        finish_async_connection(conn)

    async def _aclose_at_loop_end(self, loop: asyncio.AbstractEventLoop) -> None:
        """Its loop is ending: close the connection in it (after a running block, bounded)."""
        lock = self._lock
        if self._loop is not loop or lock is None:
            return
        if lock.locked():  # a block of a task being cancelled: let it finish first
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(lock.acquire(), _lifecycle.LOOP_END_TIMEOUT / 2)
        if self._loop is loop:
            await self._aclose_quietly()
            self._loop = None
            self._lock = None

    def _drop_dead_loop(self) -> None:
        """Its loop ended: close the connection without awaiting; reopen on next use."""
        self._close_sync()
        self._loop = None
        self._lock = None

    def _after_fork_in_child(self) -> None:
        _lifecycle.forget(self._conn)
        self._conn = None
        self._loop = None
        self._lock = None
        self._blocks.set(())
        if self._metrics is not None:
            self._metrics.waiting.clear()

    def _close_at_exit(self) -> None:
        self._close_sync()


class AsyncConnectionPool(_AsyncBlocks):
    """A cached psycopg_pool ``AsyncConnectionPool`` (``connection_type: async_pool``).

    Each ``async with pool as c:`` block borrows its own connection (a real
    :class:`psycopg.AsyncConnection`) and returns it: committed on a clean exit, rolled back on
    an exception. Blocks nest and run concurrently in any number of tasks.
    """

    connection_type = "async_pool"
    _test_what = "pool"

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self._pool: _PsycopgAsyncPool[Any] | None = None
        self._metrics: _metrics.PoolMetrics | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._open_lock: asyncio.Lock | None = None
        self._thread_lock = threading.Lock()
        _lifecycle.track(self)

    async def open(self, *, wait: bool = True) -> None:
        """Open the pool in the running loop (no-op if open).

        Raises:
            DatabaseConnectionError: The pool cannot be opened.
        """
        await self._ensure_pool(wait=wait)

    connect = open

    async def _ensure_pool(self, *, wait: bool = True) -> _PsycopgAsyncPool[Any]:
        loop = asyncio.get_running_loop()
        with self._thread_lock:
            if self._loop is not loop:
                if _loop_usable(self._loop) and self._loop.is_running():  # type: ignore[union-attr]
                    raise self._other_loop_error("pool")
                _finish_async_pool(self._pool)
                self._pool = None
                self._loop = loop
                self._open_lock = asyncio.Lock()
                _lifecycle.close_at_loop_end(self)
            lock = self._open_lock
        assert lock is not None
        async with lock:
            if self._closed:
                raise self._closed_error()
            if self._pool is None:
                self._pool = await open_async_pool(self.config, wait=wait)
                self._metrics = _metrics.metrics_of(self._pool)
                self._opened = True
            return self._pool

    @property
    def pool(self) -> _PsycopgAsyncPool[Any] | None:
        """The underlying psycopg_pool ``AsyncConnectionPool`` (``None`` before opening)."""
        return self._pool

    def _handle(self) -> _PsycopgAsyncPool[Any] | None:
        return self._pool

    # -- blocks

    # The borrow path is psycopg_pool's own ``connection()`` unrolled (getconn, the
    # connection's commit/rollback exit, putconn): no generator-based context manager layer.

    async def __aenter__(self) -> psycopg.AsyncConnection[Any]:
        pool = self._pool
        if pool is None or self._loop is not _running_loop():
            pool = await self._ensure_pool()
        try:
            conn: psycopg.AsyncConnection[Any] = await pool.getconn()
        except PoolTimeout as exc:
            raise self._exhausted_error(pool) from exc
        except PoolClosed:
            raise self._closed_error() from None
        self._blocks.set((*self._blocks.get(), (pool, conn)))
        return conn

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack = self._blocks.get()
        self._blocks.set(stack[:-1])
        pool, conn = stack[-1]
        try:
            await conn.__aexit__(exc_type, exc, tb)  # commit, or roll back on an exception
        finally:
            await pool.putconn(conn)

    # -- direct use inside a block

    def cursor(self, *args: Any, **kwargs: Any) -> psycopg.AsyncCursor[Any]:
        """A cursor of the connection borrowed by the innermost block of this task.

        Raises:
            DatabaseConnectionError: Not inside an ``async with pool`` block.
        """
        conn = self._current()
        if conn is None:
            raise self._no_block_error("async with")
        return cast("psycopg.AsyncCursor[Any]", conn.cursor(*args, **kwargs))

    async def commit(self) -> None:
        """Commit the innermost block's connection (nothing outside a block)."""
        conn = self._current()
        if conn is not None:
            await conn.commit()

    async def rollback(self) -> None:
        """Roll back the innermost block's connection (nothing outside a block)."""
        conn = self._current()
        if conn is not None:
            await conn.rollback()

    async def disconnect(self) -> None:
        """Close the pool for good; connections in use are closed when they are returned."""
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if self._loop is asyncio.get_running_loop():
            await pool.close()
        else:
            _finish_async_pool(pool)

    close = disconnect

    # -- lifecycle

    async def _aretire(self) -> None:
        await self.disconnect()

    def _close_sync(self) -> None:
        """Close without awaiting: in its loop if idle, else connection by connection."""
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is None:
            return
        loop = self._loop
        if _loop_usable(loop) and not loop.is_running():  # type: ignore[union-attr]
            try:
                loop.run_until_complete(pool.close())  # type: ignore[union-attr]
                return
            except Exception:
                logger.debug("could not close %r in its loop", self, exc_info=True)
        _finish_async_pool(pool)

    async def _aclose_at_loop_end(self, loop: asyncio.AbstractEventLoop) -> None:
        """Its loop is ending: close the pool in it (bounded); a later loop opens a new one."""
        with self._thread_lock:
            if self._loop is not loop:
                return
            pool, self._pool = self._pool, None
            self._loop = None
            self._open_lock = None
        if pool is None:
            return
        idle: list[psycopg.AsyncConnection[Any]] = list(getattr(pool, "_pool", ()))
        # Its worker tasks are being cancelled too: close() stops them for good (even one
        # that swallowed its cancellation). Waiting for them may end in CancelledError
        # before close() reaches the idle connections (psycopg_pool >= 3.3): close those here.
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await pool.close(timeout=_lifecycle.LOOP_END_TIMEOUT / 2)
        for conn in idle:
            if not conn.closed:
                with contextlib.suppress(Exception):
                    await conn.close()
        _finish_async_pool(pool)

    def _drop_dead_loop(self) -> None:
        """Its loop ended: close the connections without awaiting; reopen on next use."""
        with self._thread_lock:
            pool, self._pool = self._pool, None
            self._loop = None
        _finish_async_pool(pool)

    def _after_fork_in_child(self) -> None:
        _lifecycle.forget(self._pool)
        self._pool = None
        self._loop = None
        self._open_lock = None
        self._thread_lock = threading.Lock()
        self._blocks.set(())

    def _close_at_exit(self) -> None:
        self._close_sync()
