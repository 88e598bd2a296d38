"""The dependency callables handed to ``Depends`` (private; built by the extension).

Their annotations are what type checkers see through ``pg.connection`` and friends: an
async ``connection``/``transaction`` yields ``psycopg.AsyncConnection[TupleRow]``, ``pool``
returns the ``psycopg_pool.AsyncConnectionPool`` (the sync flavours: ``Connection`` and
``ConnectionPool``). pgmonkey pools never change psycopg's row factory, so rows are tuples.
"""

# No ``from __future__ import annotations`` here: FastAPI reads these signatures.

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from contextlib import AbstractAsyncContextManager, AbstractContextManager, nullcontext
from typing import Any, NamedTuple, TypeVar, cast

from psycopg import AsyncConnection, Connection
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool, ConnectionPool
from starlette.requests import HTTPConnection

from pgmonkey_fastapi._middleware import PENDING_KEY
from pgmonkey_fastapi._overrides import overridden, overridden_sync
from pgmonkey_fastapi._registry import PoolRegistry
from pgmonkey_fastapi._txn import EXITS_SHIELDED, AsyncTx, SyncTx

__all__ = [
    "AsyncConnectionDependency",
    "AsyncDependencies",
    "AsyncPoolDependency",
    "ConnectionDependency",
    "PoolDependency",
    "SyncDependencies",
    "build_async",
    "build_sync",
]

AsyncConnectionDependency = Callable[..., AsyncIterator[AsyncConnection[TupleRow]]]
"""An async ``connection`` or ``transaction`` dependency."""
ConnectionDependency = Callable[..., Iterator[Connection[TupleRow]]]
"""A sync ``connection`` or ``transaction`` dependency (FastAPI runs it in its threadpool)."""
AsyncPoolDependency = Callable[..., Awaitable[AsyncConnectionPool[AsyncConnection[TupleRow]]]]
"""An async mode ``pool`` dependency."""
PoolDependency = Callable[..., Awaitable[ConnectionPool[Connection[TupleRow]]]]
"""A sync mode ``pool`` dependency (itself async: it only looks the pool up)."""

RegistryFor = Callable[[HTTPConnection], PoolRegistry]

# FastAPI shields the exit of yield dependencies itself (newer versions): no second shield.
_SHIELD = not EXITS_SHIELDED

LEASES_KEY = "pgmonkey.connections"
"""Scope key of the connections lent to the request, by ``connection`` dependency."""

_F = TypeVar("_F", bound=Callable[..., object])


class AsyncDependencies(NamedTuple):
    """The dependencies of one database in ``async_pool`` mode."""

    connection: AsyncConnectionDependency
    transaction: AsyncConnectionDependency
    pool: AsyncPoolDependency


class SyncDependencies(NamedTuple):
    """The dependencies of one database in ``pool`` mode."""

    connection: ConnectionDependency
    transaction: ConnectionDependency
    pool: PoolDependency


def _leases(scope: MutableMapping[str, Any]) -> dict[object, Any]:
    """The request's lent connections by ``connection`` dependency (created on first use)."""
    leases: dict[object, Any] | None = scope.get(LEASES_KEY)
    if leases is None:
        leases = scope[LEASES_KEY] = {}
    return leases


def _override(scope: MutableMapping[str, Any], dependency: object) -> Any:
    """The app's ``dependency_overrides`` entry for ``dependency``, or ``None``."""
    overrides = getattr(scope.get("app"), "dependency_overrides", None)
    return overrides.get(dependency) if overrides else None


def _named(func: _F, kind: str, name: str) -> _F:
    func.__name__ = func.__qualname__ = f"pgmonkey_{kind}_{name}"
    return func


