"""The optional settings files next to the data: ``data.pgimport.yaml``, ``data.pgexport.yaml``.

They hold the CSV format (encoding, delimiter, quote, header, NULL marker). pgmonkey writes one
on first use, with what it detected (import) or the defaults (export), and reads it afterwards;
command-line flags always win over the file.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from pgmonkey_cli._transfer._encodings import canonical_encoding
from pgmonkey_cli._transfer._errors import TransferUsageError

__all__ = [
    "CsvFormat",
    "TransferResult",
    "load_format",
    "read_settings",
    "save_settings",
    "validate_format",
    "write_settings",
]


@dataclass(frozen=True)
class CsvFormat:
    """How a CSV file is written.

    Attributes:
        encoding: A Python codec name (``utf-8``, ``utf-8-sig``, ``utf-16``, ``latin-1``...).
        delimiter: One ASCII character separating fields.
        quote: One ASCII character quoting fields (doubled inside a quoted field).
        header: Whether the first record holds the column names.
        null: The unquoted text meaning NULL (default: the empty field). A quoted field is
            never NULL, so ``""`` is the empty string.
    """

    encoding: str = "utf-8"
    delimiter: str = ","
    quote: str = '"'
    header: bool = True
    null: str = ""

    def merged(self, overrides: Mapping[str, Any]) -> CsvFormat:
        """A copy with every non-``None`` value of ``overrides`` applied."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


_KEYS = {f.name for f in fields(CsvFormat)}


def validate_format(fmt: CsvFormat, *, source: str | None = None) -> CsvFormat:
    """Check a format the way the server would, with clearer messages; canonicalise encoding.

    Raises:
        TransferUsageError: naming the setting (and ``source``, the settings file, if any).
    """

    def fail(key: str, message: str) -> TransferUsageError:
        if source is None:
            return TransferUsageError(f"--{key}: {message}")
        return TransferUsageError(message, source=source, key_path=[key])

    for key in ("delimiter", "quote", "null", "encoding"):
        value = getattr(fmt, key)
        if isinstance(value, str) and "\0" in value:
            raise fail(key, "cannot contain a NUL character")
    for key in ("delimiter", "quote"):
        value = getattr(fmt, key)
        if not isinstance(value, str) or len(value) != 1 or not value.isascii():
            raise fail(key, f"must be a single ASCII character, got {_shown(value)}")
        if value in "\r\n":
            raise fail(key, "cannot be a newline or carriage return")
    if fmt.delimiter == fmt.quote:
        raise fail("quote", f"the delimiter and the quote character are both {fmt.quote!r}")
    if not isinstance(fmt.null, str):
        raise fail("null", f"must be a string, got {_shown(fmt.null)}")
    if "\r" in fmt.null or "\n" in fmt.null:
        raise fail("null", "cannot contain a newline or carriage return")
    if fmt.delimiter in fmt.null:
        raise fail("null", f"cannot contain the delimiter {fmt.delimiter!r}")
    if fmt.quote in fmt.null:
        raise fail("null", f"cannot contain the quote character {fmt.quote!r}")
    if not isinstance(fmt.header, bool):
        raise fail("header", f"must be true or false, got {_shown(fmt.header)}")
    if not isinstance(fmt.encoding, str):
        raise fail("encoding", f"must be a string, got {_shown(fmt.encoding)}")
    try:
        encoding = canonical_encoding(fmt.encoding)
    except TransferUsageError:
        raise fail("encoding", f"unknown encoding {_shown(fmt.encoding)}") from None
    return replace(fmt, encoding=encoding)


