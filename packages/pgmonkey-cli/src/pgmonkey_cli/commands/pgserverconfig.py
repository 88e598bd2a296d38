"""`pgmonkey pgserverconfig` (placeholder)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: "argparse._SubParsersAction[Any]") -> None:
    """Add the `pgserverconfig` command."""
    subparsers.add_parser("pgserverconfig", help="(not built yet)")
