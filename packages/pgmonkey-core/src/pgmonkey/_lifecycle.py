"""Process lifecycle for every pgmonkey connection object: fork, event loop end, exit.

* After ``os.fork()`` the child must never use or close the parent's sockets. Every live
  wrapper is told to *forget* what it holds (the objects are kept referenced here so that no
  finaliser runs on them) and opens fresh ones on its next use; the cache starts empty.
* An async wrapper that binds to an event loop registers with that loop's *watch*: one small
  task per loop (named ``pgmonkey-loop-watch``) that waits forever. ``asyncio.run()`` (and
  ``asyncio.Runner``, uvicorn, anyio, asgiref) cancel every remaining task before closing the
  loop; the cancelled watch then closes, inside the loop and within a bounded time, the
  pools and connections bound to it (and the cache forgets its entries for that loop), so a
  program that ends ``asyncio.run()`` with a cached async pool exits promptly and cleanly.
  The wrappers stay usable: a later loop opens fresh pools and connections.
* At interpreter exit one ``atexit`` hook closes what is still open in this process. A
  ``multiprocessing`` child started by fork or forkserver ends with ``os._exit()``, which
  runs no ``atexit`` hook: there the same close runs as one of multiprocessing's own exit
  finalizers. The extensions add their own clean-up to the same hook through
  :func:`close_at_exit`.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import sys
import threading
import weakref
from collections.abc import Callable
from typing import Any, Protocol

__all__ = [
    "LOOP_END_TIMEOUT",
    "LoopBound",
    "Tracked",
    "close_at_exit",
    "close_at_loop_end",
    "forget",
    "on_fork_in_child",
    "on_loop_end",
    "track",
]

logger = logging.getLogger("pgmonkey")


class Tracked(Protocol):
    """What a wrapper implements to take part in the process lifecycle."""

    def _after_fork_in_child(self) -> None: ...

    def _close_at_exit(self) -> None: ...


class LoopBound(Protocol):
    """What an async wrapper implements to be closed when its event loop ends."""

    async def _aclose_at_loop_end(self, loop: asyncio.AbstractEventLoop) -> None: ...

    def _drop_dead_loop(self) -> None: ...


#: Seconds the loop watch waits for the loop's pools and connections to close.
LOOP_END_TIMEOUT = 5.0


_registry: weakref.WeakSet[Any] = weakref.WeakSet()
_registry_lock = threading.Lock()
_fork_callbacks: list[Callable[[], None]] = []
#: Objects inherited from a parent process: kept alive, never closed, never used.
_forgotten: list[object] = []
_pid = os.getpid()
#: Running watches: loop -> the objects bound to it (the task is kept in ``_watch_tasks``).
_loop_objects: dict[asyncio.AbstractEventLoop, weakref.WeakSet[Any]] = {}
_watch_tasks: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}
_loop_end_callbacks: list[Callable[[asyncio.AbstractEventLoop], None]] = []
_exit_callbacks: list[Callable[[], None]] = []


def track(obj: Tracked) -> None:
    """Take part in fork handling and exit clean-up (weakly referenced)."""
    with _registry_lock:
        _registry.add(obj)
    _close_at_multiprocessing_exit()


def forget(obj: object) -> None:
    """Keep an object inherited from the parent alive and untouched for good."""
    if obj is not None:
        _forgotten.append(obj)


def on_fork_in_child(callback: Callable[[], None]) -> None:
    """Run ``callback`` in a forked child, before the wrappers are reset."""
    _fork_callbacks.append(callback)


def close_at_exit(callback: Callable[[], None]) -> None:
    """Run ``callback`` when this process ends, before pgmonkey closes its own objects.

    That is at interpreter exit (``atexit``) and at the end of a ``multiprocessing`` child
    started by fork or forkserver, which ends with ``os._exit()`` and runs no ``atexit``
    hook. A forked child inherits the callback: it must close only what the current process
    opened (and forget, never close, what it inherited). Exceptions are logged at debug level.
    """
    _exit_callbacks.append(callback)
    _close_at_multiprocessing_exit()


def on_loop_end(callback: Callable[[asyncio.AbstractEventLoop], None]) -> None:
    """Run ``callback(loop)`` when a watched loop ends, before its objects are closed."""
    _loop_end_callbacks.append(callback)


def close_at_loop_end(obj: LoopBound) -> None:
    """Close ``obj`` (in the running loop) when that loop's remaining tasks are cancelled.

    Must be called from inside the running loop. The first call for a loop starts its watch
    task; objects are referenced weakly.
    """
    loop = asyncio.get_running_loop()
    with _registry_lock:
        objects = _loop_objects.get(loop)
        if objects is None:
            for ended in [lp for lp in _watch_tasks if lp.is_closed()]:
                # A loop closed without cancelling its tasks (no asyncio.run): forget it.
                _watch_tasks.pop(ended, None)
                _loop_objects.pop(ended, None)
            objects = _loop_objects[loop] = weakref.WeakSet()
            task = loop.create_task(_watch(loop, objects), name="pgmonkey-loop-watch")
            # A loop closed without cancelling its tasks must not log "Task was destroyed
            # but it is pending" for the watch (asyncio's own run_until_complete does this).
            _quiet_if_destroyed(task)
            _watch_tasks[loop] = task
        objects.add(obj)


def _quiet_if_destroyed(task: asyncio.Task[Any]) -> None:
    with contextlib.suppress(AttributeError):
        task._log_destroy_pending = False  # type: ignore[attr-defined]


async def _watch(loop: asyncio.AbstractEventLoop, objects: weakref.WeakSet[Any]) -> None:
    try:
        await loop.create_future()  # never set: only cancellation ends the wait
    except asyncio.CancelledError:
        with _registry_lock:
            if _loop_objects.get(loop) is objects:
                del _loop_objects[loop]
                _watch_tasks.pop(loop, None)
        items = list(objects)  # strong references first: the callbacks drop the cache's
        for callback in _loop_end_callbacks:
            callback(loop)
        await _close_loop_objects(loop, items)
        raise


async def _close_loop_objects(loop: asyncio.AbstractEventLoop, items: list[Any]) -> None:
    """Close each object in the loop (bounded), then finish what is left without awaiting."""
    if not items:
        return
    closers = [loop.create_task(obj._aclose_at_loop_end(loop)) for obj in items]
    _, pending = await asyncio.wait(closers, timeout=LOOP_END_TIMEOUT)
    for task in pending:
        _quiet_if_destroyed(task)
        task.cancel()
    for task in closers:
        if task.done() and not task.cancelled() and task.exception() is not None:
            logger.debug("error closing at loop end", exc_info=task.exception())
    for obj in items:  # what did not close in time: finish its sockets without awaiting
        if getattr(obj, "_loop", None) is not loop:
            continue
        try:
            obj._drop_dead_loop()
        except Exception:
            logger.debug("error while dropping %r at loop end", obj, exc_info=True)


def _close_at_multiprocessing_exit() -> None:
    """Run :func:`_at_exit` among multiprocessing's exit finalizers too (once per process).

    A child process of ``multiprocessing`` (fork and forkserver start methods) ends with
    ``os._exit()`` after running its finalizers: without this its connections would be left
    for the operating system to drop, and the server would log "unexpected EOF on client
    connection" for each. The child's start clears the finalizers it inherited and then runs
    the after-fork callbacks, which register the finalizer again. Nothing is imported here:
    a program that never loads ``multiprocessing`` pays one dictionary lookup per call.
    """
    global _mp_finalizer, _mp_after_fork_registered
    util = sys.modules.get("multiprocessing.util")
    if util is None or (_mp_finalizer is not None and _mp_finalizer.still_active()):
        return
    _mp_finalizer = util.Finalize(None, _at_exit, exitpriority=0)
    if not _mp_after_fork_registered:
        _mp_after_fork_registered = True
        util.register_after_fork(_at_exit, _reregister_in_child)


def _reregister_in_child(_: object) -> None:
    _close_at_multiprocessing_exit()


_mp_finalizer: Any = None
_mp_after_fork_registered = False


def _after_fork_in_child() -> None:
    global _registry_lock, _pid, _loop_objects, _watch_tasks
    _pid = os.getpid()
    _registry_lock = threading.Lock()
    _forgotten.append((_loop_objects, _watch_tasks))
    _loop_objects, _watch_tasks = {}, {}
    for callback in _fork_callbacks:
        callback()
    for obj in list(_registry):
        obj._after_fork_in_child()
    _close_at_multiprocessing_exit()


def _at_exit() -> None:
    if os.getpid() != _pid:  # pragma: no cover - atexit does not run in forked children
        return
    for callback in list(_exit_callbacks):
        try:
            callback()
        except Exception:
            logger.debug("error in exit callback %r", callback, exc_info=True)
    for obj in list(_registry):
        try:
            obj._close_at_exit()
        except Exception:
            logger.debug("error while closing %r at exit", obj, exc_info=True)


if hasattr(os, "register_at_fork"):  # not on Windows, where there is no fork() either
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_at_exit)
_close_at_multiprocessing_exit()  # imported in a forkserver or spawn child before it starts
