"""`pgmonkey pgconfig` (placeholder)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: "argparse._SubParsersAction[Any]") -> None:
    """Add the `pgconfig` command."""
    subparsers.add_parser("pgconfig", help="(not built yet)")
