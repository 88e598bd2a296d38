"""``app.dependency_overrides`` of ``pg.connection`` feeding ``pg.transaction`` (private).

The async ``transaction`` dependency borrows on its own (it is not built on ``connection``,
which would cost a second dependency per request). When the app overrides ``connection``, the
transaction runs the override itself, as FastAPI would, so both still get the override's
connection; an override needing parameters of its own cannot be run that way and is refused.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Any

from fastapi.concurrency import contextmanager_in_threadpool, run_in_threadpool

from pgmonkey_fastapi._errors import PGMonkeyFastAPIError

__all__ = ["overridden"]


def overridden(call: Callable[..., Any]) -> AbstractAsyncContextManager[Any]:
    """The connection of ``call`` (the override of ``pg.connection``), as FastAPI lends it."""
    if inspect.signature(call).parameters:
        raise PGMonkeyFastAPIError(
            f"pg.connection is overridden by {getattr(call, '__qualname__', call)!r}, which "
            "takes parameters: pg.transaction runs the override itself and cannot fill them; "
            "override pg.transaction too (or use pgmonkey_fastapi.testing.isolated)"
        )
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
