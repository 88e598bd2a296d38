"""Checking a configuration against the schema and producing the normalised dict.

Every problem is collected (so ``find_problems`` can list them all); ``load_config`` raises
the first. Values are only ever echoed in messages for non-sensitive keys, when they were
written literally in the file (never after interpolation), and only when short.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from pgmonkey.config import _schema as schema
from pgmonkey.config._interpolate import Interpolator, is_structured_ref
from pgmonkey.config._loader import Marks
from pgmonkey.config._redact import redact_text
from pgmonkey.config._sensitive import is_sensitive_key
from pgmonkey.config._warn import UnknownConfigKeyWarning, warn
from pgmonkey.errors import ConfigError, ConfigValidationError, EnvInterpolationError

__all__ = ["Normaliser"]

_DECIMAL_INT = re.compile(r"[+-]?[0-9]+")
_DECIMAL_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_GUC_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*(?:\.[A-Za-z_][A-Za-z0-9_$]*)*")
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})

# Lower bounds (inclusive unless noted) of the numeric pool settings.
_POOL_MINIMUM: dict[str, tuple[float, bool]] = {
    "min_size": (0, True),
    "max_size": (1, True),
    "max_waiting": (0, True),
    "num_workers": (1, True),
    "timeout": (0, False),
    "max_idle": (0, False),
    "max_lifetime": (0, False),
    "reconnect_timeout": (0, True),
}


class _Invalid(Exception):
    """A value cannot be converted; carries the message (without the location)."""


class Normaliser:
    """Validates one configuration tree and builds the normalised dict.

    Args:
        source: The file name, or ``None`` for a dict.
        marks: Key positions from the YAML file (may be empty).
        strict: Unknown keys are errors instead of warnings.
        interpolator: Resolves references, or ``None`` when ``resolve_env`` is off.
    """

    def __init__(
        self,
        *,
        source: str | None,
        marks: Marks,
        strict: bool,
        interpolator: Interpolator | None,
    ) -> None:
        self.source = source
        self.marks = marks
        self.strict = strict
        self.interpolator = interpolator
        self.problems: list[ConfigError] = []
        self.prefix: tuple[Any, ...] = ()

    # -- reporting ----------------------------------------------------------------------

    def _where(self, path: tuple[Any, ...]) -> str:
        mark = self.marks.get(self.prefix + path)
        return f" (line {mark[0]}, column {mark[1]})" if mark else ""

    def error(self, message: str, path: tuple[Any, ...]) -> None:
        """Record a schema violation at ``path``."""
        self.problems.append(
            ConfigValidationError(
                message + self._where(path), source=self.source, key_path=self.prefix + path
            )
        )

    def unknown(self, key: Any, section: str | None, candidates: list[str]) -> None:
        """Report an unknown key: a warning, or an error in strict mode."""
        path = (key,) if section is None else (section, key)
        label = "at the top level" if section is None else f"in section '{section}'"
        message = f"unknown key {str(key)!r} {label} is ignored and never sent to the server"
        suggestion = schema.closest(key, candidates)
        if suggestion is not None:
            message += f"; did you mean {suggestion!r}?"
        if self.strict:
            self.error(message, path)
            return
        where = ".".join(str(p) for p in self.prefix + path)
        location = f"{self.source}: {where}" if self.source else where
        warn(f"{location}{self._where(path)}: {message}", UnknownConfigKeyWarning)

    # -- the whole document -------------------------------------------------------------

    def run(self, data: Any) -> dict[str, Any]:
        """Validate ``data`` and return the normalised configuration (possibly partial)."""
        result: dict[str, Any] = {
            "connection_type": "normal",
            "connection_settings": {},
            "pool_settings": {},
            "async_pool_settings": {},
            "sync_settings": {},
            "async_settings": {},
        }
        if not isinstance(data, Mapping):
            self.error(
                f"the configuration must be a mapping of sections (found {_type_name(data)})",
                (),
            )
            return result
        data = self._unwrap_legacy(data)
        for key in data:
            if key not in schema.SECTIONS:
                self.unknown(key, None, list(schema.SECTIONS))
        if "connection_settings" not in data:
            self.error(
                "the required section 'connection_settings' is missing",
                ("connection_settings",),
            )
        ctype = self._value(data.get("connection_type"), ("connection_type",), self._enum_type)
        if ctype is not None:
            result["connection_type"] = ctype
        result["connection_settings"] = self._connection_settings(data.get("connection_settings"))
        for section in schema.POOL_SECTIONS:
            result[section] = self._pool_settings(section, data.get(section))
        for section in schema.SETTINGS_SECTIONS:
            result[section] = self._session_settings(section, data.get(section))
        if data.get("pooler") is not None:
            pooler = self._value(data["pooler"], ("pooler",), self._enum_pooler)
            if pooler is not None:
                self._check_pooler(pooler, result)
                ordered = {"connection_type": result.pop("connection_type"), "pooler": pooler}
                result = {**ordered, **result}
        return result

    def _check_pooler(self, pooler: str, result: Mapping[str, Any]) -> None:
        """``pooler: pgbouncer`` refuses session state that transaction pooling would lose."""
        if pooler != "pgbouncer":
            return
        why = (
            "cannot be used with 'pooler: pgbouncer': PgBouncer refuses the 'options' startup "
            "parameter that carries them, and in transaction pooling each transaction may run "
            "on a different server connection, so session settings would be lost or leak to "
            "other clients; set them on the server instead (ALTER ROLE ... SET name = value)"
        )
        for section in schema.SETTINGS_SECTIONS:
            if result.get(section):
                names = ", ".join(sorted(result[section]))
                self.error(f"session settings ({names}) {why}", (section,))
        if result["connection_settings"].get("options"):
            self.error(why.replace("them", "it", 1), ("connection_settings", "options"))

    def _unwrap_legacy(self, data: Mapping[Any, Any]) -> Mapping[Any, Any]:
        if "postgresql" not in data or "connection_settings" in data:
            return data
        inner = data["postgresql"]
        warn(
            "The top-level 'postgresql:' key in pgmonkey config files is deprecated since "
            "v3.0.0 and will be removed in a future version. Remove the 'postgresql:' wrapper "
            "and dedent all settings one level." + (f" (in {self.source})" if self.source else ""),
            DeprecationWarning,
        )
        for key in data:
            if key != "postgresql":
                self.unknown(key, None, list(schema.SECTIONS))
        if inner is None:
            return {}
        if not isinstance(inner, Mapping):
            self.error(
                f"must be a mapping of sections (found {_type_name(inner)})", ("postgresql",)
            )
            return {}
        self.prefix = ("postgresql",)
        return inner

    def _section(self, name: str, value: Any) -> Mapping[Any, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping) or is_structured_ref(value):
            self.error(f"must be a mapping of settings (found {_type_name(value)})", (name,))
            return {}
        return value

    # -- sections -----------------------------------------------------------------------

    def _connection_settings(self, value: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        section = "connection_settings"
        for key, raw in self._section(section, value).items():
            kind = schema.connection_key_kind(key) if isinstance(key, str) else None
            needed = schema.NEWER_LIBPQ_KEYS.get(key) if isinstance(key, str) else None
            if kind is None and needed is not None and schema.libpq_version() < needed:
                self.error(_newer_libpq_message(key, needed), (section, key))
                continue
            if kind is None:
                self.unknown(key, section, sorted(schema.connection_keys()))
                continue
            converter = _CONVERTERS[kind]
            if key == "sslmode":
                converter = self._enum_sslmode
            converted = self._value(raw, (section, key), converter)
            if converted is not None and converted != "":
                out[key] = converted
        return out

    def _pool_settings(self, section: str, value: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, raw in self._section(section, value).items():
            kind = schema.POOL_KEYS.get(key) if isinstance(key, str) else None
            if kind is None:
                self.unknown(key, section, list(schema.POOL_KEYS))
                continue
            converted = self._value(raw, (section, key), _CONVERTERS[kind])
            if converted is None or converted == "":
                continue
            bound = _POOL_MINIMUM.get(key)
            if bound is not None:
                low, inclusive = bound
                if converted < low or (not inclusive and converted == low):
                    relation = "at least" if inclusive else "greater than"
                    self.error(f"must be {relation} {low:g} (found {converted})", (section, key))
                    continue
            out[key] = converted
        min_size, max_size = out.get("min_size"), out.get("max_size")
        if max_size is not None and min_size is not None and min_size > max_size:
            self.error(
                f"min_size ({min_size}) cannot be greater than max_size ({max_size})",
                (section, "min_size"),
            )
        return out

    def _session_settings(self, section: str, value: Any) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, raw in self._section(section, value).items():
            if not isinstance(key, str) or not _GUC_NAME.fullmatch(key):
                self.error(f"{str(key)!r} is not a valid PostgreSQL setting name", (section, key))
                continue
            converted = self._value(raw, (section, key), _to_guc, blank_is_absent=False)
            if converted is not None:
                out[key] = converted
        return out

    # -- values -------------------------------------------------------------------------

    def _value(
        self,
        raw: Any,
        path: tuple[Any, ...],
        convert: Callable[[Any], Any],
        *,
        blank_is_absent: bool = True,
    ) -> Any:
        """Interpolate (when enabled) and convert one value; ``None`` when absent or bad.

        ``''`` counts as absent (a placeholder) unless ``blank_is_absent`` is false.
        """
        literal = True
        if self.interpolator is not None:
            try:
                resolved = self.interpolator.resolve(raw, self.prefix + path)
            except EnvInterpolationError as exc:
                self.problems.append(exc)
                return None
            literal = resolved is raw or resolved == raw
            raw = resolved
        elif is_structured_ref(raw):
            kind = next(iter(raw))
            self.error(
                f"'{kind}' references are only resolved with resolve_env=True "
                "(CLI: --resolve-env); refusing to use the mapping as a value",
                path,
            )
            return None
        if raw is None or (blank_is_absent and isinstance(raw, str) and raw == ""):
            return None
        try:
            return convert(raw)
        except _Invalid as exc:
            message = str(exc)
            key = path[-1]
            if literal and not is_sensitive_key(key) and isinstance(raw, str | int | float):
                shown = repr(redact_text(raw) if isinstance(raw, str) else raw)
                if len(shown) <= 42 and "\n" not in shown:
                    message += f" (found {shown})"
            self.error(message, path)
            return None

    def _enum_type(self, raw: Any) -> str:
        text = _to_str(raw)
        if text not in schema.CONNECTION_TYPES:
            raise _Invalid(_enum_message("connection_type", text, schema.CONNECTION_TYPES))
        return text

    def _enum_pooler(self, raw: Any) -> str:
        text = _to_str(raw).strip().lower()
        if text not in schema.POOLERS:
            raise _Invalid(_enum_message("pooler", text, schema.POOLERS))
        return text

    def _enum_sslmode(self, raw: Any) -> str:
        text = _to_str(raw)
        if text and text not in schema.SSLMODES:
            raise _Invalid(_enum_message("sslmode", text, schema.SSLMODES))
        return text


def _libpq_text(version: int) -> str:
    major, minor = divmod(version, 10000)
    return f"{major}" if major >= 10 and minor == 0 else f"{major}.{minor % 100}"


def _newer_libpq_message(key: str, needed: int) -> str:
    found = schema.libpq_version()
    in_use = _libpq_text(found) if found else "unknown"
    return (
        f"{key!r} needs libpq {_libpq_text(needed)} or newer, but the libpq in use is {in_use} "
        "(psycopg.pq.version()); install a newer libpq (or psycopg[binary], which bundles "
        "one) or remove the key"
    )


def _enum_message(name: str, text: str, choices: tuple[str, ...]) -> str:
    message = f"{name} must be one of {', '.join(choices)}"
    suggestion = schema.closest(text, choices)
    if suggestion is not None:
        message += f"; did you mean {suggestion!r}?"
    return message


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, str):
        return "text"
    if isinstance(value, int | float):
        return "a number"
    return f"a {type(value).__name__}"


def _not_scalar(value: Any, expected: str) -> _Invalid:
    return _Invalid(f"expected {expected}, found {_type_name(value)}")


def _to_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise _Invalid("expected text, found a boolean (write it in quotes)")
    if isinstance(value, int | float):
        return str(value)
    raise _not_scalar(value, "text")


def _to_guc(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return _to_str(value)


def _parse_int(text: str) -> int:
    text = text.strip()
    if not _DECIMAL_INT.fullmatch(text):
        raise _Invalid("expected a whole number written in decimal digits")
    digits = text.lstrip("+-")
    if len(digits) > 1 and digits.startswith("0"):
        raise _Invalid(
            "a number with a leading zero is ambiguous (YAML 1.1 reads it as octal); "
            "write it without the leading zero"
        )
    return int(text)


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise _Invalid("expected a whole number, found a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise _Invalid("expected a whole number")
    if isinstance(value, str):
        return _parse_int(value)
    raise _not_scalar(value, "a whole number")


def _to_nonneg_int(value: Any) -> int:
    number = _to_int(value)
    if number < 0:
        raise _Invalid("must not be negative")
    return number


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise _Invalid("expected a number, found a boolean")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if not _DECIMAL_FLOAT.fullmatch(text):
            raise _Invalid("expected a number written in decimal digits (seconds)")
        whole = text.lstrip("+-").split(".")[0].split("e")[0].split("E")[0]
        if len(whole) > 1 and whole.startswith("0"):
            raise _Invalid(
                "a number with a leading zero is ambiguous (YAML 1.1 reads it as octal); "
                "write it without the leading zero"
            )
        number = float(text)
    else:
        raise _not_scalar(value, "a number")
    if not math.isfinite(number):
        raise _Invalid("must be a finite number")
    return number


def parse_boolean(value: object) -> bool | None:
    """Read a boolean the way a configuration does; ``None`` when ``value`` is not one.

    ``true``/``yes``/``on``/``1`` and ``false``/``no``/``off``/``0`` in any case (with
    surrounding blanks ignored), Python booleans, and the integers 0 and 1 are booleans.

    Example:
        >>> parse_boolean("On"), parse_boolean("no"), parse_boolean("maybe")
        (True, False, None)
    """
    try:
        return _to_bool(value)
    except _Invalid:
        return None


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    if isinstance(value, Mapping | list | tuple):
        raise _not_scalar(value, "true or false")
    raise _Invalid("expected true or false")


def _to_port(value: Any) -> int | str:
    if isinstance(value, str) and "," in value:
        parts = [part.strip() for part in value.split(",")]
        for part in parts:
            if part:
                _check_port(_parse_int(part))
        return ",".join(parts)
    return _check_port(_to_int(value))


def _check_port(port: int) -> int:
    if not 1 <= port <= 65535:
        raise _Invalid("a port must be between 1 and 65535")
    return port


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    schema.STR: _to_str,
    schema.INT: _to_nonneg_int,
    schema.FLOAT: _to_float,
    schema.BOOL: _to_bool,
    schema.PORT: _to_port,
    schema.GUC: _to_guc,
}
