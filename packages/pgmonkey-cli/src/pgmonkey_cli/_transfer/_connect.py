"""The one database connection an import or export uses.

Whatever ``connection_type`` the configuration names, a transfer uses one plain connection
(a pool would only add overhead to a single long ``COPY``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

__all__ = ["connect", "load_connection_config"]


def load_connection_config(args: argparse.Namespace) -> dict[str, Any]:
    """Load ``--connconfig`` with ``--resolve-env``/``--allow-sensitive-defaults``.

    Raises:
        pgmonkey.errors.ConfigError: the configuration is missing or invalid (exit 2).
    """
    from pgmonkey.errors import ConfigFileError
    from pgmonkey_cli._options import load_config_from_args

    path = Path(args.connconfig)
    if not path.is_file():
        raise ConfigFileError("connection config file not found", source=str(path))
    return load_config_from_args(args)


def connect(cfg: dict[str, Any], *, autocommit: bool) -> psycopg.Connection[Any]:
    """Open one plain connection for ``cfg`` (a loaded configuration).

    Raises:
        pgmonkey.errors.DatabaseConnectionError: the server cannot be reached or refuses us.
    """
    try:
        from pgmonkey.connections import connect as core_connect
    except ImportError:  # the core's connect() has not landed in this checkout
        return _connect_directly(cfg, autocommit=autocommit)
    return core_connect(cfg, autocommit=autocommit)


def _connect_directly(cfg: dict[str, Any], *, autocommit: bool) -> psycopg.Connection[Any]:
    import psycopg

    from pgmonkey.errors import DatabaseConnectionError

    settings = dict(cfg.get("connection_settings") or {})
    settings.pop("autocommit", None)
    try:
        return psycopg.connect(**settings, autocommit=autocommit)
    except psycopg.OperationalError as exc:
        raise DatabaseConnectionError(f"cannot connect: {exc}") from None