def build_async(registry_for: RegistryFor, name: str) -> AsyncDependencies:
    """The async dependencies of database ``name``; ``registry_for`` finds the request's pools.

    ``transaction`` is one dependency, not one built on ``connection`` (each dependency costs
    FastAPI a resolution step, an exit-stack entry and a cancel scope per request): the two
    share the request's connection through the scope instead, whichever runs first borrowing.
    """

    async def connection(request: HTTPConnection) -> AsyncIterator[AsyncConnection[TupleRow]]:
        leases = _leases(request.scope)
        if connection in leases:  # the request's transaction borrowed it
            yield leases[connection]
            return
        async with registry_for(request).borrow_async(name, shield=_SHIELD) as conn:
            leases[connection] = conn
            try:
                yield conn
            finally:
                del leases[connection]

    async def transaction(request: HTTPConnection) -> AsyncIterator[AsyncConnection[TupleRow]]:
        scope = request.scope
        leases = _leases(scope)
        registry = registry_for(request)
        lent = leases.get(connection)
        source: AbstractAsyncContextManager[AsyncConnection[TupleRow]]
        if lent is not None:  # pg.connection borrowed it: the transaction joins its work
            source = nullcontext(lent)
        else:
            override = _override(scope, connection)
            if override is None:
                source = registry.borrow_async(name, shield=_SHIELD)
            else:
                source = overridden(override)
        async with source as conn:
            if lent is None:
                leases[connection] = conn
            tx = AsyncTx(conn, use_block=registry.is_pinned(conn))
            if tx.use_block:
                await tx.begin()
            pending = scope.get(PENDING_KEY)
            if pending is not None:
                pending.append(tx.commit)
            try:
                yield conn
            except BaseException as exc:
                await tx.rollback(exc)
                raise
            else:
                await tx.commit()
            finally:
                if pending is not None and tx.commit in pending:
                    pending.remove(tx.commit)
                if lent is None:
                    del leases[connection]

    async def pool(request: HTTPConnection) -> AsyncConnectionPool[AsyncConnection[TupleRow]]:
        # Under test isolation a PinnedPool stands in for the pool (same interface).
        return cast(
            "AsyncConnectionPool[AsyncConnection[TupleRow]]", registry_for(request).pool(name)
        )

    return AsyncDependencies(
        _named(connection, "connection", name),
        _named(transaction, "transaction", name),
        _named(pool, "pool", name),
    )


def build_sync(registry_for: RegistryFor, name: str) -> SyncDependencies:
    """The sync dependencies of database ``name``; ``registry_for`` finds the request's pools.

    As in :func:`build_async`, ``transaction`` is one dependency sharing the request's
    connection with ``connection`` through the scope. For sync dependencies this matters
    more: FastAPI runs the entry and the exit of each one in its threadpool, so a transaction
    built on ``connection`` would cost four thread hand-offs per request instead of two.
    """

    def connection(request: HTTPConnection) -> Iterator[Connection[TupleRow]]:
        leases = _leases(request.scope)
        if connection in leases:  # the request's transaction borrowed it
            yield leases[connection]
            return
        with registry_for(request).borrow_sync(name) as conn:
            leases[connection] = conn
            try:
                yield conn
            finally:
                del leases[connection]

    def transaction(request: HTTPConnection) -> Iterator[Connection[TupleRow]]:
        scope = request.scope
        leases = _leases(scope)
        registry = registry_for(request)
        lent = leases.get(connection)
        source: AbstractContextManager[Connection[TupleRow]]
        if lent is not None:  # pg.connection borrowed it: the transaction joins its work
            source = nullcontext(lent)
        else:
            override = _override(scope, connection)
            source = registry.borrow_sync(name) if override is None else overridden_sync(override)
        with source as conn:
            if lent is None:
                leases[connection] = conn
            tx = SyncTx(conn, use_block=registry.is_pinned(conn))
            tx.begin()
            pending = scope.get(PENDING_KEY)
            commit_later = tx.commit_later()
            if pending is not None:
                pending.append(commit_later)
            try:
                yield conn
            except BaseException as exc:
                tx.rollback(exc)
                raise
            else:
                tx.commit()
            finally:
                if pending is not None and commit_later in pending:
                    pending.remove(commit_later)
                if lent is None:
                    del leases[connection]

    async def pool(request: HTTPConnection) -> ConnectionPool[Connection[TupleRow]]:
        return cast("ConnectionPool[Connection[TupleRow]]", registry_for(request).pool(name))

    return SyncDependencies(
        _named(connection, "connection", name),
        _named(transaction, "transaction", name),
        _named(pool, "pool", name),
    )
