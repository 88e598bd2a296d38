"""``app.dependency_overrides`` of ``pg.connection`` feeding ``pg.transaction`` (private).

The ``transaction`` dependency borrows on its own (it is not built on ``connection``,
which would cost a second dependency per request). When the app overrides ``connection``, the
transaction runs the override itself, as FastAPI would, so both still get the override's
connection; an override needing parameters of its own cannot be run that way and is refused.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
)
from typing import Any

import anyio.from_thread
from fastapi.concurrency import contextmanager_in_threadpool, run_in_threadpool

from pgmonkey_fastapi._errors import PGMonkeyFastAPIError

__all__ = ["overridden", "overridden_sync"]


def _refuse_parameters(call: Callable[..., Any]) -> None:
    if inspect.signature(call).parameters:
        raise PGMonkeyFastAPIError(
            f"pg.connection is overridden by {getattr(call, '__qualname__', call)!r}, which "
            "takes parameters: pg.transaction runs the override itself and cannot fill them; "
            "override pg.transaction too (or use pgmonkey_fastapi.testing.isolated)"
        )


def overridden(call: Callable[..., Any]) -> AbstractAsyncContextManager[Any]:
    """The connection of ``call`` (the override of ``pg.connection``), as FastAPI lends it."""
    _refuse_parameters(call)
    if inspect.isasyncgenfunction(call):
        return asynccontextmanager(call)()
    if inspect.isgeneratorfunction(call):
        return contextmanager_in_threadpool(contextmanager(call)())
    return _returned(call)


@asynccontextmanager
async def _returned(call: Callable[..., Any]) -> AsyncIterator[Any]:
    if inspect.iscoroutinefunction(call):
        yield await call()
    else:
        yield await run_in_threadpool(call)


def overridden_sync(call: Callable[..., Any]) -> AbstractContextManager[Any]:
    """:func:`overridden` from one of FastAPI's worker threads (``connection_type="pool"``).

    A sync override runs in this thread; an async one runs on the app's event loop.
    """
    _refuse_parameters(call)
    if inspect.isgeneratorfunction(call):
        return contextmanager(call)()
    if inspect.isasyncgenfunction(call) or inspect.iscoroutinefunction(call):
        return _on_event_loop(overridden(call))
    return _called(call)


@contextmanager
def _called(call: Callable[..., Any]) -> Iterator[Any]:
    yield call()


@contextmanager
def _on_event_loop(manager: AbstractAsyncContextManager[Any]) -> Iterator[Any]:
    value = anyio.from_thread.run(manager.__aenter__)
    try:
        yield value
    except BaseException as exc:
        if not anyio.from_thread.run(manager.__aexit__, type(exc), exc, exc.__traceback__):
            raise
    else:
        anyio.from_thread.run(manager.__aexit__, None, None, None)
