"""One module per top-level command; each exposes ``register(subparsers)``."""

from __future__ import annotations

from types import ModuleType

from pgmonkey_cli.commands import (
    completion,
    pgconfig,
    pgexport,
    pgimport,
    pgserverconfig,
    sandbox,
)

COMMAND_MODULES: tuple[ModuleType, ...] = (
    pgconfig,
    pgserverconfig,
    pgimport,
    pgexport,
    sandbox,
    completion,
)

__all__ = ["COMMAND_MODULES"]
