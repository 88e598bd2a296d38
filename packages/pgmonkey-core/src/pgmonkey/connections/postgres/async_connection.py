"""Compatibility module (pgmonkey 3.x/4.x): ``PGAsyncConnection``.

``PGAsyncConnection`` is :class:`pgmonkey.connections.AsyncConnection` under its old name.

Deprecated: import ``AsyncConnection`` from :mod:`pgmonkey.connections` instead.
"""

from pgmonkey._legacy import warn_moved
from pgmonkey.connections import AsyncConnection

PGAsyncConnection = AsyncConnection

__all__ = ["PGAsyncConnection"]

warn_moved(__name__, "from pgmonkey.connections import AsyncConnection")
