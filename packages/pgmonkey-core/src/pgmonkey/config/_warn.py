"""Warnings about configurations, reported at the user's call site."""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass
from types import FrameType
from typing import Any

from pgmonkey.errors import key_text

__all__ = ["ConfigHint", "ConfigWarning", "UnknownConfigKeyWarning", "warn"]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


class ConfigWarning(UserWarning):
    """Something in a configuration is suspicious but usable."""


class UnknownConfigKeyWarning(ConfigWarning):
    """A configuration key is unknown: it is ignored and never sent to the server."""


@dataclass(frozen=True)
class ConfigHint:
    """Something in a configuration that is valid but probably not what was meant.

    Hints never make a configuration invalid; ``pgmonkey pgconfig validate`` prints them as
    warnings. Like errors, they name the file, the key and the line, never a secret value.

    Attributes:
        message: What looks wrong and what to do about it.
        source: The file, or ``None`` for a dict.
        key_path: The keys leading to the value, outermost first.
        line: 1-based line of the key in the file, when known.
    """

    message: str
    source: str | None = None
    key_path: tuple[Any, ...] = ()
    line: int | None = None

    def __str__(self) -> str:
        where = ": ".join(
            part for part in (self.source, ".".join(key_text(k) for k in self.key_path)) if part
        )
        line = f" (line {self.line})" if self.line is not None else ""
        return f"{where}{line}: {self.message}" if where else self.message


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
