"""Close the database connections and pools a process opened when that process ends.

Django closes a connection at the end of a request only when ``CONN_MAX_AGE`` has run out,
and never closes its pools. Without this, a process that ends (a gunicorn worker on SIGTERM,
a ``multiprocessing`` child, a management command) leaves its persistent connections and
pooled connections to the garbage collector, or, in a ``multiprocessing`` child that ends
with ``os._exit()``, to the operating system: the server then logs "unexpected EOF on client
connection" for each. Here every connection is closed properly, with the protocol's
Terminate message.

Only what the current process opened is closed: connections and pools inherited through
``fork()`` belong to the parent (see :mod:`pgmonkey_django._fork`).
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from typing import Any

from pgmonkey.connections import close_at_exit

__all__ = ["close_connections_at_exit", "close_opened_connections"]

logger = logging.getLogger("pgmonkey.django")

_lock = threading.Lock()
_installed = False
_pid = os.getpid()
# Wrappers that opened a connection in process ``_pid``, and the pools it created.
_wrappers: weakref.WeakSet[Any] = weakref.WeakSet()
_pools: weakref.WeakSet[Any] = weakref.WeakSet()


def _remember(sender: Any, connection: Any, **kwargs: Any) -> None:
    """``connection_created`` receiver: remember the wrapper (and its pool) of this process."""
    with _lock:
        _wrappers.add(connection)
        pools = getattr(type(connection), "_connection_pools", None)
        pool = pools.get(connection.alias) if isinstance(pools, dict) else None
        if pool is not None:
            _pools.add(pool)


def _after_fork_in_child() -> None:
    """A forked child: what the parent opened is not the child's to close."""
    global _lock, _pid, _wrappers, _pools
    _lock = threading.Lock()  # another thread of the parent may have held it
    _pid = os.getpid()
    _wrappers = weakref.WeakSet()
    _pools = weakref.WeakSet()


def close_opened_connections() -> None:
    """Close every Django connection and pool this process opened, in every thread.

    Meant for the end of a process (it is what :func:`close_connections_at_exit` runs):
    Django's own ``connection.close()`` only reaches the calling thread's connections. A
    connection a thread still holds is closed too, so call it only when no request runs.
    It never raises.
    """
    with _lock:
        if os.getpid() != _pid:
            return
        wrappers, pools = list(_wrappers), list(_pools)
    for wrapper in wrappers:
        conn = getattr(wrapper, "connection", None)
        if conn is None:
            continue
        try:
            conn.close()
        except Exception:
            logger.debug("could not close a connection of %r", wrapper.alias, exc_info=True)
    for pool in pools:
        try:
            pool.close()
        except Exception:
            logger.debug("could not close pool %r", getattr(pool, "name", pool), exc_info=True)


def close_connections_at_exit() -> None:
    """Close the Django connections and pools a process opened when that process ends.

    Registers :func:`close_opened_connections` with
    :func:`pgmonkey.connections.close_at_exit` (interpreter exit, and the end of a
    ``multiprocessing`` child, which skips ``atexit``) and starts remembering the
    connections opened from now on. Once per process; calling again does nothing. The
    ``pgmonkey_django`` app calls it in ``ready()`` unless
    ``PGMONKEY = {"CLOSE_AT_EXIT": False}``.
    """
    global _installed
    from django.db.backends.signals import connection_created

    with _lock:
        if _installed:
            return
        connection_created.connect(_remember, dispatch_uid="pgmonkey_django.close_at_exit")
        close_at_exit(close_opened_connections)
        if hasattr(os, "register_at_fork"):  # not on Windows, where there is no fork() either
            os.register_at_fork(after_in_child=_after_fork_in_child)
        _installed = True
