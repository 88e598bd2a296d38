"""Closing what a process started: at interpreter exit here, after a crash by the watchdogs.

Servers and bouncers register themselves while open, with the pid of the process that
started them; a forked child never closes its parent's.
"""

from __future__ import annotations

import atexit
import contextlib
import os
from typing import Protocol

__all__ = ["register", "unregister"]


class _Closable(Protocol):
    def close(self) -> None: ...


_LIVE: dict[int, tuple[int, _Closable]] = {}


def register(item: _Closable) -> None:
    """Close ``item`` at interpreter exit unless it was closed before."""
    _LIVE[id(item)] = (os.getpid(), item)


def unregister(item: _Closable) -> None:
    """``item`` was closed: forget it."""
    _LIVE.pop(id(item), None)


@atexit.register
def _close_leftovers() -> None:
    for pid, item in list(_LIVE.values()):
        if pid == os.getpid():
            with contextlib.suppress(Exception):
                item.close()
    _LIVE.clear()
