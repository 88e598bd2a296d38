"""Checking a configuration against the schema and producing the normalised dict.

Every problem is collected (so ``find_problems`` can list them all); ``load_config`` raises
the first. Values are only ever echoed in messages for non-sensitive keys, when they were
written literally in the file (never after interpolation), and only when short.

With ``resolve_env`` off, a value that is (or contains) an environment reference, or is a
``from_env``/``from_file`` mapping, is kept exactly as written and its type check is left for
the moment it is resolved (as in pgmonkey 3.4); a hint says so. Top-level sections that are not
pgmonkey's are kept as written (interpolated with ``resolve_env``), as 3.4 did.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from pgmonkey.config import _schema as schema
from pgmonkey.config._interpolate import (
    Interpolator,
    is_structured_ref,
    reference_names,
    structured_kind,
)
from pgmonkey.config._loader import Marks
from pgmonkey.config._provider import ProviderImportError, load_provider
from pgmonkey.config._redact import redact_text
from pgmonkey.config._secret_file import NUL_MESSAGE
from pgmonkey.config._sensitive import is_sensitive_key
from pgmonkey.config._warn import ConfigHint, UnknownConfigKeyWarning, warn
from pgmonkey.errors import ConfigError, ConfigValidationError, EnvInterpolationError, key_text

__all__ = ["MAX_INT", "Normaliser", "reference_hint"]

logger = logging.getLogger("pgmonkey.config")

#: The largest whole number (and number of seconds) a setting may hold: libpq reads its
#: numeric keywords as C ``int``, and longer waits overflow the platform's timers.
MAX_INT = 2**31 - 1
# More digits than this cannot be a useful value; refusing them early keeps int() cheap.
_MAX_DIGITS = 18
# Unknown top-level keys at least this close to a section name are reported as typos.
_SECTION_TYPO_CUTOFF = 0.8
_SHOWN_REFERENCE = 60

_DECIMAL_INT = re.compile(r"[+-]?[0-9]+")
_DECIMAL_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_GUC_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*(?:\.[A-Za-z_][A-Za-z0-9_$]*)*")
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})

# Lower bounds (inclusive unless noted) of the numeric pool settings; MAX_INT is the upper one.
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
        self.hints: list[ConfigHint] = []
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

    def hint(self, message: str, path: tuple[Any, ...]) -> None:
        """Record a hint (valid, but probably not what was meant) at ``path``."""
        mark = self.marks.get(self.prefix + path)
        self.hints.append(
            ConfigHint(
                message,
                source=self.source,
                key_path=self.prefix + path,
                line=mark[0] if mark else None,
            )
        )

    def _unresolvable(self, exc: EnvInterpolationError, path: tuple[Any, ...]) -> None:
        """Record a reference that cannot be resolved, with the line of its key."""
        mark = self.marks.get(exc.key_path) or self.marks.get(self.prefix + path)
        where = f" (line {mark[0]}, column {mark[1]})" if mark else ""
        self.problems.append(
            EnvInterpolationError(exc.message + where, source=exc.source, key_path=exc.key_path)
        )

    def unknown(
        self, key: Any, section: str | None, candidates: list[str], suggestion: str | None = None
    ) -> None:
        """Report an unknown key: a warning and a log record, or an error in strict mode."""
        path = (key,) if section is None else (section, key)
        label = "at the top level" if section is None else f"in section '{section}'"
        message = f"unknown key {str(key)!r} {label} is ignored and never sent to the server"
        if suggestion is None:
            suggestion = schema.closest(key, candidates)
        if suggestion is not None:
            message += f"; did you mean {suggestion!r}?"
        if self.strict:
            self.error(message, path)
            return
        where = ".".join(key_text(p) for p in self.prefix + path)
        location = f"{self.source}: {where}" if self.source else where
        text = f"{location}{self._where(path)}: {message}"
        # pgmonkey 3.x logged unknown connection keys; the warning points at the caller's line.
        logger.warning("%s", text, extra={"pgmonkey_warned": True})
        warn(text, UnknownConfigKeyWarning)

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
        ordered: dict[str, Any] = {"connection_type": result.pop("connection_type")}
        if data.get("pooler") is not None:
            pooler = self._value(data["pooler"], ("pooler",), self._enum_pooler)
            if pooler is not None:
                self._check_pooler(pooler, result)
                ordered["pooler"] = pooler
        if data.get("metrics") is not None:
            metrics = self._value(data["metrics"], ("metrics",), _CONVERTERS[schema.BOOL])
            if metrics is not None:
                ordered["metrics"] = metrics
        result = {**ordered, **result}
        for key in data:
            if key not in schema.SECTIONS:
                result[key] = self._extra_section(key, data[key])
        return result

    def _extra_section(self, key: Any, value: Any) -> Any:
        """A top-level key that is not pgmonkey's: kept as written, as pgmonkey 3.4 did.

        A key close to a section name (``pool_setings``) is reported like any unknown key (a
        warning, an error when strict); any other (``app:``) only gets a hint and a debug
        record. With ``resolve_env`` its references are resolved, sensitive keys refusing
        defaults as everywhere else.
        """
        typo = schema.closest(key, schema.SECTIONS, cutoff=_SECTION_TYPO_CUTOFF)
        if typo is not None:
            self.unknown(key, None, list(schema.SECTIONS), suggestion=typo)
        else:
            self.hint(
                "is not a pgmonkey section: it is kept in the loaded configuration as written "
                "and not used by pgmonkey",
                (key,),
            )
            logger.debug("top-level key %r is not a pgmonkey section; kept as written", str(key))
        if self.interpolator is None:
            return _plain_copy(value)
        try:
            return self.interpolator.resolve(value, (*self.prefix, key))
        except EnvInterpolationError as exc:
            self._unresolvable(exc, (key,))
            return None

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
            if bound is not None and not isinstance(converted, int | float):
                pass  # an unresolved reference, kept as written (see _value)
            elif bound is not None:
                low, inclusive = bound
                if converted < low or (not inclusive and converted == low):
                    relation = "at least" if inclusive else "greater than"
                    self.error(f"must be {relation} {low:g} (found {converted})", (section, key))
                    continue
                if converted > MAX_INT:
                    self.error(f"must be at most {MAX_INT} (found {converted:g})", (section, key))
                    continue
            out[key] = converted
        min_size, max_size = out.get("min_size"), out.get("max_size")
        if isinstance(min_size, int) and isinstance(max_size, int) and min_size > max_size:
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

        ``''`` counts as absent (a placeholder) unless ``blank_is_absent`` is false. With
        ``resolve_env`` off, a reference is returned as written (see :meth:`_unresolved`).
        """
        origins: list[str] = []
        if self.interpolator is not None:
            start = len(self.interpolator.origins)
            try:
                resolved = self.interpolator.resolve(raw, self.prefix + path)
            except EnvInterpolationError as exc:
                self._unresolvable(exc, path)
                return None
            origins = list(dict.fromkeys(self.interpolator.origins[start:]))
            literal = not origins and (resolved is raw or resolved == raw)
            raw = resolved
        else:
            literal = True
        if isinstance(raw, str) and "\0" in raw:
            self.error(_from(NUL_MESSAGE, origins), path)
            return None
        if self.interpolator is None and self._unresolved(raw, path, typed=convert in _TYPED):
            return raw
        if raw is None or (blank_is_absent and isinstance(raw, str) and raw == ""):
            return None
        try:
            return convert(raw)
        except _Invalid as exc:
            message = str(exc)
            if literal and not is_sensitive_key(path[-1]):
                message += _found(raw)
            self.error(_from(message, origins), path)
            return None

    def _unresolved(self, raw: Any, path: tuple[Any, ...], *, typed: bool) -> bool:
        """Tell whether ``raw`` is a reference left unresolved (``resolve_env`` off); hint.

        Such a value is kept as written, like pgmonkey 3.4 did: ``${...}`` text is used
        literally, and a ``from_env``/``from_file`` mapping is refused when connecting.
        """
        kind = structured_kind(raw)
        if kind is not None:
            self.hint(
                f"is a {kind} reference, which is only resolved with resolve_env=True "
                "(CLI: --resolve-env); it is kept as written, and connecting with it "
                "unresolved is refused",
                path,
            )
            return True
        text = reference_hint(path[-1], raw)
        if text is None:
            return False
        effect = (
            ": it is kept as written, and connecting with it is refused (as written it is "
            "not a valid value)"
            if typed or path == ("pooler",)
            else ", so it is used literally"
        )
        self.hint(
            f"looks like an environment reference ({text}) but resolve_env is off{effect}; "
            "pass --resolve-env (CLI) or resolve_env=True (Python) to resolve it",
            path,
        )
        return True

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


