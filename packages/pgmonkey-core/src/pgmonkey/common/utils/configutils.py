"""Compatibility import path for configuration loading (pgmonkey 3.x/4.x).

New code: ``from pgmonkey import load_config``. :func:`normalize_config` is kept for code that
called it on a dict it had loaded itself; :func:`pgmonkey.load_config` does the same
unwrapping (and validates the result).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from pgmonkey.config import load_config

__all__ = ["load_config", "normalize_config"]

_LEGACY_WRAPPER_WARNING = (
    "The top-level 'postgresql:' key in pgmonkey config files is deprecated since v3.0.0 and "
    "will be removed in a future version. Remove the 'postgresql:' wrapper and dedent all "
    "settings one level."
)


def normalize_config(cfg: Mapping[str, Any]) -> Any:
    """Unwrap the pre-3.0 ``postgresql:`` top-level key, as pgmonkey 3.x did.

    Args:
        cfg: A configuration mapping as read from YAML.

    Returns:
        ``cfg["postgresql"]`` (with a :class:`DeprecationWarning`) when ``cfg`` has that
        wrapper and no ``connection_settings`` of its own, else ``cfg`` unchanged.
    """
    if "postgresql" in cfg and "connection_settings" not in cfg:
        warnings.warn(_LEGACY_WRAPPER_WARNING, DeprecationWarning, stacklevel=2)
        return cfg["postgresql"]
    return cfg
