"""Top-level sections that are not pgmonkey's keep YAML's own types, as in pgmonkey 3.4.

pgmonkey's own sections are read with every scalar kept as written (see ``_loader``), so YAML
1.1 cannot turn ``password: off`` into ``False``. Other sections (``app: {feature_flag:
true}``) belong to the application, which in 3.4 got them from ``yaml.safe_load``: booleans,
numbers and dates included. Only such sections are constructed that way, from a file that the
bounded loader has already accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from pgmonkey.config import _schema as schema

__all__ = ["with_typed_extras"]

_Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _container(data: Mapping[Any, Any]) -> tuple[Mapping[Any, Any], str | None]:
    """The mapping holding the sections (inside the legacy ``postgresql:`` wrapper if used)."""
    inner = data.get("postgresql")
    if "connection_settings" not in data and isinstance(inner, Mapping):
        return inner, "postgresql"
    return data, None


def with_typed_extras(data: Any, text: str) -> Any:
    """Return ``data`` with its non-pgmonkey top-level sections typed as ``yaml.safe_load`` does.

    Args:
        data: The tree parsed from ``text`` (scalars as text).
        text: The file's text, already accepted by the bounded loader.

    Returns:
        ``data`` itself when it has no such section (or ``text`` cannot be constructed, e.g. an
        invalid date), else a copy with those sections replaced.
    """
    if not isinstance(data, Mapping):
        return data
    container, wrapper = _container(data)
    extras = [key for key in container if key not in schema.SECTIONS]
    if not extras:
        return data
    try:
        typed = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError):
        return data
    if wrapper is not None and isinstance(typed, Mapping):
        typed = typed.get(wrapper)
    if not isinstance(typed, Mapping):
        return data
    by_text = {str(key): value for key, value in typed.items()}
    replaced = dict(container)
    for key in extras:
        if key in by_text:
            replaced[key] = by_text[key]
    return {**data, wrapper: replaced} if wrapper is not None else replaced
