"""The sync connection types: :class:`Connection` (``normal``) and :class:`ConnectionPool`."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Mapping
from time import perf_counter
from types import TracebackType
from typing import Any, ClassVar, cast

import psycopg
from psycopg_pool import ConnectionPool as _PsycopgPool
from psycopg_pool import PoolClosed, PoolTimeout

from pgmonkey import _lifecycle, _metrics
from pgmonkey.connections._base import BaseConnection
from pgmonkey.connections._connect import connect, open_pool
from pgmonkey.connections._health import looks_dead
from pgmonkey.connections._params import metrics_switch

__all__ = ["Connection", "ConnectionPool"]

logger = logging.getLogger("pgmonkey.connections")


class _SyncBlocks(BaseConnection):
    """``transaction()`` and ``test_connection()``, built on the subclass's own blocks."""

    _test_what: ClassVar[str] = "connection"

    def __enter__(self) -> psycopg.Connection[Any]:
        raise NotImplementedError

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        raise NotImplementedError

    @contextlib.contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Any]]:
        """A block in a psycopg transaction; yields the connection.

        For a pool the block borrows a connection; nested in another block of the same
        connection it is a savepoint.
        """
        with self as conn, conn.transaction():
            yield conn

    def test_connection(self) -> None:
        """Run ``SELECT 1`` in a block (for a pool: on a borrowed connection).

        Raises:
            DatabaseConnectionError: No connection could be opened, borrowed or used.
        """
        try:
            with self as conn:
                conn.execute("SELECT 1").fetchone()
        except psycopg.Error as exc:
            raise self._test_error(self._test_what, exc) from exc


