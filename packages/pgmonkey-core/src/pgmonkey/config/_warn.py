"""Warnings about configurations, reported at the user's call site."""

from __future__ import annotations

import os
import sys
import warnings
from types import FrameType

__all__ = ["ConfigWarning", "UnknownConfigKeyWarning", "warn"]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


class ConfigWarning(UserWarning):
    """Something in a configuration is suspicious but usable."""


class UnknownConfigKeyWarning(ConfigWarning):
    """A configuration key is unknown: it is ignored and never sent to the server."""


def _stacklevel() -> int:
    """The ``stacklevel`` that points at the first frame outside the ``pgmonkey`` package."""
    level = 1
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    return level


def warn(message: str, category: type[Warning]) -> None:
    """Emit ``message`` as a warning attributed to the code that called into pgmonkey."""
    warnings.warn(message, category, stacklevel=_stacklevel())
