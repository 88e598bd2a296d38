"""``redact_config``: a copy of a configuration that is safe to print or log."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pgmonkey.config._interpolate import is_structured_ref
from pgmonkey.config._sensitive import is_sensitive_key

__all__ = ["REDACTED", "redact_config", "redact_text"]

REDACTED = "***REDACTED***"

# scheme://user:password@host -- greedy up to the last '@' of the run, so an unencoded '@'
# inside the password is masked too (over-masking is the safe side).
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/?#\s@]*:)[^\s]*@")
# key=value pairs (libpq conninfo, URL query strings) whose key looks sensitive.
_PAIR = re.compile(
    r"(?i)(?P<head>\b[\w.-]*(?:password|passwd|secret|token|credential)[\w.-]*\s*=\s*)"
    r"(?:'(?:[^'\\]|\\.)*'|[^\s&;]*)"
)


def redact_text(text: str) -> str:
    """Mask passwords inside DSN/URL strings and ``key=value`` conninfo strings."""
    if "://" in text:
        text = _URL_PASSWORD.sub(lambda m: m.group("head") + REDACTED + "@", text)
    if "=" in text:
        text = _PAIR.sub(lambda m: m.group("head") + REDACTED, text)
    return text


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | Mapping | list | tuple) and len(value) == 0)


def _redact(value: Any, depth: int) -> Any:
    if depth > 100:
        return REDACTED
    if isinstance(value, Mapping):
        return {key: _redact_entry(key, item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact(item, depth + 1) for item in value]
    if isinstance(value, tuple):
        return tuple(_redact(item, depth + 1) for item in value)
    if isinstance(value, str):
        return redact_text(value)
    return value


def _redact_entry(key: Any, value: Any, depth: int) -> Any:
    if not is_sensitive_key(key):
        return _redact(value, depth)
    if _is_empty(value):
        return value
    if is_structured_ref(value) and isinstance(next(iter(value.values())), str):
        return dict(value)  # {from_env: NAME} names a variable or file, not a secret
    return REDACTED


def redact_config(cfg: Any) -> Any:
    """Return a copy of ``cfg`` that is safe to print.

    Values of sensitive keys (:func:`~pgmonkey.config.is_sensitive_key`) become
    :data:`REDACTED`, recursing into mappings and lists; passwords inside DSN/URL and
    ``key=value`` strings are masked wherever they appear. Empty values (``None``, ``''``)
    and ``from_env``/``from_file`` references are kept, keys that are not strings are
    tolerated, and the input is never modified.

    Args:
        cfg: A configuration (or any tree of mappings, lists and scalars).

    Returns:
        The redacted copy.

    Example:
        >>> redact_config({"connection_settings": {"user": "app", "password": "s3cret"}})
        {'connection_settings': {'user': 'app', 'password': '***REDACTED***'}}
    """
    return _redact(cfg, 0)
