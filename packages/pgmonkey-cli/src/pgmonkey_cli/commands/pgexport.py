"""`pgmonkey pgexport` (placeholder)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: "argparse._SubParsersAction[Any]") -> None:
    """Add the `pgexport` command."""
    subparsers.add_parser("pgexport", help="(not built yet)")
