"""Reading pgmonkey YAML configurations: loading, validation, interpolation, redaction.

Example:
    >>> from pgmonkey.config import load_config, redact_config
    >>> cfg = load_config({"connection_settings": {"host": "db", "port": "5432",
    ...                                            "password": "s3cret"}})
    >>> cfg["connection_settings"]["port"]
    5432
    >>> redact_config(cfg)["connection_settings"]["password"]
    '***REDACTED***'
"""

from __future__ import annotations

from pgmonkey.config._api import ConfigReport, check_config, find_problems, load_config
from pgmonkey.config._cache import (
    LoadedConfig,
    clear_config_cache,
    config_digest,
    load_config_cached,
)
from pgmonkey.config._deferred import require_resolved
from pgmonkey.config._interpolate import resolve_env_vars
from pgmonkey.config._redact import REDACTED, redact_config
from pgmonkey.config._sensitive import is_sensitive_key
from pgmonkey.config._template import template_text
from pgmonkey.config._warn import ConfigHint, ConfigWarning, UnknownConfigKeyWarning

__all__ = [
    "REDACTED",
    "ConfigHint",
    "ConfigReport",
    "ConfigWarning",
    "LoadedConfig",
    "UnknownConfigKeyWarning",
    "check_config",
    "clear_config_cache",
    "config_digest",
    "find_problems",
    "is_sensitive_key",
    "load_config",
    "load_config_cached",
    "redact_config",
    "require_resolved",
    "resolve_env_vars",
    "template_text",
]
