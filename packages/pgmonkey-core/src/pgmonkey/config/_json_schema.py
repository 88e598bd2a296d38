"""The JSON Schema of a pgmonkey YAML file, generated from what the loader validates with.

One source of truth: the sections, keys, value kinds, choices and limits come from
:mod:`pgmonkey.config._schema` and :mod:`pgmonkey.config._normalise`, the modules
:func:`pgmonkey.config.load_config` itself uses, so the schema an editor validates with
cannot drift from the loader.

The loader reads scalars as written, so a number may also be written as text (``port:
'5432'``), a boolean as ``yes``/``on``/``1``, and any value as an environment reference
(``${VAR}``, ``${VAR:-default}``, ``{from_env: VAR}``, ``{from_file: PATH}``). Unknown keys of
pgmonkey's sections are errors here, as in ``load_config(strict=True)``; top-level sections
that are not pgmonkey's are allowed, as the loader keeps them.
"""

from __future__ import annotations

from typing import Any

from pgmonkey.config import _schema as schema
from pgmonkey.config._normalise import _FALSE, _POOL_MINIMUM, _TRUE, MAX_INT
from pgmonkey.config._provider import PROVIDER_PATTERN

__all__ = ["SCHEMA_URL", "json_schema"]

SCHEMA_URL = "https://pgmonkey.net/schema/pgmonkey.schema.json"
"""Where the schema is published; ``pgmonkey pgconfig schema`` prints the same document."""

_NO_NUL = "^[^\\u0000]*$"
_WHOLE_REFERENCE = "^\\$\\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\\}$"
# No leading zero (YAML 1.1 would read it as octal) and at most ten digits.
_DECIMAL_INT = "^\\s*[+-]?(0|[1-9][0-9]{0,9})\\s*$"
_DECIMAL_FLOAT = "^\\s*[+-]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][+-]?[0-9]+)?\\s*$"
_BOOLEAN_WORDS = sorted(_TRUE | _FALSE)


def _any_case(word: str) -> str:
    """``[Tt][Rr][Uu][Ee]``: JSON Schema patterns (ECMA-262) have no inline flags."""
    return "".join(f"[{c.upper()}{c}]" if c.isalpha() else c for c in word)


_WORD_BOOL = "^(" + "|".join(_any_case(w) for w in _BOOLEAN_WORDS) + ")$"
_PORT_LIST = "^\\s*[0-9]+(\\s*,\\s*[0-9]*)*\\s*$"

_REFERENCE: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "pattern": _WHOLE_REFERENCE},
        *(
            {
                "type": "object",
                "properties": {key: {"type": "string", "minLength": 1}},
                "required": [key],
                "additionalProperties": False,
            }
            for key in ("from_env", "from_file")
        ),
    ],
    "description": "An environment reference, resolved with resolve_env=True (--resolve-env).",
}


def _text() -> dict[str, Any]:
    # Any scalar: the loader keeps what is written (0123, yes and 1:30 stay text).
    return {"anyOf": [{"type": "string", "pattern": _NO_NUL}, {"type": ["number", "boolean"]}]}


def _number(json_type: str, text_pattern: str, minimum: float, exclusive: bool) -> dict[str, Any]:
    """A number within the loader's bounds, or the same written as text."""
    bound: dict[str, Any] = {"exclusiveMinimum": minimum} if exclusive else {"minimum": minimum}
    return {
        "anyOf": [
            {"type": json_type, **bound, "maximum": MAX_INT},
            {"type": "string", "pattern": text_pattern},
        ]
    }


def _boolean() -> dict[str, Any]:
    return {
        "anyOf": [
            {"type": "boolean"},
            {"type": "integer", "enum": [0, 1]},
            {"type": "string", "pattern": _WORD_BOOL},
        ]
    }


def _port() -> dict[str, Any]:
    return {
        "anyOf": [
            {"type": "integer", "minimum": 1, "maximum": 65535},
            {"type": "string", "pattern": _PORT_LIST},
        ]
    }


def _value(kind: str, *, minimum: tuple[float, bool] = (0, True)) -> dict[str, Any]:
    low, inclusive = minimum
    if kind == schema.INT:
        value = _number("integer", _DECIMAL_INT, low, exclusive=not inclusive)
    elif kind == schema.FLOAT:
        value = _number("number", _DECIMAL_FLOAT, low, exclusive=not inclusive)
    elif kind == schema.BOOL:
        value = _boolean()
    elif kind == schema.PORT:
        value = _port()
    elif kind == schema.PROVIDER:
        value = {
            "anyOf": [{"type": "string", "pattern": PROVIDER_PATTERN}],
            "description": "A 'package.module:function' called for each new connection; "
            "it returns the password, or a mapping of connection parameters.",
        }
    else:
        value = _text()
    value["anyOf"] += [{"type": "null"}, _REFERENCE]  # empty: the key is left out
    return value


def _section(properties: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "type": ["object", "null"],
        "description": description,
        "properties": properties,
        "additionalProperties": False,
    }


def _settings_section(description: str) -> dict[str, Any]:
    return {
        "type": ["object", "null"],
        "description": description,
        "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_$]*(\\.[A-Za-z_][A-Za-z0-9_$]*)*$"},
        "additionalProperties": {
            "anyOf": [{"type": ["string", "number", "boolean"]}, _REFERENCE],
        },
    }


def json_schema() -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) of a pgmonkey configuration file.

    Editors validate and complete pgmonkey files with it (the YAML language server of VS Code
    and JetBrains reads the ``# yaml-language-server: $schema=...`` line of the template).

    Returns:
        The schema, a plain dict ready for ``json.dumps``.
    """
    connection_keys = sorted(schema.connection_keys())
    connection = {
        key: _value(schema.connection_key_kind(key) or schema.STR) for key in connection_keys
    }
    connection["sslmode"] = {
        "anyOf": [{"enum": [*schema.SSLMODES, ""]}, {"type": "null"}, _REFERENCE]
    }
    pool = {
        key: _value(kind, minimum=_POOL_MINIMUM.get(key, (0, True)))
        for key, kind in schema.POOL_KEYS.items()
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_URL,
        "title": "pgmonkey configuration",
        "description": "One PostgreSQL database for pgmonkey: connection, pools, session "
        "settings. See https://pgmonkey.net/reference.html",
        "type": "object",
        "properties": {
            "connection_type": {
                "enum": list(schema.CONNECTION_TYPES),
                "description": "The connection type used when the code does not name one.",
            },
            "pooler": {
                "enum": list(schema.POOLERS),
                "description": "What sits between pgmonkey and the server.",
            },
            "metrics": {
                **_value(schema.BOOL),
                "description": "OpenTelemetry metrics of every connection type, when "
                "opentelemetry-api is installed (default: true); a pool section's own metrics "
                "key wins for its pool.",
            },
            "connection_settings": _section(
                connection,
                "libpq connection parameters, autocommit and credential_provider.",
            ),
            "pool_settings": _section(pool, "psycopg_pool ConnectionPool settings (pool)."),
            "async_pool_settings": _section(
                dict(pool), "psycopg_pool AsyncConnectionPool settings (async_pool)."
            ),
            "sync_settings": _settings_section(
                "Session settings (SET) for the normal and pool types."
            ),
            "async_settings": _settings_section(
                "Session settings (SET) for the async and async_pool types."
            ),
        },
        "required": ["connection_settings"],
        "additionalProperties": True,
    }
