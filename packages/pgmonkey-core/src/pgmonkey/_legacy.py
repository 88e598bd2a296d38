"""Support for the import paths of earlier pgmonkey releases (compatibility modules)."""

from __future__ import annotations

import warnings

__all__ = ["warn_moved"]


def warn_moved(old_module: str, new_import: str) -> None:
    """Warn (``DeprecationWarning``) that ``old_module`` is an old path; name the new import.

    Called at the top level of a compatibility module, so the warning points at the line
    that imports it (``warnings`` skips the import machinery's frames).
    """
    warnings.warn(
        f"{old_module} is the import path of pgmonkey 3.x/4.x and will be removed in a future "
        f"release; use `{new_import}` instead",
        DeprecationWarning,
        stacklevel=3,
    )
