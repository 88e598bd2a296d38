"""The dependency callables handed to ``Depends`` (private; built by the extension)."""

# No ``from __future__ import annotations`` here: FastAPI reads these signatures.

from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends
from starlette.requests import HTTPConnection

from pgmonkey_fastapi._middleware import PENDING_KEY
from pgmonkey_fastapi._txn import AsyncTx, SyncTx

if TYPE_CHECKING:
    from pgmonkey_fastapi._extension import PGMonkeyFastAPI

__all__ = ["Dependencies", "build"]

Dependencies = tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]]


def _named(func: Callable[..., Any], kind: str, name: str) -> Callable[..., Any]:
    func.__name__ = func.__qualname__ = f"pgmonkey_{kind}_{name}"
    return func


def build(pg: "PGMonkeyFastAPI", name: str, *, asynchronous: bool) -> Dependencies:
    """The ``(connection, transaction, pool)`` dependencies of database ``name``."""
    return _build_async(pg, name) if asynchronous else _build_sync(pg, name)


def _build_async(pg: "PGMonkeyFastAPI", name: str) -> Dependencies:
    registry_for = pg._registry_for

    async def connection(request: HTTPConnection) -> AsyncIterator[Any]:
        async with registry_for(request).borrow(name) as conn:  # type: ignore[union-attr]
            yield conn

    async def transaction(
        request: HTTPConnection, conn: Annotated[Any, Depends(connection)]
    ) -> AsyncIterator[Any]:
        tx = AsyncTx(conn, use_block=registry_for(request).is_pinned(conn))
        await tx.begin()
        pending = request.scope.get(PENDING_KEY)
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

    async def pool(request: HTTPConnection) -> Any:
        return registry_for(request).pool(name)

    return (
        _named(connection, "connection", name),
        _named(transaction, "transaction", name),
        _named(pool, "pool", name),
    )


def _build_sync(pg: "PGMonkeyFastAPI", name: str) -> Dependencies:
    registry_for = pg._registry_for

    def connection(request: HTTPConnection) -> Iterator[Any]:
        with registry_for(request).borrow(name) as conn:  # type: ignore[union-attr]
            yield conn

    def transaction(
        request: HTTPConnection, conn: Annotated[Any, Depends(connection)]
    ) -> Iterator[Any]:
        tx = SyncTx(conn, use_block=registry_for(request).is_pinned(conn))
        tx.begin()
        pending = request.scope.get(PENDING_KEY)
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

    async def pool(request: HTTPConnection) -> Any:
        return registry_for(request).pool(name)

    return (
        _named(connection, "connection", name),
        _named(transaction, "transaction", name),
        _named(pool, "pool", name),
    )
