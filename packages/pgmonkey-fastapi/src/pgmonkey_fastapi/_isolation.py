"""Pinned connections for test isolation (private; the public API is in ``testing``).

A pin is one connection checked out of an app run's real pool and kept in an outer
transaction (``force_rollback``) for as long as an isolation context is active. Every borrow
of that database gets the same connection inside a savepoint, so the app's commits become
savepoint releases and everything is rolled back when the pin is released.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import anyio
from psycopg import AsyncConnection, Connection
from psycopg_pool import AsyncConnectionPool, ConnectionPool

logger = logging.getLogger("pgmonkey.fastapi")

__all__ = ["AsyncPin", "SyncPin"]


class AsyncPin:
    """One pinned async connection; borrows from the same task nest, others wait their turn."""

    def __init__(
        self, pool: AsyncConnectionPool[Any], conn: AsyncConnection[Any], outer: Any
    ) -> None:
        self.pool = pool
        self.conn = conn
        self.loop = asyncio.get_running_loop()
        self._outer: Any = outer
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None
        self._depth = 0
        self.released = False

    @classmethod
    async def create(cls, pool: AsyncConnectionPool[Any]) -> AsyncPin:
        """Check out a connection and open the outer transaction."""
        conn = await pool.getconn()
        try:
            outer = conn.transaction(force_rollback=True)
            await outer.__aenter__()
        except BaseException:
            await pool.putconn(conn)
            raise
        return cls(pool, conn, outer)

    @asynccontextmanager
    async def borrow(self) -> AsyncIterator[AsyncConnection[Any]]:
        """The pinned connection inside a savepoint (released on success)."""
        task = asyncio.current_task()
        if self._owner is not task:
            await self._lock.acquire()
            self._owner = task
        self._depth += 1
        try:
            async with self.conn.transaction():
                yield self.conn
        finally:
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._lock.release()

    async def release(self) -> None:
        """Roll back everything done through the pin and return the connection."""
        if self.released:
            return
        self.released = True
        with anyio.CancelScope(shield=True):
            try:
                await self._outer.__aexit__(None, None, None)
            except Exception as exc:
                logger.warning("rolling back the isolation transaction failed: %s", exc)
                await self.conn.close()
            await self.pool.putconn(self.conn)


class SyncPin:
    """One pinned sync connection (requests are expected to run one at a time)."""

    def __init__(self, pool: ConnectionPool[Any], conn: Connection[Any], outer: Any) -> None:
        self.pool = pool
        self.conn = conn
        self._outer: Any = outer
        self.released = False

    @classmethod
    def create(cls, pool: ConnectionPool[Any]) -> SyncPin:
        """Check out a connection and open the outer transaction."""
        conn = pool.getconn()
        try:
            outer = conn.transaction(force_rollback=True)
            outer.__enter__()
        except BaseException:
            pool.putconn(conn)
            raise
        return cls(pool, conn, outer)

    @contextmanager
    def borrow(self) -> Iterator[Connection[Any]]:
        """The pinned connection inside a savepoint (released on success)."""
        with self.conn.transaction():
            yield self.conn

    def release(self) -> None:
        """Roll back everything done through the pin and return the connection."""
        if self.released:
            return
        self.released = True
        try:
            self._outer.__exit__(None, None, None)
        except Exception as exc:
            logger.warning("rolling back the isolation transaction failed: %s", exc)
            self.conn.close()
        self.pool.putconn(self.conn)
