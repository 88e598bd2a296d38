"""Compatibility module (pgmonkey 3.x/4.x): ``PostgresConnectionFactory``.

Deprecated: use :class:`pgmonkey.PGConnectionManager` (cached objects) or the classes of
:mod:`pgmonkey.connections` (``Connection(cfg)``, ``ConnectionPool(cfg)``, ...) instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pgmonkey._legacy import warn_moved
from pgmonkey.connections import (
    AsyncConnection,
    AsyncConnectionPool,
    BaseConnection,
    Connection,
    ConnectionPool,
)
from pgmonkey.errors import ConfigValidationError

__all__ = ["PostgresConnectionFactory"]

_TYPES: dict[str, type[BaseConnection]] = {
    "normal": Connection,
    "pool": ConnectionPool,
    "async": AsyncConnection,
    "async_pool": AsyncConnectionPool,
}


class PostgresConnectionFactory:
    """Builds a new, uncached connection object of one type from a pgmonkey configuration.

    Args:
        config: The whole configuration (as written in YAML).
        connection_type: ``normal``, ``pool``, ``async`` or ``async_pool``.

    Raises:
        ConfigValidationError: Unknown connection type.
    """

    def __init__(self, config: Mapping[str, Any], connection_type: str) -> None:
        if connection_type not in _TYPES:
            raise ConfigValidationError(
                f"Unsupported connection type: {connection_type!r}. "
                f"Valid types: {', '.join(_TYPES)}",
                key_path=("connection_type",),
            )
        self.config = config
        self.connection_type = connection_type

    def get_connection(self) -> Any:
        """A new connection object (it connects on first use, or on ``connect()``/``open()``).

        The caller closes it (``disconnect()``).
        """
        return _TYPES[self.connection_type](self.config)


warn_moved(__name__, "from pgmonkey import PGConnectionManager")
