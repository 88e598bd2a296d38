"""Reading pgmonkey YAML configurations (placeholder: replaced by the configuration work).

This minimal version only loads YAML safely so that other parts can be built on it.
"""

from __future__ import annotations

from os import PathLike
from typing import Any

import yaml

__all__ = ["load_config", "redact_config"]

REDACTED = "***REDACTED***"


def load_config(
    source: str | PathLike[str] | dict[str, Any],
    resolve_env: bool = False,
    allow_sensitive_defaults: bool = False,
    strict: bool = False,
) -> dict[str, Any]:
    """Load a configuration from a YAML file or a dict (placeholder)."""
    if isinstance(source, dict):
        return dict(source)
    with open(source, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    if isinstance(data, dict) and "postgresql" in data:
        data = data["postgresql"]
    return dict(data or {})


def redact_config(cfg: Any) -> Any:
    """Return a copy of ``cfg`` with passwords masked (placeholder)."""
    if isinstance(cfg, dict):
        return {k: (REDACTED if k == "password" and v else redact_config(v)) for k, v in cfg.items()}
    if isinstance(cfg, list):
        return [redact_config(v) for v in cfg]
    return cfg
