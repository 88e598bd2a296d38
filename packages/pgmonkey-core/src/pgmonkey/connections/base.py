"""Compatibility module (pgmonkey 3.x/4.x): ``PostgresBaseConnection``.

Deprecated: import ``BaseConnection`` from :mod:`pgmonkey.connections` instead.
"""

from pgmonkey._legacy import warn_moved
from pgmonkey.connections import BaseConnection

PostgresBaseConnection = BaseConnection

__all__ = ["PostgresBaseConnection"]

warn_moved(__name__, "from pgmonkey.connections import BaseConnection")
