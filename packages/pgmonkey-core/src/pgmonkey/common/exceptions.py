"""Compatibility import path for ``ConfigFileCreatedError`` (pgmonkey 3.x/4.x)."""

from __future__ import annotations

from pgmonkey.errors import PgMonkeyError

__all__ = ["ConfigFileCreatedError"]


class ConfigFileCreatedError(PgMonkeyError):
    """Kept so that pgmonkey 3.x code catching it still imports; nothing raises it now.

    pgmonkey 3.x's ``pgimport``/``pgexport`` stopped after writing their settings file and
    raised this. They now write the file and carry on in the same run (``--config-only``
    stops after writing it, with exit status 0).
    """