class Connection(_SyncBlocks):
    """One cached psycopg connection (``connection_type: normal``).

    ``with conn as c:`` yields the real :class:`psycopg.Connection`, commits on a clean exit
    and rolls back on an exception, and leaves the connection open for the next block. Blocks
    from different threads take turns; a block nested in another one of the same thread runs
    in a savepoint, so an error inside it never loses the outer block's work. A connection the
    server closed (restart, terminated backend) is replaced at the next block.

    Example:
        >>> conn = Connection(cfg)  # doctest: +SKIP
        >>> with conn as c:  # doctest: +SKIP
        ...     c.execute("SELECT 1").fetchone()
    """

    connection_type = "normal"

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self._conn: psycopg.Connection[Any] | None = None
        self._lock = threading.Lock()
        self._retired = False
        self._metrics = _metrics.attach_connection(self, metrics_switch(self.config))
        _lifecycle.track(self)

    # -- the underlying connection

    def connect(self) -> None:
        """Open the connection now if it is not open (blocks open it on demand anyway).

        Raises:
            DatabaseConnectionError: The server cannot be reached or refused the login.
        """
        _ = self.connection

    @property
    def connection(self) -> psycopg.Connection[Any]:
        """The underlying psycopg connection, reopened first if it was closed or died."""
        conn = self._conn
        if conn is None or looks_dead(conn):
            conn = self._reconnect(conn)
        return conn

    def _reconnect(self, old: psycopg.Connection[Any] | None) -> psycopg.Connection[Any]:
        if old is not None:
            logger.info("replacing a closed connection (%s)", self.target)
            with contextlib.suppress(Exception):
                old.close()
        self._conn = None
        start = perf_counter()
        self._conn = conn = connect(self.config)
        if self._metrics is not None:
            self._metrics.created(perf_counter() - start)
        self._closed = False
        self._opened = True
        return conn

    def _handle(self) -> psycopg.Connection[Any] | None:
        return self._conn

    def _metric_stats(self) -> _metrics.Stats:
        """Its counts for the observable instruments (``None`` once retired)."""
        if self._retired or self._metrics is None:
            return None
        conn = self._conn
        is_open = conn is not None and not conn.closed
        return _metrics.unpooled_stats(is_open, self._lock.locked(), self._metrics)

    # -- blocks

    def __enter__(self) -> psycopg.Connection[Any]:
        stack = self._blocks.get()
        me = threading.get_ident()
        if stack and stack[-1][0] == me:
            conn: psycopg.Connection[Any] = stack[-1][1]
            savepoint = conn.transaction()
            savepoint.__enter__()
            self._blocks.set((*stack, (me, conn, savepoint, 0.0)))
            return conn
        metrics = self._metrics
        start = 0.0
        if metrics is not None and metrics.live:
            start = perf_counter()
            if not self._lock.acquire(False):
                metrics.wait_turn(self._lock, me)
        else:
            metrics = None
            self._lock.acquire()
        try:
            conn = self.connection
        except BaseException:
            self._lock.release()
            raise
        borrowed = 0.0  # when the block got the connection; 0.0: not timed
        if metrics is not None:
            borrowed = perf_counter()
            metrics.waited(borrowed - start)
        self._blocks.set((*stack, (me, conn, None, borrowed)))
        return conn

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack = self._blocks.get()
        _, conn, savepoint, borrowed = stack[-1]
        self._blocks.set(stack[:-1])
        if savepoint is not None:
            savepoint.__exit__(exc_type, exc, tb)
            return
        try:
            _finish_block(conn, failed=exc_type is not None)
        finally:
            if conn.closed or conn.broken:
                self._conn = None if self._conn is conn else self._conn
            self._lock.release()
            if borrowed and self._metrics is not None:
                self._metrics.used(perf_counter() - borrowed)
            if self._retired:
                self._close_quietly()

    # -- direct use (single-threaded code, as in earlier pgmonkey releases)

    def cursor(self, *args: Any, **kwargs: Any) -> psycopg.Cursor[Any]:
        """A cursor of the underlying connection (see :meth:`psycopg.Connection.cursor`)."""
        return cast("psycopg.Cursor[Any]", self.connection.cursor(*args, **kwargs))

    def commit(self) -> None:
        """Commit the underlying connection's transaction (nothing if it is not open)."""
        if self._conn is not None and not self._conn.closed:
            self._conn.commit()

    def rollback(self) -> None:
        """Roll back the underlying connection's transaction (nothing if it is not open)."""
        if self._conn is not None and not self._conn.closed:
            self._conn.rollback()

    def disconnect(self) -> None:
        """Close the connection; the next block opens a new one."""
        self._close_quietly()

    close = disconnect

    # -- lifecycle

    def _retire(self) -> None:
        """Close now if no block is running, else when the running block ends."""
        self._retired = True
        if self._lock.acquire(blocking=False):
            try:
                self._close_quietly()
            finally:
                self._lock.release()

    def _close_quietly(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def _after_fork_in_child(self) -> None:
        _lifecycle.forget(self._conn)
        self._conn = None
        self._lock = threading.Lock()
        self._blocks.set(())
        if self._metrics is not None:
            self._metrics.waiting.clear()

    def _close_at_exit(self) -> None:
        self._close_quietly()


def _finish_block(conn: psycopg.Connection[Any], *, failed: bool) -> None:
    if conn.closed or conn.broken:
        return
    if failed:
        with contextlib.suppress(psycopg.OperationalError):
            conn.rollback()
    else:
        conn.commit()


class ConnectionPool(_SyncBlocks):
    """A cached psycopg_pool ``ConnectionPool`` (``connection_type: pool``).

    Each ``with pool as c:`` block borrows its own connection (a real
    :class:`psycopg.Connection`) and returns it at the end: committed on a clean exit, rolled
    back on an exception. Blocks nest and run concurrently in any number of threads.

    Example:
        >>> pool = ConnectionPool(cfg)  # doctest: +SKIP
        >>> pool.open()  # doctest: +SKIP
        >>> with pool as c:  # doctest: +SKIP
        ...     c.execute("SELECT 1").fetchone()
    """

    connection_type = "pool"
    _test_what = "pool"

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self._pool: _PsycopgPool[Any] | None = None
        self._metrics: _metrics.PoolMetrics | None = None
        self._open_lock = threading.Lock()
        _lifecycle.track(self)

    def open(self, *, wait: bool = True) -> None:
        """Open the pool (no-op if open); see :func:`pgmonkey.connections.open_pool`.

        Raises:
            DatabaseConnectionError: The pool cannot be opened.
        """
        self._ensure_pool(wait=wait)

    connect = open

    def _ensure_pool(self, *, wait: bool = True) -> _PsycopgPool[Any]:
        with self._open_lock:
            if self._closed:
                raise self._closed_error()
            if self._pool is None:
                self._pool = open_pool(self.config, wait=wait)
                self._metrics = _metrics.metrics_of(self._pool)
                self._opened = True
            return self._pool

    @property
    def pool(self) -> _PsycopgPool[Any]:
        """The underlying psycopg_pool ``ConnectionPool``."""
        return self._pool or self._ensure_pool()

    def _handle(self) -> _PsycopgPool[Any] | None:
        return self._pool

    # -- blocks

    # The borrow path is psycopg_pool's own ``connection()`` unrolled (getconn, the
    # connection's commit/rollback exit, putconn): no generator-based context manager layer.

    def __enter__(self) -> psycopg.Connection[Any]:
        pool = self._pool or self._ensure_pool()
        try:
            conn: psycopg.Connection[Any] = pool.getconn()
        except PoolTimeout as exc:
            raise self._exhausted_error(pool) from exc
        except PoolClosed:
            raise self._closed_error() from None
        self._blocks.set((*self._blocks.get(), (pool, conn)))
        return conn

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack = self._blocks.get()
        self._blocks.set(stack[:-1])
        pool, conn = stack[-1]
        try:
            conn.__exit__(exc_type, exc, tb)  # commit, or roll back on an exception
        finally:
            pool.putconn(conn)

    # -- direct use inside a block

    def cursor(self, *args: Any, **kwargs: Any) -> psycopg.Cursor[Any]:
        """A cursor of the connection borrowed by the innermost ``with`` block of this thread.

        Raises:
            DatabaseConnectionError: Not inside a ``with pool`` block.
        """
        conn = self._current()
        if conn is None:
            raise self._no_block_error("with")
        return cast("psycopg.Cursor[Any]", conn.cursor(*args, **kwargs))

    def commit(self) -> None:
        """Commit the innermost block's connection (nothing outside a block)."""
        conn = self._current()
        if conn is not None:
            conn.commit()

    def rollback(self) -> None:
        """Roll back the innermost block's connection (nothing outside a block)."""
        conn = self._current()
        if conn is not None:
            conn.rollback()

    def disconnect(self) -> None:
        """Close the pool for good; connections in use are closed when they are returned."""
        with self._open_lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    close = disconnect

    # -- lifecycle

    def _retire(self) -> None:
        self.disconnect()

    def _after_fork_in_child(self) -> None:
        _lifecycle.forget(self._pool)
        self._pool = None
        self._metrics = None
        self._open_lock = threading.Lock()
        self._blocks.set(())

    def _close_at_exit(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
