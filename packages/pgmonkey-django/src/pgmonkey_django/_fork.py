"""Forget, never close, database connections and pools inherited across ``fork()``.

A psycopg connection is a socket shared with the parent after ``fork()``; a psycopg pool
also loses its worker threads. Using either in the child mixes two processes' traffic on
one server session; closing them sends a Terminate message that kills the parent's
session (Django ticket #36957, psycopg/psycopg#651). The child must drop its references
and open new connections. psycopg does not ``PQfinish`` a connection from another process
when it is garbage-collected, but the objects are also kept referenced here so that no
finaliser touches them.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Any

__all__ = ["forget_inherited_connections", "install_fork_safety"]

logger = logging.getLogger("pgmonkey.django")

_lock = threading.Lock()
_installed = False
_inherited: list[Any] = []  # the parent's objects, kept alive and never used


def forget_inherited_connections() -> None:
    """Drop this process's Django database connections and pools without closing them.

    Call it in a freshly forked child (``install_fork_safety`` does it for you), e.g. in a
    gunicorn ``post_fork`` hook. The next query opens a new connection (and a new pool).
    It never raises.
    """
    try:
        _forget()
    except Exception:  # an at-fork hook must not break the child
        logger.exception("could not forget inherited database connections")


def _forget() -> None:
    if "django.db" not in sys.modules:
        return
    from django.conf import settings

    if not settings.configured:
        return
    from django.db import connections

    for wrapper in connections.all(initialized_only=True):
        conn = getattr(wrapper, "connection", None)
        if conn is None:
            continue
        _inherited.append(conn)
        wrapper.connection = None
        wrapper.run_on_commit = []
        if wrapper.in_atomic_block:
            # What close() does in an atomic block: the block must end in a rollback.
            wrapper.closed_in_transaction = True
            wrapper.needs_rollback = True
    base = sys.modules.get("django.db.backends.postgresql.base")
    wrapper_class = getattr(base, "DatabaseWrapper", None)
    pools = getattr(wrapper_class, "_connection_pools", None)
    if isinstance(pools, dict) and pools:
        _inherited.extend(pools.values())
        pools.clear()
    logger.debug("forgot inherited database connections in child process %d", os.getpid())


def install_fork_safety() -> None:
    """Make every ``fork()`` child forget the parent's Django connections and pools.

    Registers :func:`forget_inherited_connections` with ``os.register_at_fork`` (once per
    process; calling again does nothing). Covers gunicorn ``--preload``, uWSGI without
    ``lazy-apps``, ``multiprocessing`` with the fork start method, and plain ``os.fork()``.
    The ``pgmonkey_django`` app calls it in ``ready()`` unless
    ``PGMONKEY = {"FORK_SAFETY": False}``.
    """
    global _installed
    with _lock:
        if _installed:
            return
        if hasattr(os, "register_at_fork"):  # not on Windows, where there is no fork() either
            os.register_at_fork(after_in_child=forget_inherited_connections)
        _installed = True


def fork_safety_installed() -> bool:
    """Whether :func:`install_fork_safety` has run in this process."""
    return _installed
