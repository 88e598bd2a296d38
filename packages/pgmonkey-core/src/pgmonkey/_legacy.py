"""Support for the import paths of earlier pgmonkey releases (compatibility modules)."""

from __future__ import annotations

import sys
import warnings
from types import FrameType

__all__ = ["warn_moved"]


def _is_import_machinery(frame: FrameType) -> bool:
    """Whether ``frame`` is importlib's, or a custom loader's (pytest's assertion rewriter)."""
    filename = frame.f_code.co_filename
    return (
        filename.startswith("<frozen importlib")
        or "importlib" in filename.replace("\\", "/").split("/")
        or frame.f_code.co_name == "exec_module"
    )


def warn_moved(old_module: str, new_import: str) -> None:
    """Warn (``DeprecationWarning``) that ``old_module`` is an old path; name the new import.

    Called at the top level of a compatibility module: the warning points at the line that
    imports it, past the import machinery, whichever loader ran the module.
    """
    message = (
        f"{old_module} is the import path of pgmonkey 3.x/4.x and will be removed in a future "
        f"release; use `{new_import}` instead"
    )
    frame = sys._getframe(2)  # 0: this function, 1: the compatibility module's body
    while frame.f_back is not None and _is_import_machinery(frame):
        frame = frame.f_back
    module_globals = frame.f_globals
    warnings.warn_explicit(
        message,
        DeprecationWarning,
        frame.f_code.co_filename,
        frame.f_lineno,
        module=module_globals.get("__name__", "<unknown>"),
        registry=module_globals.setdefault("__warningregistry__", {}),
    )
