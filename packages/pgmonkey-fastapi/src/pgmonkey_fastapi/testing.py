"""Test helpers for apps using pgmonkey-fastapi.

* :func:`isolated` - while active, every database of a :class:`PGMonkeyFastAPI` is served by
  one pinned connection in an outer transaction that is rolled back at the end; the app's
  transactions become savepoints. Works with ``TestClient`` and with ``httpx.AsyncClient``::

      with isolated(pg), TestClient(app) as client:
          client.post("/users", json={...})        # rolled back afterwards

* :func:`lifespan` / :func:`client` - run the app's lifespan for ``httpx.AsyncClient`` tests
  (``ASGITransport`` alone does not run it), handing the lifespan state to each request::

      async with client(app) as http:
          response = await http.get("/users/1")

Under isolation, requests run one at a time on the pinned connection, and an explicit
``conn.commit()``/``conn.rollback()`` raises ``psycopg.ProgrammingError`` (use
``pg.transaction`` or ``conn.transaction()`` instead).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from types import TracebackType
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from pgmonkey_fastapi._errors import PGMonkeyFastAPIError
from pgmonkey_fastapi._extension import PGMonkeyFastAPI

if TYPE_CHECKING:
    import httpx
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from pgmonkey_fastapi._registry import PoolRegistry

__all__ = ["Isolation", "client", "isolated", "lifespan"]


class Isolation:
    """The isolation context returned by :func:`isolated` (``with`` or ``async with``)."""

    def __init__(self, pg: PGMonkeyFastAPI) -> None:
        self._pg = pg
        self._registries: list[PoolRegistry] = []

    def _start(self) -> None:
        if self._pg._isolation is not None:
            raise PGMonkeyFastAPIError(f"{self._pg!r} is already isolated")
        self._pg._isolation = self

    def __enter__(self) -> Isolation:
        self._start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            for registry in self._registries:
                registry.release_pins_blocking()
        finally:
            self._registries.clear()
            self._pg._isolation = None

    async def __aenter__(self) -> Isolation:
        self._start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            loop = asyncio.get_running_loop()
            for registry in self._registries:
                if registry.loop is loop:
                    await registry.release_pins()
                else:
                    await anyio.to_thread.run_sync(registry.release_pins_blocking)
        finally:
            self._registries.clear()
            self._pg._isolation = None


def isolated(pg: PGMonkeyFastAPI) -> Isolation:
    """Isolate every request served through ``pg`` in one transaction rolled back at the end.

    The pinned connection is taken from the running app's pool at the first borrow and given
    back (rolled back) when the context ends or the app shuts down, whichever comes first.
    """
    return Isolation(pg)


async def _expect(task: asyncio.Future[Any], messages: asyncio.Queue[Message], phase: str) -> None:
    """Wait for ``<phase>.complete``; re-raise the app's error on ``<phase>.failed``."""
    getter = asyncio.ensure_future(messages.get())
    await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
    if not getter.done():
        getter.cancel()
        task.result()  # the app returned or raised without answering
        raise RuntimeError(f"the app ended its lifespan without answering {phase}")
    message = getter.result()
    if message["type"] == f"{phase}.complete":
        return
    if task.done() or message["type"] == f"{phase}.failed":
        with suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), timeout=5)
        if task.done() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
    raise RuntimeError(f"{phase} failed: {message.get('message', message['type'])}")


@asynccontextmanager
async def lifespan(app: ASGIApp) -> AsyncIterator[ASGIApp]:
    """Run ``app``'s lifespan; yield an ASGI app passing the lifespan state to requests.

    A startup error (e.g. a pool that cannot connect) is raised here.
    """
    state: dict[str, Any] = {}
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    outbox: asyncio.Queue[Message] = asyncio.Queue()

    async def receive() -> Message:
        return await inbox.get()

    async def send(message: Message) -> None:
        await outbox.put(message)

    scope: Scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
    scope["state"] = state
    task = asyncio.ensure_future(app(scope, receive, send))
    try:
        await inbox.put({"type": "lifespan.startup"})
        await _expect(task, outbox, "lifespan.startup")
    except BaseException:
        if not task.done():
            task.cancel()
        raise

    async def with_state(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, "state": dict(state)}
        await app(scope, receive, send)

    try:
        yield with_state
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await _expect(task, outbox, "lifespan.shutdown")
        await task


@asynccontextmanager
async def client(
    app: ASGIApp,
    *,
    base_url: str = "http://testserver",
    raise_app_exceptions: bool = True,
    **kwargs: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """An ``httpx.AsyncClient`` talking to ``app`` in-process, with its lifespan running.

    Args:
        app: The application.
        base_url: Passed to ``httpx.AsyncClient``.
        raise_app_exceptions: ``False`` to get 500 responses instead of the app's exceptions.
        **kwargs: Passed to ``httpx.AsyncClient``.
    """
    import httpx

    async with lifespan(app) as asgi:
        transport = httpx.ASGITransport(app=asgi, raise_app_exceptions=raise_app_exceptions)
        async with httpx.AsyncClient(transport=transport, base_url=base_url, **kwargs) as http:
            yield http
