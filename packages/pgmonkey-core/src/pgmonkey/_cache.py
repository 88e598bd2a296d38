"""The process-wide cache behind :class:`pgmonkey.PGConnectionManager`.

Keys are ``(config digest, connection type)``, plus the event loop for the async types (an
async connection or pool belongs to the loop that opened it). Values are the wrapper objects
from :mod:`pgmonkey.connections`. A threading lock guards the dict only; creating an entry
holds a per-key lock (a threading lock for sync types, an asyncio lock for async types), so
concurrent first calls open one pool, and no threading lock is ever held across ``await``.
After ``os.fork()`` the child starts with an empty cache (the inherited objects are forgotten,
never closed: see :mod:`pgmonkey._lifecycle`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping
from typing import Any

from pgmonkey import _lifecycle
from pgmonkey.connections import (
    AsyncConnection,
    AsyncConnectionPool,
    BaseConnection,
    Connection,
    ConnectionPool,
)
from pgmonkey.errors import ConfigValidationError

__all__ = [
    "ASYNC_TYPES",
    "SYNC_TYPES",
    "VALID_CONNECTION_TYPES",
    "clear",
    "clear_async",
    "info",
    "lookup",
]

logger = logging.getLogger("pgmonkey.manager")

VALID_CONNECTION_TYPES = ("normal", "pool", "async", "async_pool")
SYNC_TYPES = frozenset({"normal", "pool"})
ASYNC_TYPES = frozenset({"async", "async_pool"})


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: dict[tuple[Any, ...], BaseConnection] = {}
        self.creating: dict[tuple[Any, ...], threading.Lock] = {}
        self.async_creating: dict[tuple[Any, ...], asyncio.Lock] = {}
        self.pending: set[asyncio.Future[Any]] = set()


_state = _State()


def _reset_in_child() -> None:
    global _state
    _lifecycle.forget(_state)
    _state = _State()


_lifecycle.on_fork_in_child(_reset_in_child)


def _forget_loop(loop: asyncio.AbstractEventLoop) -> None:
    """A loop is ending: forget its entries (the loop watch closes the objects)."""
    state = _state
    with state.lock:
        for key in [k for k in state.entries if len(k) == 3 and k[2] is loop]:
            del state.entries[key]
        for key in [k for k in state.async_creating if k[2] is loop]:
            del state.async_creating[key]


_lifecycle.on_loop_end(_forget_loop)


def resolve_type(requested: str | None, config: Mapping[str, Any]) -> str:
    """Pick the connection type: argument, then the config's ``connection_type``, then normal."""
    ctype = requested or config.get("connection_type") or "normal"
    if ctype not in VALID_CONNECTION_TYPES:
        raise ConfigValidationError(
            f"Unsupported connection type: {ctype!r}. "
            f"Valid types: {', '.join(VALID_CONNECTION_TYPES)}",
            key_path=("connection_type",),
        )
    return str(ctype)


def lookup(
    config: Mapping[str, Any], digest: str, requested: str | None, force_reload: bool
) -> Any:
    """The cached object for a configuration (sync types) or a coroutine giving it (async)."""
    ctype = requested or config.get("connection_type") or "normal"
    if ctype in SYNC_TYPES:
        if not force_reload:
            obj = _state.entries.get((digest, ctype))
            if obj is not None and not obj._closed:
                return obj
        return _create_sync(config, (digest, ctype), force_reload)
    return _get_async(config, digest, resolve_type(ctype, config), force_reload)


def _create_sync(
    config: Mapping[str, Any], key: tuple[str, str], force_reload: bool
) -> BaseConnection:
    resolve_type(key[1], config)
    state = _state
    with state.lock:
        create_lock = state.creating.setdefault(key, threading.Lock())
    with create_lock:
        old = state.entries.get(key)
        if old is not None and not old._closed and not force_reload:
            return old
        obj: Connection | ConnectionPool
        if key[1] == "normal":
            obj = Connection(config)
            obj.connect()
        else:
            obj = ConnectionPool(config)
            obj.open()
        with state.lock:
            state.entries[key] = obj
    logger.debug("cached a new %s object (%s)", key[1], obj.target)
    if old is not None:
        old._retire()  # type: ignore[attr-defined]
    return obj


