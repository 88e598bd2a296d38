"""The pools of one app run, handed to requests through the lifespan state."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, AbstractContextManager, asynccontextmanager
from typing import Any, Protocol

import anyio.to_thread
from psycopg import AsyncConnection, Connection
from psycopg.rows import TupleRow

from pgmonkey_fastapi._isolation import AsyncPin, SyncPin
from pgmonkey_fastapi._pools import close_async_pool, close_pool
from pgmonkey_fastapi._txn import AsyncBorrow, SyncBorrow

__all__ = ["PinnedPool", "PoolRegistry"]


class _Owner(Protocol):
    """What a registry needs of the extension that opened it: its test isolation state."""

    _isolation: Any  # the active pgmonkey_fastapi.testing.Isolation, or None

    def _isolation_register(self, registry: PoolRegistry, /) -> None: ...


class PoolRegistry(Mapping[str, Any]):
    """The open pools of one app run, by database name (read-only mapping).

    Available as ``request.state.pgmonkey`` in requests and as ``app.state.pgmonkey`` while
    the app runs (``pgmonkey`` being the extension's ``state_key``). The values are
    ``psycopg_pool.AsyncConnectionPool`` objects (``ConnectionPool`` with
    ``connection_type="pool"``).
    """

    def __init__(self, owner: _Owner, pools: dict[str, Any], *, asynchronous: bool):
        self._owner = owner
        self._pools = pools
        self.asynchronous = asynchronous
        self._pins: dict[str, Any] = {}
        self._pin_lock: Any = asyncio.Lock() if asynchronous else threading.Lock()
        self.loop = asyncio.get_running_loop()
        self.closed = False

    def __getitem__(self, name: str) -> Any:
        return self._pools[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._pools)

    def __len__(self) -> int:
        return len(self._pools)

    def __repr__(self) -> str:
        return f"<PoolRegistry {sorted(self._pools)} {'closed' if self.closed else 'open'}>"

    # -- borrowing

    def borrow(self, name: str) -> AbstractAsyncContextManager[Any] | AbstractContextManager[Any]:
        """A context manager lending one connection of ``name`` (async or sync by mode)."""
        return self.borrow_async(name) if self.asynchronous else self.borrow_sync(name)

    def borrow_async(
        self, name: str, *, shield: bool = True
    ) -> AbstractAsyncContextManager[AsyncConnection[TupleRow]]:
        """``async with``: one connection of ``name`` (``async_pool`` mode).

        Its return to the pool is shielded from cancellation; ``shield=False`` is for callers
        whose exit is shielded already.
        """
        if self._owner._isolation is not None:
            return self._borrow_pinned_async(name)
        return AsyncBorrow(self._pools[name], shield=shield)

    def borrow_sync(self, name: str) -> AbstractContextManager[Connection[TupleRow]]:
        """``with``: one connection of ``name`` (``pool`` mode)."""
        if self._owner._isolation is not None:
            return self._borrow_pinned(name)
        return SyncBorrow(self._pools[name])

    def is_pinned(self, conn: Any) -> bool:
        """Whether ``conn`` is a pinned test connection (transactions become savepoints)."""
        return bool(self._pins) and any(pin.conn is conn for pin in self._pins.values())

    def pool(self, name: str) -> Any:
        """The pool of ``name``, or a stand-in lending the pinned connection under isolation."""
        if self._owner._isolation is not None:
            return PinnedPool(self, name)
        return self._pools[name]

    @asynccontextmanager
    async def _borrow_pinned_async(self, name: str) -> AsyncIterator[AsyncConnection[TupleRow]]:
        pin = self._pins.get(name)
        if pin is None:
            async with self._pin_lock:
                pin = self._pins.get(name)
                if pin is None:
                    pin = self._pins[name] = await AsyncPin.create(self._pools[name])
                    self._owner._isolation_register(self)
        async with pin.borrow() as conn:
            yield conn

    def _borrow_pinned(self, name: str) -> AbstractContextManager[Connection[TupleRow]]:
        with self._pin_lock:
            pin = self._pins.get(name)
            if pin is None:
                pin = self._pins[name] = SyncPin.create(self._pools[name])
                self._owner._isolation_register(self)
        return pin.borrow()

    # -- releasing

    async def release_pins(self) -> None:
        """Roll back and return every pinned connection (call from the app's event loop)."""
        pins, self._pins = self._pins, {}
        for pin in pins.values():
            if self.asynchronous:
                await pin.release()
            else:
                await anyio.to_thread.run_sync(pin.release)

    def release_pins_blocking(self) -> None:
        """:meth:`release_pins` from another thread (the app's loop must be running)."""
        if not self._pins:
            return
        if self.asynchronous:
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is self.loop:
                raise RuntimeError(
                    "pgmonkey_fastapi: leave the isolation context with 'async with' inside "
                    "the app's event loop"
                )
            if self.loop.is_closed() or not self.loop.is_running():
                self._pins.clear()  # the loop is gone; the connections died with it
                return
            asyncio.run_coroutine_threadsafe(self.release_pins(), self.loop).result()
        else:
            pins, self._pins = self._pins, {}
            for pin in pins.values():
                pin.release()

    async def aclose(self, timeout: float) -> None:
        """Release the pins, then close every pool."""
        if self.closed:
            return
        self.closed = True
        await self.release_pins()
        for pool in self._pools.values():
            if self.asynchronous:
                await close_async_pool(pool, timeout)
            else:
                await anyio.to_thread.run_sync(close_pool, pool, timeout)


class PinnedPool:
    """Stands in for a pool under test isolation: ``connection()`` lends the pinned one.

    Other attributes (``name``, ``get_stats()``, ...) are those of the real pool.
    """

    def __init__(self, registry: PoolRegistry, name: str) -> None:
        self._registry = registry
        self._name = name

    def connection(self, timeout: float | None = None) -> Any:
        """Lend the pinned connection inside a savepoint (``timeout`` is ignored)."""
        return self._registry.borrow(self._name)

    def __getattr__(self, attr: str) -> Any:
        if attr in ("getconn", "putconn"):
            raise AttributeError(f"{attr}() is not available under isolation; use connection()")
        return getattr(self._registry[self._name], attr)
