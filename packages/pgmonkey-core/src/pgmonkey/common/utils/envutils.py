"""Compatibility import path for environment interpolation (pgmonkey 3.x/4.x)."""

from pgmonkey.config._interpolate import resolve_env_vars
from pgmonkey.config._sensitive import SENSITIVE_KEYS, is_sensitive_key
from pgmonkey.errors import EnvInterpolationError

__all__ = ["SENSITIVE_KEYS", "EnvInterpolationError", "is_sensitive_key", "resolve_env_vars"]
