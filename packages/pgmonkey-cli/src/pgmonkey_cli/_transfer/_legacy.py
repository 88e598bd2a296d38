"""pgmonkey 3.x settings files (``data.yaml`` next to ``data.csv``): read once, converted.

pgmonkey 3.x kept the import (and export) settings in ``Path(data_file).with_suffix('.yaml')``
with the keys ``has_headers``, ``delimiter``, ``quotechar``, ``encoding``, ``auto_create_table``
and ``enforce_lowercase`` (export: ``delimiter``, ``quotechar``, ``encoding``). When the new
settings file (``data.pgimport.yaml``) does not exist yet and such a file is found, its values
are converted to the new keys, the new file is written with a note, and every key that has no
equivalent is named in a warning. An existing new-format file is never overwritten, and a
``.yaml`` file next to the data that is not a 3.x settings file is never silently ignored.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pgmonkey_cli._transfer._errors import TransferUsageError
from pgmonkey_cli._transfer._settings import CsvFormat, save_settings, validate_format

__all__ = ["LegacySettings", "convert_legacy_settings", "find_legacy_settings"]

#: 3.x key -> new key, for the keys with a direct equivalent.
RENAMED = {"has_headers": "header", "delimiter": "delimiter", "quotechar": "quote"}
#: 3.x keys whose 3.x behaviour is what pgmonkey does now, when set to this value.
BUILT_IN = {
    "auto_create_table": (True, "a missing table is always created from the header"),
    "enforce_lowercase": (True, "column names are always lower-cased"),
}
#: Why a built-in key set to the other value cannot be carried over.
NOT_CARRIED = {
    "auto_create_table": "pgimport now creates a missing table (3.x refused to); "
    "create the table before importing if it must not be created",
    "enforce_lowercase": "column names are lower-cased (3.x read this key but always "
    "lower-cased too)",
}
IMPORT_KEYS = frozenset({*RENAMED, "encoding", *BUILT_IN})
EXPORT_KEYS = frozenset({"delimiter", "quotechar", "encoding"})


@dataclass
class LegacySettings:
    """A 3.x settings file and what it converts to.

    Attributes:
        path: The 3.x file (``data.yaml``).
        values: The settings under their new names (``header``, ``delimiter``, ``quote``,
            ``encoding``).
        mapped: ``"old -> new"`` descriptions, for the note.
        dropped: ``(key, reason)`` for keys that are not carried over.
    """

    path: Path
    values: dict[str, Any] = field(default_factory=dict)
    mapped: list[str] = field(default_factory=list)
    dropped: list[tuple[str, str]] = field(default_factory=list)

    def note(self, new_file: Path) -> str:
        """The message saying what was converted, and to where."""
        mapped = f" ({', '.join(self.mapped)})" if self.mapped else ""
        return (
            f"Converted the pgmonkey 3.x settings file {self.path} to {new_file}{mapped}; "
            f"{new_file.name} is read from now on and {self.path.name} is no longer used."
        )

    def warn(self) -> None:
        """Name, on stderr, every 3.x key that was not carried over (even with --quiet)."""
        for key, reason in self.dropped:
            print(
                f"pgmonkey: warning: {self.path}: {key!r} not carried over: {reason}",
                file=sys.stderr,
            )


def legacy_path(data_file: Path) -> Path:
    """Where 3.x looked for the settings: ``Path(data_file).with_suffix('.yaml')``."""
    return data_file.with_suffix(".yaml")


def find_legacy_settings(
    data_file: Path, *, kind: str, say: Callable[[str], None]
) -> LegacySettings | None:
    """The 3.x settings file next to ``data_file``, converted; ``None`` when there is none.

    A ``.yaml`` file in that place that is not a 3.x settings file (a connection config, say)
    is left alone with a note saying so.

    Raises:
        TransferUsageError: the file is a 3.x settings file but cannot be read or parsed.
    """
    import yaml

    path = legacy_path(data_file)
    if path == data_file or not path.is_file():
        return None
    allowed = IMPORT_KEYS if kind == "pgimport" else EXPORT_KEYS
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise TransferUsageError(
            f"cannot read this pgmonkey 3.x settings file ({reason}); fix or remove it",
            source=str(path),
        ) from None
    if not isinstance(data, dict) or not allowed & {str(k) for k in data}:
        say(
            f"Note: {path} is not a pgmonkey 3.x {kind[2:]} settings file (none of "
            f"{', '.join(sorted(allowed))}); not used."
        )
        return None
    legacy = LegacySettings(path)
    for raw_key, value in data.items():
        key = str(raw_key)
        if key in RENAMED and key in allowed:
            legacy.values[RENAMED[key]] = value
            legacy.mapped.append(key if RENAMED[key] == key else f"{key} -> {RENAMED[key]}")
        elif key == "encoding":
            legacy.values["encoding"] = value
            legacy.mapped.append(key)
        elif key in BUILT_IN and key in allowed:
            expected, now = BUILT_IN[key]
            if value is expected:
                legacy.mapped.append(f"{key}: {now}")
            else:
                legacy.dropped.append((key, NOT_CARRIED[key]))
        else:
            legacy.dropped.append((key, "not a pgmonkey 3.x setting"))
    return legacy


def convert_legacy_settings(
    data_file: Path, settings_file: Path, *, kind: str, say: Callable[[str], None]
) -> tuple[CsvFormat, bool] | None:
    """Convert the 3.x settings next to ``data_file`` into ``settings_file`` (not existing yet).

    Returns:
        ``(format, written)`` from the 3.x file, or ``None`` when there is no 3.x file.

    Raises:
        TransferUsageError: the 3.x file is unreadable or holds an invalid value (named).
    """
    legacy = find_legacy_settings(data_file, kind=kind, say=say)
    if legacy is None:
        return None
    fmt = validate_format(CsvFormat().merged(legacy.values), source=str(legacy.path))
    legacy.warn()
    written = save_settings(settings_file, fmt, kind=kind, data_file=data_file, say=say)
    if written:
        say(legacy.note(settings_file))
    else:
        say(f"Using the pgmonkey 3.x settings file {legacy.path} for this run.")
    return fmt, written
