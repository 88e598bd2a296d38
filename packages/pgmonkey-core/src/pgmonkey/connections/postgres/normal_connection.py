"""Compatibility module (pgmonkey 3.x/4.x): ``PGNormalConnection``.

``PGNormalConnection`` is :class:`pgmonkey.connections.Connection` under its old name.

Deprecated: import ``Connection`` from :mod:`pgmonkey.connections` instead.
"""

from pgmonkey._legacy import warn_moved
from pgmonkey.connections import Connection

PGNormalConnection = Connection

__all__ = ["PGNormalConnection"]

warn_moved(__name__, "from pgmonkey.connections import Connection")
