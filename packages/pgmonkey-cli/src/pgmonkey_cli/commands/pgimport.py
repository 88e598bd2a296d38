"""`pgmonkey pgimport` (placeholder)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: "argparse._SubParsersAction[Any]") -> None:
    """Add the `pgimport` command."""
    subparsers.add_parser("pgimport", help="(not built yet)")
