"""Compatibility module (pgmonkey 3.x/4.x): ``PGAsyncPoolConnection``.

``PGAsyncPoolConnection`` is :class:`pgmonkey.connections.AsyncConnectionPool` under its old name.

Deprecated: import ``AsyncConnectionPool`` from :mod:`pgmonkey.connections` instead.
"""

from pgmonkey._legacy import warn_moved
from pgmonkey.connections import AsyncConnectionPool

PGAsyncPoolConnection = AsyncConnectionPool

__all__ = ["PGAsyncPoolConnection"]

warn_moved(__name__, "from pgmonkey.connections import AsyncConnectionPool")
