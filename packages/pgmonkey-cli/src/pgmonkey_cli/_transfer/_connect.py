"""The one database connection an import or export uses.

Whatever ``connection_type`` the configuration names, a transfer uses one plain connection
(a pool would only add overhead to a single long ``COPY``).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "Relation",
    "connect",
    "driver_log_demoted",
    "load_connection_config",
    "lookup_relation",
    "messenger",
]


def load_connection_config(args: argparse.Namespace) -> dict[str, Any]:
    """Load ``--connconfig`` with ``--resolve-env``/``--allow-sensitive-defaults``.

    Raises:
        pgmonkey.errors.ConfigError: the configuration is missing, not a regular file, too
            large or invalid (exit 2).
    """
    from pgmonkey_cli._options import load_config_from_args

    return load_config_from_args(args)


def connect(cfg: dict[str, Any], *, autocommit: bool) -> psycopg.Connection[Any]:
    """Open one plain connection for ``cfg`` (a loaded configuration).

    Raises:
        pgmonkey.errors.DatabaseConnectionError: the server cannot be reached or refuses us.
    """
    from pgmonkey.connections import connect as core_connect

    return core_connect(cfg, autocommit=autocommit)


class Relation(NamedTuple):
    """A table, view or other relation found in the catalog."""

    oid: int
    schema: str
    name: str
    kind: str  # pg_class.relkind: r, p, v, m, f, ...


def lookup_relation(
    conn: psycopg.Connection[Any], schema: str | None, name: str
) -> Relation | None:
    """Find ``[schema.]name`` the way the server resolves it (search_path), or ``None``."""
    from psycopg import sql

    qualified = sql.Identifier(*(p for p in (schema, name) if p is not None)).as_string(conn)
    row = conn.execute(
        "SELECT c.oid::int8, n.nspname, c.relname, c.relkind::text FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass(%s)",
        [qualified],
    ).fetchone()
    if row is None:
        return None
    return Relation(int(row[0]), str(row[1]), str(row[2]), str(row[3]))


def messenger(quiet: bool, out: TextIO) -> Callable[[str], None]:
    """``say(message)``: print an informational line unless ``quiet``."""

    def say(message: str) -> None:
        if not quiet:
            print(message, file=out, flush=True)

    return say


class _Demote(logging.Filter):
    """psycopg's warnings become debug records, shown only when pgmonkey logs at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.WARNING:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger("pgmonkey").isEnabledFor(logging.DEBUG)


@contextmanager
def driver_log_demoted() -> Iterator[None]:
    """While a transfer runs, psycopg's warnings appear only with ``--debug``.

    They are about secondary failures (``error ignored terminating <psycopg.Copy>: the
    connection is lost``) after the error the command reports itself, in one clear line.
    """
    logger = logging.getLogger("psycopg")
    demote = _Demote()
    logger.addFilter(demote)
    try:
        yield
    finally:
        logger.removeFilter(demote)
