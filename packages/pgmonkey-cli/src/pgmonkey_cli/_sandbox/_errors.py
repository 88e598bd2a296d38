"""Errors raised by ``pgmonkey sandbox``."""

from __future__ import annotations

from pgmonkey.errors import ConfigValidationError, PgMonkeyError

__all__ = ["SandboxError", "SandboxUsageError"]


class SandboxError(PgMonkeyError):
    """A sandbox could not be created, started, stopped or used (exit status 1)."""


class SandboxUsageError(ConfigValidationError):
    """The configuration or the options cannot make a sandbox: nothing was done (exit 2)."""
