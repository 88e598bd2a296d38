"""Turning a loaded pgmonkey configuration into a pool or a plain connection (private).

The core does the work (``pgmonkey.connections``): libpq parameters, ``autocommit``,
``sync_settings`` that survive rollbacks, ``pool_settings``, and clear
:class:`~pgmonkey.errors.DatabaseConnectionError` messages without secrets. This module only
names the pools.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from pgmonkey.connections import connect as _core_connect
from pgmonkey.connections import open_pool as _core_open_pool

__all__ = ["connect", "open_pool"]


def open_pool(cfg: Mapping[str, Any], *, name: str) -> ConnectionPool[Any]:
    """Build and open a pool (``open=False`` then ``open(wait=True)``: fails fast).

    Raises:
        DatabaseConnectionError: Wrong password, unreachable host, refused session setting,
            or ``min_size`` connections not reached within ``timeout``.
    """
    return _core_open_pool(cfg, wait=True, name=name)


def connect(cfg: Mapping[str, Any]) -> psycopg.Connection[Any]:
    """Open one plain connection.

    Raises:
        DatabaseConnectionError: The server is unreachable or refused the login.
    """
    return _core_connect(cfg)