def _closed_loop_keys(state: _State) -> list[tuple[Any, ...]]:
    return [k for k in state.entries if len(k) == 3 and k[2].is_closed()]


async def _get_async(
    config: Mapping[str, Any], digest: str, ctype: str, force_reload: bool
) -> BaseConnection:
    loop = asyncio.get_running_loop()
    key = (digest, ctype, loop)
    state = _state
    if not force_reload:
        obj = state.entries.get(key)
        if obj is not None and not obj._closed:
            return obj
    with state.lock:
        create_lock = state.async_creating.get(key)
        if create_lock is None:
            create_lock = state.async_creating[key] = asyncio.Lock()
        stale = [state.entries.pop(k) for k in _closed_loop_keys(state)]
        for k in [k for k in state.async_creating if k[2].is_closed()]:
            del state.async_creating[k]
    for dead in stale:  # their loop ended: close without awaiting
        dead._drop_dead_loop()  # type: ignore[attr-defined]
    async with create_lock:
        old = state.entries.get(key)
        if old is not None and not old._closed and not force_reload:
            return old
        new: AsyncConnection | AsyncConnectionPool
        if ctype == "async":
            new = AsyncConnection(config)
            await new.connect()
        else:
            new = AsyncConnectionPool(config)
            await new.open()
        with state.lock:
            state.entries[key] = new
    logger.debug("cached a new %s object (%s)", ctype, new.target)
    if old is not None:
        await old._aretire()  # type: ignore[attr-defined]
    return new


def _take_all() -> list[BaseConnection]:
    state = _state
    with state.lock:
        items = list(state.entries.values())
        state.entries.clear()
    return items


def _close_async_from_sync(obj: Any) -> None:
    loop: asyncio.AbstractEventLoop | None = obj._loop
    if loop is None or loop.is_closed() or not loop.is_running():
        obj._close_sync()
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:  # called from sync code inside that loop: close soon, in the loop
        task = loop.create_task(obj._aretire())
        _state.pending.add(task)
        task.add_done_callback(_state.pending.discard)
    else:  # the loop runs in another thread
        asyncio.run_coroutine_threadsafe(obj._aretire(), loop)


def clear() -> None:
    """Close and forget every cached object (async ones in their own loop when it runs)."""
    for obj in _take_all():
        if obj.connection_type in SYNC_TYPES:
            obj._retire()  # type: ignore[attr-defined]
        else:
            _close_async_from_sync(obj)


async def clear_async() -> None:
    """Close and forget every cached object, awaiting those of the running loop."""
    loop = asyncio.get_running_loop()
    for obj in _take_all():
        if obj.connection_type in SYNC_TYPES:
            obj._retire()  # type: ignore[attr-defined]
        elif getattr(obj, "_loop", None) is loop:
            await obj._aretire()  # type: ignore[attr-defined]
        else:
            _close_async_from_sync(obj)


def info() -> dict[str, Any]:
    """What is cached: counts per type and, per entry, its type and target (no secrets).

    ``host`` and ``dbname`` are shown as :func:`pgmonkey.config.redact_text` shows them.
    """
    from pgmonkey.config import redact_text

    with _state.lock:
        items = list(_state.entries.values())
    types: dict[str, int] = {}
    entries = []
    for obj in items:
        types[obj.connection_type] = types.get(obj.connection_type, 0) + 1
        settings = obj.config.get("connection_settings", {})
        shown = {
            key: redact_text(value, settings) if isinstance(value, str) else value
            for key, value in ((k, settings.get(k)) for k in ("host", "port", "dbname"))
        }
        entries.append({"connection_type": obj.connection_type, **shown})
    return {"size": len(items), "connection_types": types, "entries": entries}
