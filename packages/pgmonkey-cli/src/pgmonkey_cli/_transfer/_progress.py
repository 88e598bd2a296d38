"""A byte/row progress bar on a terminal (tqdm), nothing otherwise."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["ProgressBar"]


class ProgressBar:
    """Wraps tqdm; a no-op when disabled (not a TTY, or ``--quiet``).

    Args:
        enabled: Whether to draw anything at all.
        total: Expected bytes (``None`` when unknown, e.g. an export).
        desc: The bar's label.
        rows_label: What the row counter is called (``"lines"`` while importing, since the
            count of newlines read is an estimate until the server reports the real count).
    """

    def __init__(self, *, enabled: bool, total: int | None, desc: str, rows_label: str) -> None:
        self._bar: Any = None
        self._rows = 0
        self._label = rows_label
        self._lock = threading.Lock()  # a parallel export updates from two threads
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total,
                desc=desc,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                file=sys.stderr,
                leave=False,
                dynamic_ncols=True,
            )

    @property
    def callback(self) -> Callable[[int, int], None] | None:
        """``update(bytes, rows)`` when enabled, else ``None`` (so callers skip the work)."""
        return self.update if self._bar is not None else None

    def update(self, nbytes: int, rows: int) -> None:
        """Advance by ``nbytes`` and ``rows``."""
        if self._bar is None:
            return
        with self._lock:
            self._rows += rows
            self._bar.set_postfix({self._label: f"{self._rows:,}"}, refresh=False)
            self._bar.update(nbytes)

    def close(self) -> None:
        """Remove the bar from the terminal."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
