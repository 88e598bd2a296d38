"""Process lifecycle for every pgmonkey connection object: fork and interpreter exit.

* After ``os.fork()`` the child must never use or close the parent's sockets. Every live
  wrapper is told to *forget* what it holds (the objects are kept referenced here so that no
  finaliser runs on them) and opens fresh ones on its next use; the cache starts empty.
* At interpreter exit one ``atexit`` hook closes what is still open in this process.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["Tracked", "forget", "on_fork_in_child", "track"]

logger = logging.getLogger("pgmonkey")


class Tracked(Protocol):
    """What a wrapper implements to take part in the process lifecycle."""

    def _after_fork_in_child(self) -> None: ...

    def _close_at_exit(self) -> None: ...


_registry: weakref.WeakSet[Any] = weakref.WeakSet()
_registry_lock = threading.Lock()
_fork_callbacks: list[Callable[[], None]] = []
#: Objects inherited from a parent process: kept alive, never closed, never used.
_forgotten: list[object] = []
_pid = os.getpid()


def track(obj: Tracked) -> None:
    """Take part in fork handling and exit clean-up (weakly referenced)."""
    with _registry_lock:
        _registry.add(obj)


def forget(obj: object) -> None:
    """Keep an object inherited from the parent alive and untouched for good."""
    if obj is not None:
        _forgotten.append(obj)


def on_fork_in_child(callback: Callable[[], None]) -> None:
    """Run ``callback`` in a forked child, before the wrappers are reset."""
    _fork_callbacks.append(callback)


def _after_fork_in_child() -> None:
    global _registry_lock, _pid
    _pid = os.getpid()
    _registry_lock = threading.Lock()
    for callback in _fork_callbacks:
        callback()
    for obj in list(_registry):
        obj._after_fork_in_child()


def _at_exit() -> None:
    if os.getpid() != _pid:  # pragma: no cover - atexit does not run in forked children
        return
    for obj in list(_registry):
        try:
            obj._close_at_exit()
        except Exception:
            logger.debug("error while closing %r at exit", obj, exc_info=True)


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_at_exit)
