"""The first import of psycopg and psycopg_pool, turned into a pgmonkey error when it fails.

:mod:`pgmonkey.connections` calls :func:`require_psycopg` before importing anything else, and
:mod:`pgmonkey.testing` before its first use of psycopg. Importing this module is cheap.
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
