"""Errors raised by pgmonkey-fastapi."""

from __future__ import annotations

from pgmonkey.errors import PgMonkeyError

__all__ = ["PGMonkeyFastAPIError"]


class PGMonkeyFastAPIError(PgMonkeyError):
    """pgmonkey-fastapi is used in a way that cannot work.

    For example: a dependency runs in an app whose lifespan did not open the pools, a
    database name is unknown, or ``init_app`` is called twice for the same app.
    """
