"""Compatibility module (pgmonkey 3.x/4.x): ``PGConnectionManager``, ``VALID_CONNECTION_TYPES``.

Deprecated: ``from pgmonkey import PGConnectionManager`` instead.
"""

from pgmonkey._legacy import warn_moved
from pgmonkey.manager import VALID_CONNECTION_TYPES, PGConnectionManager

__all__ = ["VALID_CONNECTION_TYPES", "PGConnectionManager"]

warn_moved(__name__, "from pgmonkey import PGConnectionManager")
