"""Commit before the response on every FastAPI version (pure ASGI middleware)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["PENDING_KEY", "CommitBeforeResponseMiddleware"]

PENDING_KEY = "pgmonkey.pending_commits"
"""Scope key of the list of commits a request's transactions still owe."""

_Scope = MutableMapping[str, Any]
_Message = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[_Message]]
_Send = Callable[[_Message], Awaitable[None]]


class CommitBeforeResponseMiddleware:
    """Commit the request's open ``pg.transaction`` before the response starts.

    Whatever FastAPI version decides about the exit code of ``yield`` dependencies, a
    transaction that is still open when the response is about to be sent is committed first.
    When that COMMIT fails (a deferred constraint, a serialization failure) the error
    propagates instead of the response, so the client gets a 500, never a 200 for lost work.
    ``pg.init_app(app)`` installs it; with ``FastAPI(lifespan=pg.lifespan)`` add it yourself::

        app.add_middleware(CommitBeforeResponseMiddleware)

    Do not stream a response from the connection of a ``pg.transaction``: the transaction
    ends when the response starts (use ``pg.connection`` for streaming).
    """

    def __init__(self, app: Callable[[_Scope, _Receive, _Send], Awaitable[None]]) -> None:
        self.app = app

    def __call__(self, scope: _Scope, receive: _Receive, send: _Send) -> Awaitable[None]:
        """Run the app, committing the pending transactions at ``http.response.start``.

        A plain function returning the app's awaitable (and a ``send`` that returns the
        server's own awaitable when there is nothing to commit): no coroutine frame of ours
        stays in the request's await chain, which every suspension would have to cross.
        """
        if scope["type"] != "http":
            return self.app(scope, receive, send)
        pending: list[Callable[[], Awaitable[None]]] = []
        scope[PENDING_KEY] = pending

        def send_after_commit(message: _Message) -> Awaitable[None]:
            if pending and message["type"] == "http.response.start":
                return _commit_then_send(pending, send, message)
            return send(message)

        return self.app(scope, receive, send_after_commit)


async def _commit_then_send(
    pending: list[Callable[[], Awaitable[None]]], send: _Send, message: _Message
) -> None:
    while pending:
        await pending.pop(0)()
    await send(message)
