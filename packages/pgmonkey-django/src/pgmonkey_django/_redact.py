"""Django ``DATABASES`` entries with secrets masked, for display."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import pgmonkey.config

__all__ = ["REDACTED", "redact_settings", "redact_text"]

REDACTED: str = getattr(pgmonkey.config, "REDACTED", "***REDACTED***")
# Django's error reporter hides the same words (django.views.debug.SafeExceptionReporterFilter).
_FALLBACK = re.compile(r"pass|secret|token|key|signature|credential|auth", re.IGNORECASE)


def _is_sensitive(key: str) -> bool:
    core: Callable[[str], bool] | None = getattr(pgmonkey.config, "is_sensitive_key", None)
    if core is not None and core(key.lower()):
        return True
    return bool(_FALLBACK.search(key))


def _redact(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if isinstance(k, str) and _is_sensitive(k) and v else _redact(v))
            for k, v in value.items()
        }
    return value


def redact_text(text: str, entry: Mapping[str, Any]) -> str:
    """``text`` (an error message) with the secrets of a ``DATABASES`` entry masked.

    The core's one redaction (:func:`pgmonkey.config.redact_text`): the password, and any
    URL user info or ``password=`` fragment written by mistake in ``NAME`` or ``HOST``.
    """
    return pgmonkey.config.redact_text(text, entry)


def redact_settings(entry: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of a ``DATABASES`` entry with passwords and keys masked.

    Sensitive keys are masked whole; every other value is shown as the core's
    :func:`pgmonkey.config.redact_config` shows it (a URL or ``password=`` fragment written
    in ``NAME`` or ``HOST`` is masked). Callables and enum members in ``OPTIONS`` are shown
    by name.
    """
    redacted: dict[str, Any] = pgmonkey.config.redact_config(_redact(entry))
    options = redacted.get("OPTIONS")
    if isinstance(options, dict):
        for key, value in options.items():
            if callable(value):
                options[key] = getattr(value, "__qualname__", repr(value))
            elif hasattr(value, "name") and hasattr(value, "value"):  # enum members
                options[key] = f"{type(value).__name__}.{value.name}"
    return redacted
