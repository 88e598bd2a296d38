"""Reading pgmonkey YAML configurations: loading, validation, interpolation, redaction.

Redaction is one piece: :func:`redact_config` (a configuration), :func:`redact_text` (any
text that may quote one) and :func:`describe_target` (where a connection goes) mask the same
secrets, decided by :func:`is_sensitive_key`.

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
from pgmonkey.config._json_schema import SCHEMA_URL, json_schema
from pgmonkey.config._loader import MAX_FILE_BYTES, ParsedFile, read_text_file, read_yaml_file
from pgmonkey.config._normalise import parse_boolean
from pgmonkey.config._redact import REDACTED, describe_target, redact_config, redact_text
from pgmonkey.config._sensitive import is_sensitive_key
from pgmonkey.config._template import template_text
from pgmonkey.config._warn import ConfigHint, ConfigWarning, UnknownConfigKeyWarning

__all__ = [
    "MAX_FILE_BYTES",
    "REDACTED",
    "SCHEMA_URL",
    "ConfigHint",
    "ConfigReport",
    "ConfigWarning",
    "LoadedConfig",
    "ParsedFile",
    "UnknownConfigKeyWarning",
    "check_config",
    "clear_config_cache",
    "config_digest",
    "describe_target",
    "find_problems",
    "is_sensitive_key",
    "json_schema",
    "load_config",
    "load_config_cached",
    "parse_boolean",
    "read_text_file",
    "read_yaml_file",
    "redact_config",
    "redact_text",
    "require_resolved",
    "resolve_env_vars",
    "template_text",
]
