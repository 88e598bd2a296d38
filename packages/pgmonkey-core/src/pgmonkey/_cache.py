"""The process-wide cache behind :class:`pgmonkey.PGConnectionManager`.

Keys are ``(config digest, connection type)``, plus the event loop for the async types (an
async connection or pool belongs to the loop that opened it). Values are the wrapper objects
from :mod:`pgmonkey.connections`. A threading lock guards the dict only; creating an entry
holds a per-key lock (a threading lock for sync types, an asyncio lock for async types), so
concurrent first calls open one pool, and no threading lock is ever held across ``await``.
After ``os.fork()`` the child starts with an empty cache (the inherited objects are forgotten,
never closed: see :mod:`pgmonkey._lifecycle`).

Holders: the cache is shared, but each manager only *holds* what it was handed (a holder is
an integer token per manager). Releasing a holder (``clear(holder)``) drops its holds; an
object is closed when its last holder lets go, so one manager's ``clear_cache()`` never closes
a pool another manager handed out (pgmonkey 3.x managers were independent). An object
replaced by ``force_reload`` stays open, off the cache, for its other holders.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping
from typing import Any, TypeVar

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

_C = TypeVar("_C", bound=BaseConnection)

VALID_CONNECTION_TYPES = ("normal", "pool", "async", "async_pool")
SYNC_TYPES = frozenset({"normal", "pool"})
ASYNC_TYPES = frozenset({"async", "async_pool"})


class _Hold:
    """The managers holding one object, and the cache key it was created under."""

    __slots__ = ("holders", "key", "obj")

    def __init__(self, obj: BaseConnection, key: tuple[Any, ...]) -> None:
        self.obj = obj
        self.key = key
        self.holders: set[int] = set()


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: dict[tuple[Any, ...], BaseConnection] = {}
        #: id(obj) -> its holders, for every object some manager holds (cached or replaced).
        self.holds: dict[int, _Hold] = {}
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
        for ident in [i for i, h in state.holds.items() if len(h.key) == 3 and h.key[2] is loop]:
            del state.holds[ident]


def _hold(state: _State, obj: BaseConnection, key: tuple[Any, ...], holder: int) -> None:
    """Record that ``holder`` was handed ``obj`` (call with ``state.lock`` held)."""
    hold = state.holds.get(id(obj))
    if hold is None or hold.obj is not obj:
        hold = state.holds[id(obj)] = _Hold(obj, key)
    hold.holders.add(holder)


def _held_by(state: _State, obj: BaseConnection, holder: int) -> bool:
    hold = state.holds.get(id(obj))
    return hold is not None and hold.obj is obj and holder in hold.holders


def _handed_out(state: _State, obj: _C, key: tuple[Any, ...], holder: int) -> _C:
    """``obj``, recorded as held by ``holder`` (lock-free when it already holds it)."""
    if not _held_by(state, obj, holder):
        with state.lock:
            _hold(state, obj, key, holder)
    return obj


def _replace(
    state: _State, key: tuple[Any, ...], new: BaseConnection, holder: int
) -> BaseConnection | None:
    """Cache ``new`` under ``key`` for ``holder``; return the old object if it must close.

    The old object stays open (off the cache) while other managers hold it; ``holder`` moves
    its hold to ``new``. A closed old object is simply forgotten. Call with ``state.lock``.
    """
    old = state.entries.get(key)
    state.entries[key] = new
    _hold(state, new, key, holder)
    if old is None or old is new:
        return None
    hold = state.holds.get(id(old))
    if hold is None or hold.obj is not old:
        return None if old._closed else old
    hold.holders.discard(holder)
    if hold.holders and not old._closed:
        return None  # other managers still use it
    del state.holds[id(old)]
    return None if old._closed else old


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
    config: Mapping[str, Any],
    digest: str,
    requested: str | None,
    force_reload: bool,
    holder: int,
) -> Any:
    """The cached object for a configuration (sync types) or a coroutine giving it (async).

    ``holder`` (the manager's token) is recorded as holding the object handed out.
    """
    ctype = requested or config.get("connection_type") or "normal"
    if ctype in SYNC_TYPES:
        key = (digest, ctype)
        if not force_reload:
            state = _state
            obj = state.entries.get(key)
            if obj is not None and not obj._closed:
                return _handed_out(state, obj, key, holder)
        return _create_sync(config, key, force_reload, holder)
    return _get_async(config, digest, resolve_type(ctype, config), force_reload, holder)


def _create_sync(
    config: Mapping[str, Any], key: tuple[str, str], force_reload: bool, holder: int
) -> BaseConnection:
    resolve_type(key[1], config)
    state = _state
    with state.lock:
        create_lock = state.creating.setdefault(key, threading.Lock())
    with create_lock:
        current = state.entries.get(key)
        if current is not None and not current._closed and not force_reload:
            return _handed_out(state, current, key, holder)
        obj: Connection | ConnectionPool
        if key[1] == "normal":
            obj = Connection(config)
            obj.connect()
        else:
            obj = ConnectionPool(config)
            obj.open()
        with state.lock:
            old = _replace(state, key, obj, holder)
    logger.debug("cached a new %s object (%s)", key[1], obj.target)
    if old is not None:
        old._retire()  # type: ignore[attr-defined]
    return obj


def _closed_loop_keys(state: _State) -> list[tuple[Any, ...]]:
    return [k for k in state.entries if len(k) == 3 and k[2].is_closed()]


async def _get_async(
    config: Mapping[str, Any], digest: str, ctype: str, force_reload: bool, holder: int
) -> BaseConnection:
    loop = asyncio.get_running_loop()
    key = (digest, ctype, loop)
    state = _state
    if not force_reload:
        obj = state.entries.get(key)
        if obj is not None and not obj._closed:
            return _handed_out(state, obj, key, holder)
    with state.lock:
        create_lock = state.async_creating.get(key)
        if create_lock is None:
            create_lock = state.async_creating[key] = asyncio.Lock()
        stale = {id(o): o for o in (state.entries.pop(k) for k in _closed_loop_keys(state))}
        for ident in [
            i for i, h in state.holds.items() if len(h.key) == 3 and h.key[2].is_closed()
        ]:
            stale[ident] = state.holds.pop(ident).obj
        for k in [k for k in state.async_creating if k[2].is_closed()]:
            del state.async_creating[k]
    for dead in stale.values():  # their loop ended: close without awaiting
        dead._drop_dead_loop()  # type: ignore[attr-defined]
    async with create_lock:
        current = state.entries.get(key)
        if current is not None and not current._closed and not force_reload:
            return _handed_out(state, current, key, holder)
        new: AsyncConnection | AsyncConnectionPool
        if ctype == "async":
            new = AsyncConnection(config)
            await new.connect()
        else:
            new = AsyncConnectionPool(config)
            await new.open()
        with state.lock:
            old = _replace(state, key, new, holder)
    logger.debug("cached a new %s object (%s)", ctype, new.target)
    if old is not None:
        await old._aretire()  # type: ignore[attr-defined]
    return new


def _release(holder: int) -> list[BaseConnection]:
    """Drop ``holder``'s holds; return the objects nobody holds any more (to be closed)."""
    state = _state
    with state.lock:
        freed = []
        for ident, hold in list(state.holds.items()):
            hold.holders.discard(holder)
            if not hold.holders:
                del state.holds[ident]
                freed.append(hold.obj)
                if state.entries.get(hold.key) is hold.obj:
                    del state.entries[hold.key]
    return freed


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


def clear(holder: int) -> None:
    """Release ``holder``'s objects; close those nobody else holds (async ones in their loop)."""
    for obj in _release(holder):
        if obj.connection_type in SYNC_TYPES:
            obj._retire()  # type: ignore[attr-defined]
        else:
            _close_async_from_sync(obj)


async def clear_async(holder: int) -> None:
    """Like :func:`clear`, awaiting the closing of the running loop's objects."""
    loop = asyncio.get_running_loop()
    for obj in _release(holder):
        if obj.connection_type in SYNC_TYPES:
            obj._retire()  # type: ignore[attr-defined]
        elif getattr(obj, "_loop", None) is loop:
            await obj._aretire()  # type: ignore[attr-defined]
        else:
            _close_async_from_sync(obj)


def info(holder: int) -> dict[str, Any]:
    """What ``holder`` holds: counts per type and, per object, its type and target.

    ``host`` and ``dbname`` are shown as :func:`pgmonkey.config.redact_text` shows them.
    """
    from pgmonkey.config import redact_text

    with _state.lock:
        items = [h.obj for h in _state.holds.values() if holder in h.holders]
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
