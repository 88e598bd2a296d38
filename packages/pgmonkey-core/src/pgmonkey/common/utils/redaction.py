"""Compatibility import path for :func:`pgmonkey.redact_config` (pgmonkey 3.x/4.x)."""

from pgmonkey.config import REDACTED, redact_config

__all__ = ["REDACTED", "redact_config"]
