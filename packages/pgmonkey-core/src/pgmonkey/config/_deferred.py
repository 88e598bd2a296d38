"""References left unresolved (``resolve_env`` off): refused or explained when connecting.

``load_config`` keeps a ``${...}`` reference or a ``from_env``/``from_file`` mapping exactly as
written when ``resolve_env`` is off (pgmonkey 3.4's literal semantics). Text settings are then
sent literally; these helpers stop a value that cannot work (a mapping, or a reference where a
number or boolean is expected) before it reaches psycopg, and add a hint to the error when the
server refuses a literal that looks like a reference.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pgmonkey.config import _schema as schema
from pgmonkey.config._interpolate import reference_names, structured_kind
from pgmonkey.config._normalise import reference_hint
from pgmonkey.errors import ConfigValidationError

__all__ = ["reference_note", "require_resolved"]

_HOW = "only resolved when the configuration is loaded with resolve_env=True (CLI: --resolve-env)"


def _typed(section: str, key: Any) -> bool:
    """Whether ``section.key`` holds something other than text (a number, a boolean...)."""
    if not isinstance(key, str):
        return False
    if section == "connection_settings":
        return schema.connection_key_kind(key) not in (schema.STR, None)
    if section in schema.POOL_SECTIONS:
        return schema.POOL_KEYS.get(key, schema.STR) != schema.STR
    return False


def require_resolved(
    cfg: Mapping[str, Any],
    sections: Iterable[str] = (
        "connection_settings",
        "pool_settings",
        "async_pool_settings",
        "sync_settings",
        "async_settings",
    ),
) -> None:
    """Refuse references that cannot be used as written in ``sections`` of ``cfg``.

    ``load_config`` without ``resolve_env`` keeps references as written; code that hands a
    loaded configuration to psycopg (or to a framework) calls this first, as pgmonkey's own
    connections do.

    Args:
        cfg: A normalised configuration.
        sections: The sections about to be handed to psycopg/psycopg_pool.

    Raises:
        ConfigValidationError: A ``from_env``/``from_file`` mapping, or a ``${...}``
            reference where a number or boolean is expected (the message names the key and
            shows the reference only for keys that are not sensitive).
    """
    for top in ("pooler", "metrics"):
        value = cfg.get(top)
        if isinstance(value, str) and reference_names(value):
            raise ConfigValidationError(
                f"{value} is an environment reference, {_HOW}; as written it is not a valid value",
                key_path=(top,),
            )
    for section in sections:
        values = cfg.get(section)
        if not isinstance(values, Mapping):
            continue
        for key, value in values.items():
            kind = structured_kind(value)
            if kind is not None:
                raise ConfigValidationError(
                    f"a {kind} reference is {_HOW}; refusing to connect with it unresolved",
                    key_path=(section, key),
                )
            if _typed(section, key) and isinstance(value, str) and reference_names(value):
                shown = reference_hint(key, value) or "this value"
                raise ConfigValidationError(
                    f"{shown} is an environment reference, {_HOW}; as written it is not a "
                    "valid value",
                    key_path=(section, key),
                )


def reference_note(params: Mapping[str, Any], settings: Mapping[str, Any], session: str) -> str:
    """A hint for a refused connection whose settings look like unresolved references.

    Args:
        params: The libpq parameters sent (``connection_settings``).
        settings: The session settings sent.
        session: ``"sync_settings"`` or ``"async_settings"``.

    Returns:
        ``"; hint: ..."`` to append to the error message, or ``""``. Only variable names are
        shown for sensitive keys (:func:`~pgmonkey.config.is_sensitive_key`).
    """
    found: list[str] = []
    for section, values in (("connection_settings", params), (session, settings)):
        for key, value in values.items():
            if section == "connection_settings" and key == "options" and settings:
                continue  # carries the encoded session settings, reported below
            shown = reference_hint(key, value)
            if shown is not None:
                found.append(f"{section}.{key} is {shown}")
    if not found:
        return ""
    return (
        f"; hint: {', '.join(found)}, which looks like an environment reference sent "
        "literally; load the configuration with resolve_env=True (CLI: --resolve-env) to "
        "resolve it"
    )
