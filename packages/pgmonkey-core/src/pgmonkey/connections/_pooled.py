"""Connection classes for pgmonkey's pools: a failed connection attempt carries no secret.

psycopg_pool opens connections in the background and logs each failed attempt on the
``psycopg.pool`` logger (``error connecting in 'pool-1': ...``) before pgmonkey could see it.
The message quotes libpq, which quotes misplaced values (a ``password=`` fragment in ``host``,
a URL in ``dbname``). The pools pgmonkey opens make their connections with these classes, which
mask the secrets of the connection parameters in the error where it is raised. They add nothing
else: a pooled connection is still a ``psycopg.Connection`` (or ``AsyncConnection``).
"""

from __future__ import annotations

from typing import Any

import psycopg

from pgmonkey.config._redact import redact_exception

__all__ = ["AsyncPooledConnection", "PooledConnection"]


class PooledConnection(psycopg.Connection[Any]):
    """A ``psycopg.Connection`` whose connection errors never quote a secret."""

    @classmethod
    def connect(cls, conninfo: str = "", **kwargs: Any) -> PooledConnection:
        """Connect as ``psycopg.Connection.connect`` does; mask secrets in its errors."""
        try:
            return super().connect(conninfo, **kwargs)
        except psycopg.Error as exc:
            redact_exception(exc, {"conninfo": conninfo, **kwargs})
            raise


class AsyncPooledConnection(psycopg.AsyncConnection[Any]):
    """A ``psycopg.AsyncConnection`` whose connection errors never quote a secret."""

    @classmethod
    async def connect(cls, conninfo: str = "", **kwargs: Any) -> AsyncPooledConnection:
        """Connect as ``psycopg.AsyncConnection.connect`` does; mask secrets in its errors."""
        try:
            return await super().connect(conninfo, **kwargs)
        except psycopg.Error as exc:
            redact_exception(exc, {"conninfo": conninfo, **kwargs})
            raise
