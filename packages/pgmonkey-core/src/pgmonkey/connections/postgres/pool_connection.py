"""Compatibility module (pgmonkey 3.x/4.x): ``PGPoolConnection``.

``PGPoolConnection`` is :class:`pgmonkey.connections.ConnectionPool` under its old name.

Deprecated: import ``ConnectionPool`` from :mod:`pgmonkey.connections` instead.
"""

from pgmonkey._legacy import warn_moved
from pgmonkey.connections import ConnectionPool

PGPoolConnection = ConnectionPool

__all__ = ["PGPoolConnection"]

warn_moved(__name__, "from pgmonkey.connections import ConnectionPool")