def _shown(value: object, limit: int = 40) -> str:
    """``repr(value)``, cut to ``limit`` characters (a settings file may hold huge values)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}... ({len(text)} characters)"


def read_settings(path: Path) -> dict[str, Any]:
    """Read a settings file; only the keys of :class:`CsvFormat` are allowed.

    The file goes through pgmonkey's one bounded YAML reader
    (:func:`pgmonkey.config.read_yaml_file`): a regular file of at most
    :data:`pgmonkey.config.MAX_FILE_BYTES`, values kept as written (``0123`` stays
    ``"0123"``), aliases and nesting bounded. ``header`` takes the booleans a configuration
    does (true/false, yes/no, on/off, 1/0); ``null: ~`` (or an empty value) means the empty
    field.

    Raises:
        TransferUsageError: unreadable file, invalid YAML, not a mapping, unknown key, a
            value that is not a single text value (with the key and its line).
    """
    from pgmonkey.config import parse_boolean, read_yaml_file
    from pgmonkey.errors import ConfigError

    source = str(path)
    try:
        parsed = read_yaml_file(path, what="settings file")
    except ConfigError as exc:
        raise TransferUsageError(exc.message, source=source, key_path=exc.key_path) from None
    data = parsed.data
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise TransferUsageError("expected a mapping of settings", source=source)

    def fail(key: str, message: str) -> TransferUsageError:
        line = parsed.marks.get((key,), (None,))[0]
        where = f" (line {line})" if line is not None else ""
        return TransferUsageError(message + where, source=source, key_path=[key])

    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in _KEYS:
            allowed = ", ".join(sorted(_KEYS))
            raise fail(key, f"unknown setting (allowed: {allowed})")
        if value is not None and not isinstance(value, str):
            raise fail(key, f"must be a single value, found a {_kind(value)}")
        if key == "header":
            header = parse_boolean(value)
            if header is None:
                raise fail(key, f"must be true or false, got {_shown(value)}")
            values[key] = header
        elif value is None:
            if key != "null":
                raise fail(key, "has no value")
            values[key] = ""
        else:
            values[key] = value
    return values


def _kind(value: object) -> str:
    return "mapping" if isinstance(value, dict) else "list"


_COMMENTS = {
    "encoding": "Python codec: utf-8, utf-8-sig, utf-16, latin-1, cp1252, ...",
    "delimiter": "one character: ',' ';' '\\t' '|'",
    "quote": "quotes fields holding delimiters, quotes or newlines",
    "header": "true: the first record holds the column names",
    "null": 'unquoted text meaning NULL; a quoted "" is always the empty string',
}


# Characters YAML forbids, and its line breaks (NEL, LS, PS), which a quoted scalar would fold
# into a space: written as \u escapes so that every value reads back as written.
_NOT_YAML_PRINTABLE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")


def _yaml_scalar(value: object) -> str:
    """``value`` as a JSON scalar (valid YAML), with characters YAML forbids escaped."""
    rendered = json.dumps(value, ensure_ascii=False)
    return _NOT_YAML_PRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", rendered)


def write_settings(path: Path, fmt: CsvFormat, *, kind: str, data_file: Path) -> bool:
    """Write ``fmt`` to ``path`` unless a file is already there.

    Returns:
        ``True`` if the file was written, ``False`` if it already existed.
    """
    lines = [
        f"# pgmonkey {kind} settings for {data_file.name}",
        "# Written on first use; edit freely. Command-line flags override these values.",
    ]
    for f in fields(CsvFormat):
        value = getattr(fmt, f.name)
        rendered = _yaml_scalar(value)
        key = json.dumps(f.name)  # quoted: a bare `null` key would be YAML's null
        lines.append(f"{key}: {rendered}  # {_COMMENTS[f.name]}")
    text = "\n".join(lines) + "\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return True


def load_format(settings_file: Path, flags: Mapping[str, Any]) -> CsvFormat | None:
    """The format in ``settings_file`` with the command-line ``flags`` applied.

    Returns:
        ``None`` when there is no settings file yet.

    Raises:
        TransferUsageError: the file or a flag is invalid.
    """
    if not settings_file.exists():
        return None
    values = read_settings(settings_file)
    base = validate_format(CsvFormat().merged(values), source=str(settings_file))
    return validate_format(base.merged(flags))


def save_settings(
    settings_file: Path, fmt: CsvFormat, *, kind: str, data_file: Path, say: Callable[[str], None]
) -> bool:
    """Write a first-use settings file and say so; a failure to write is only reported.

    Returns:
        Whether the file was written.
    """
    label = "import" if kind == "pgimport" else "export"
    try:
        written = write_settings(settings_file, fmt, kind=kind, data_file=data_file)
    except OSError as exc:
        say(f"Could not write the {label} settings file {settings_file}: {exc.strerror}")
        return False
    if written:
        say(f"{label.capitalize()} settings written to {settings_file}")
    return written


@dataclass
class TransferResult:
    """What an import or an export did (the part both report).

    Attributes:
        rows: Data rows transferred (the server's count).
        seconds: Time spent in ``COPY``.
        settings_file: The settings file next to the data.
        settings_written: Whether this run wrote it.
        format: The CSV format used.
    """

    rows: int = 0
    seconds: float = 0.0
    settings_file: Path | None = None
    settings_written: bool = False
    format: CsvFormat = field(default_factory=CsvFormat)

    @property
    def rate(self) -> float:
        """Rows per second (0 when nothing was timed)."""
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        """What ``--json`` prints: every field, paths as text, and ``rows_per_second``."""
        summary: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, CsvFormat):
                value = {g.name: getattr(value, g.name) for g in fields(value)}
            elif isinstance(value, Path):
                value = str(value)
            summary[f.name] = value
        summary["seconds"] = round(self.seconds, 6)
        summary["rows_per_second"] = round(self.rate, 1)
        return summary
