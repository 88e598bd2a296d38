"""The first import of psycopg and psycopg_pool, turned into a pgmonkey error when it fails.

Importing this module imports both (:mod:`pgmonkey.connections` imports it first).
"""

from __future__ import annotations

from pgmonkey.errors import PsycopgUnavailableError

__all__ = ["require_psycopg"]


def require_psycopg() -> None:
    """Import psycopg and psycopg_pool, or say what to install.

    Raises:
        PsycopgUnavailableError: psycopg cannot load a libpq wrapper, or psycopg or
            psycopg_pool is not installed.
    """
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError as exc:
        raise PsycopgUnavailableError.from_import_error(exc) from exc


require_psycopg()