def reference_hint(key: Any, value: Any) -> str | None:
    """How to show a value that looks like an unresolved ``${...}`` reference; else ``None``.

    For a sensitive key only a value that is exactly one reference counts, and only the
    variable's name is shown (never a default, never surrounding text); other values are
    shown whole when short.

    Args:
        key: The key the value is stored under.
        value: The value as written.
    """
    if not isinstance(value, str) or "${" not in value:
        return None
    names = reference_names(value)
    if not names:
        return None
    if is_sensitive_key(key):
        if len(names) != 1 or not value.startswith("${") or not value.endswith("}"):
            return None
        name = names[0]
        if value == f"${{{name}}}":
            return value
        return f"${{{name}:-...}}" if value.startswith(f"${{{name}:-") else None
    if len(value) <= _SHOWN_REFERENCE and "\n" not in value:
        return value
    return " ".join(f"${{{name}}}" for name in names)


def _from(message: str, origins: list[str]) -> str:
    return f"{message} (after resolving {', '.join(origins)})" if origins else message


def _found(raw: Any) -> str:
    """`` (found 'x')`` for a short literal scalar, else ``''`` (huge ints are never written)."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        return ""
    if isinstance(raw, int) and raw.bit_length() > 64:
        return ""
    shown = repr(redact_text(raw) if isinstance(raw, str) else raw)
    return f" (found {shown})" if len(shown) <= 42 and "\n" not in shown else ""


def _plain_copy(value: Any) -> Any:
    """A copy of mappings and lists (so the result never aliases the caller's dict)."""
    if isinstance(value, Mapping):
        return {k: _plain_copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_plain_copy(v) for v in value)
    return value


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
    if isinstance(value, int) and value.bit_length() > 64:
        raise _Invalid("expected text, found a number far too large to be a setting")
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
    if len(digits) > _MAX_DIGITS:
        raise _Invalid(f"has far too many digits ({len(digits)}; the limit is {MAX_INT})")
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
    if number > MAX_INT:
        raise _Invalid(f"must be at most {MAX_INT}")
    return number


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise _Invalid("expected a number, found a boolean")
    if isinstance(value, int) and value.bit_length() > 64:
        raise _Invalid(f"is far too large (at most {MAX_INT})")
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


def _to_provider(value: Any) -> str:
    text = _to_str(value).strip()
    try:
        load_provider(text)
    except ProviderImportError as exc:
        raise _Invalid(str(exc)) from None
    return text


#: Converters of values that are not text: a reference there cannot be used as written.
_TYPED: tuple[Callable[[Any], Any], ...] = (
    _to_nonneg_int,
    _to_float,
    _to_bool,
    _to_port,
    _to_provider,
)

_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    schema.STR: _to_str,
    schema.INT: _to_nonneg_int,
    schema.FLOAT: _to_float,
    schema.BOOL: _to_bool,
    schema.PORT: _to_port,
    schema.GUC: _to_guc,
    schema.PROVIDER: _to_provider,
}
