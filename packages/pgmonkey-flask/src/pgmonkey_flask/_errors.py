"""The error pgmonkey-flask raises when the extension is misused (private)."""

from __future__ import annotations

from pgmonkey.errors import PgMonkeyError

__all__ = ["PGMonkeyFlaskError"]


class PGMonkeyFlaskError(PgMonkeyError, RuntimeError):
    """The extension is used where it cannot work.

    Raised outside an application context, before ``init_app``, for a database name that is
    not configured, or for ``pool()`` with the ``normal`` connection type. It is a
    ``RuntimeError`` like Flask's own "working outside of application context".
    """


PGMonkeyFlaskError.__module__ = "pgmonkey_flask"
