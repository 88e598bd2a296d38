"""Noticing a connection pooler (PgBouncer) that the configuration does not mention.

Through PgBouncer, the backend key a client receives at login is made up by PgBouncer, so
``conn.info.backend_pid`` differs from the server's ``pg_backend_pid()``; connected directly
they are equal. pgmonkey compares them once per target and process (one round trip) when the
configuration has no ``pooler`` key, and warns with :class:`PoolerDetectedWarning` when they
differ. ``pooler: pgbouncer`` (or ``pooler: none``) turns the check off.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Mapping
from typing import Any

import psycopg

from pgmonkey.config._redact import describe_target

__all__ = ["PoolerDetectedWarning", "check_for_pooler", "check_for_pooler_async"]

_checked: set[tuple[int, str]] = set()
_lock = threading.Lock()
_QUERY = "SELECT pg_backend_pid()"


class PoolerDetectedWarning(UserWarning):
    """A connection seems to go through a pooler such as PgBouncer, but ``pooler`` is unset."""


def _should_check(cfg: Mapping[str, Any], params: Mapping[str, Any]) -> str | None:
    if cfg.get("pooler") is not None:
        return None
    target = describe_target(params)
    key = (os.getpid(), target)
    with _lock:
        if key in _checked:
            return None
        _checked.add(key)
    return target


def _warn(target: str) -> None:
    warnings.warn(
        f"the connection to {target} seems to go through a connection pooler such as "
        "PgBouncer (the backend process id reported at login is not the server's); set "
        "'pooler: pgbouncer' in the configuration so that pgmonkey turns prepared statements "
        "off and refuses session settings, or 'pooler: none' to silence this warning",
        PoolerDetectedWarning,
        stacklevel=4,
    )


def check_for_pooler(
    conn: psycopg.Connection[Any], cfg: Mapping[str, Any], params: Mapping[str, Any]
) -> None:
    """Warn once per target if ``conn`` looks pooled and ``cfg`` has no ``pooler`` key.

    Leaves ``conn`` idle (a transaction opened for the check is rolled back).
    """
    target = _should_check(cfg, params)
    if target is None:
        return
    try:
        row = conn.execute(_QUERY, prepare=False).fetchone()
        if not conn.autocommit:
            conn.rollback()
    except psycopg.Error:  # the connection's next user will see the problem
        return
    if row is not None and row[0] != conn.info.backend_pid:
        _warn(target)


async def check_for_pooler_async(
    conn: psycopg.AsyncConnection[Any], cfg: Mapping[str, Any], params: Mapping[str, Any]
) -> None:
    """The async twin of :func:`check_for_pooler`."""
    target = _should_check(cfg, params)
    if target is None:
        return
    try:
        cur = await conn.execute(_QUERY, prepare=False)
        row = await cur.fetchone()
        if not conn.autocommit:
            await conn.rollback()
    except psycopg.Error:  # the connection's next user will see the problem
        return
    if row is not None and row[0] != conn.info.backend_pid:
        _warn(target)
