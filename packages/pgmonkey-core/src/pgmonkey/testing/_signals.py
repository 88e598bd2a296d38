"""SIGTERM as KeyboardInterrupt while test servers run, so an interrupted run still cleans up.

pytest tears fixtures down on KeyboardInterrupt (Ctrl-C) but dies on SIGTERM, which is what
CI systems and ``timeout`` send. The handler is installed when a server fixture is first used
and taken back when pytest ends; a handler someone else installed is left alone.
"""

from __future__ import annotations

import contextlib
import signal
from types import FrameType
from typing import Any

__all__ = ["install_sigterm_handler", "restore_sigterm_handler"]

_previous: Any = None


def _sigterm_to_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"terminated by signal {signum}")


def install_sigterm_handler() -> None:
    """Turn SIGTERM into KeyboardInterrupt, unless a handler other than the default is set."""
    global _previous
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        with contextlib.suppress(ValueError):  # not the main thread
            _previous = signal.signal(signal.SIGTERM, _sigterm_to_keyboard_interrupt)


def restore_sigterm_handler() -> None:
    """Put back the handler :func:`install_sigterm_handler` replaced."""
    global _previous
    if _previous is not None:
        with contextlib.suppress(ValueError):
            if signal.getsignal(signal.SIGTERM) is _sigterm_to_keyboard_interrupt:
                signal.signal(signal.SIGTERM, _previous)
        _previous = None
