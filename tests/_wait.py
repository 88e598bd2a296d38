"""Polling for a condition the test expects to become true, without timing assertions."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
    """Poll ``predicate`` until true (or fail the test naming ``what``)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
