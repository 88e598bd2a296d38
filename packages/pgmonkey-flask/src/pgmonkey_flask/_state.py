"""Per-app state: settings and the pools of this process (private).

One :class:`AppState` lives in ``app.extensions["pgmonkey"]``. Pools are created lazily, per
(app, database name, process), and remembered with the id of the process that created them.
A pool inherited through ``fork()`` (gunicorn ``--preload``, uWSGI without ``lazy-apps``,
``multiprocessing`` with the fork start method) is *forgotten* in the child, never used and
never closed: its sockets are shared with the parent, and closing them from the child would
terminate the parent's sessions. The child builds its own pool on first use.

When the process ends (interpreter exit, or the end of a ``multiprocessing`` child, which
skips ``atexit``) the pools it created are closed: each connection ends with the protocol's
Terminate message, never a dropped socket (see :func:`pgmonkey.connections.close_at_exit`).
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from psycopg_pool import ConnectionPool

from pgmonkey.connections import close_at_exit
from pgmonkey_flask import _pools
from pgmonkey_flask._errors import PGMonkeyFlaskError
from pgmonkey_flask._settings import ExtensionSettings

if TYPE_CHECKING:
    from pgmonkey_flask._isolation import Isolation

logger = logging.getLogger("pgmonkey.flask")

__all__ = ["AppState"]

# Objects inherited from a parent process. They are kept referenced so that their finalisers
# never run in the child (psycopg already skips PQfinish for a foreign pid; this also keeps
# the pool's own ``__del__`` from touching worker threads that do not exist after fork).
_INHERITED: list[object] = []
_STATES: weakref.WeakSet[AppState] = weakref.WeakSet()


@dataclass
class _PoolEntry:
    pool: ConnectionPool[Any]
    pid: int


@dataclass(eq=False)
class AppState:
    """Everything the extension keeps for one app.

    Attributes:
        app_name: The app's import name (for messages and pool names).
        settings: The checked ``PGMONKEY_*`` settings and loaded configurations.
        isolation: The active :meth:`PGMonkey.test_isolation` block, if any.
    """

    app_name: str
    settings: ExtensionSettings
    isolation: Isolation | None = None
    _pools: dict[str, _PoolEntry] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        _STATES.add(self)

    def config(self, name: str) -> dict[str, Any]:
        """The loaded configuration of database ``name`` (a clear error when unknown)."""
        try:
            return dict(self.settings.configs[name])
        except KeyError:
            known = ", ".join(map(repr, self.settings.configs))
            raise PGMonkeyFlaskError(
                f"pgmonkey_flask: no database named {name!r} in app {self.app_name!r} "
                f"(configured: {known}; add it to PGMONKEY_DATABASES)"
            ) from None

    def pool(self, name: str) -> ConnectionPool[Any]:
        """The pool of ``name`` in this process, created and opened on first use."""
        if self.settings.connection_type != "pool":
            raise PGMonkeyFlaskError(
                f"pgmonkey_flask: app {self.app_name!r} uses PGMONKEY_CONNECTION_TYPE="
                f"{self.settings.connection_type!r}, which has no pool; use pg.connection()"
            )
        cfg = self.config(name)
        pid = os.getpid()
        entry = self._pools.get(name)
        if entry is not None and entry.pid == pid:
            return entry.pool
        with self._lock:
            entry = self._pools.get(name)
            if entry is not None and entry.pid == pid:
                return entry.pool
            if entry is not None:
                self._forget(name, entry)
            pool_name = f"pgmonkey-flask:{self.app_name}:{name}"
            pool = _pools.open_pool(cfg, name=pool_name)
            self._pools[name] = _PoolEntry(pool, pid)
            logger.debug("opened pool %s in process %d", pool_name, pid)
            return pool

    def existing_pools(self) -> dict[str, ConnectionPool[Any]]:
        """The pools this process has created so far (none is created here)."""
        pid = os.getpid()
        return {name: e.pool for name, e in list(self._pools.items()) if e.pid == pid}

    def close(self) -> None:
        """Close this process's pools; forget inherited ones. The next use creates new pools."""
        with self._lock:
            entries, self._pools = self._pools, {}
        pid = os.getpid()
        for name, entry in entries.items():
            if entry.pid == pid:
                entry.pool.close()
                logger.debug("closed pool %s", entry.pool.name)
            else:
                self._forget(name, entry)

    def _forget(self, name: str, entry: _PoolEntry) -> None:
        _INHERITED.append(entry.pool)
        self._pools.pop(name, None)
        logger.debug(
            "forgot pool %s inherited from process %d (not closed: its sockets belong to "
            "the parent)",
            entry.pool.name,
            entry.pid,
        )

    def after_fork_in_child(self) -> None:
        """Forget every inherited pool and replace the (possibly held) lock."""
        self._lock = threading.Lock()
        for name, entry in list(self._pools.items()):
            self._forget(name, entry)
        if self.isolation is not None:
            _INHERITED.append(self.isolation)
            self.isolation = None


def _after_fork_in_child() -> None:
    for state in list(_STATES):
        state.after_fork_in_child()


def _close_at_exit() -> None:
    """Close the pools this process created (Flask has no shutdown hook of its own)."""
    for state in list(_STATES):
        try:
            state.close()
        except Exception:  # pragma: no cover - best effort at interpreter exit
            logger.debug("closing pools at exit failed", exc_info=True)


if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_after_fork_in_child)
close_at_exit(_close_at_exit)
