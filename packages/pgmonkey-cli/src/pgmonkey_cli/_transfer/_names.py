"""Table names, column names and default file names."""

from __future__ import annotations

import re
from pathlib import Path

from pgmonkey_cli._transfer._errors import TransferUsageError

__all__ = [
    "MAX_IDENTIFIER_BYTES",
    "default_export_file",
    "normalise_column_names",
    "parse_table_name",
    "settings_path",
]

MAX_IDENTIFIER_BYTES = 63
"""PostgreSQL's NAMEDATALEN - 1: longer identifiers would be truncated silently."""


def parse_table_name(text: str) -> tuple[str | None, str]:
    """Split ``[schema.]table`` into its parts.

    A part written in double quotes may contain dots and (doubled) quotes: ``"my.schema"."t"``.
    Unquoted parts are taken literally (no case folding), as earlier pgmonkey releases did.

    Returns:
        ``(schema, table)``; ``schema`` is ``None`` when not given.

    Raises:
        TransferUsageError: empty or blank (whitespace-only) parts, more than two parts, an
            unterminated quote, a NUL character, or a part longer than 63 bytes.
    """
    parts: list[str] = []
    i, n = 0, len(text)
    while True:
        if i < n and text[i] == '"':
            j = i + 1
            buf: list[str] = []
            while True:
                k = text.find('"', j)
                if k < 0:
                    raise TransferUsageError(f"--table {text!r}: unterminated double quote")
                buf.append(text[j:k])
                if k + 1 < n and text[k + 1] == '"':
                    buf.append('"')
                    j = k + 2
                    continue
                i = k + 1
                break
            parts.append("".join(buf))
            if i < n and text[i] != ".":
                raise TransferUsageError(
                    f"--table {text!r}: expected '.' after a quoted name, found {text[i]!r}"
                )
        else:
            k = text.find(".", i)
            end = n if k < 0 else k
            parts.append(text[i:end])
            i = end
        if i >= n:
            break
        i += 1  # skip the dot
        if i >= n:
            parts.append("")
            break
    if len(parts) > 2:
        raise TransferUsageError(
            f"--table {text!r}: expected [schema.]table; quote a name that contains dots, "
            "e.g. '\"my.table\"'"
        )
    for part in parts:
        _check_identifier(part, what=f"--table {text!r}")
    if len(parts) == 1:
        return None, parts[0]
    return parts[0], parts[1]


def _check_identifier(name: str, *, what: str) -> None:
    if not name.strip():
        raise TransferUsageError(f"{what}: empty name" if not name else f"{what}: blank name")
    if "\x00" in name:
        raise TransferUsageError(f"{what}: names cannot contain a NUL character")
    if len(name.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
        raise TransferUsageError(
            f"{what}: {name[:20]!r}... is longer than {MAX_IDENTIFIER_BYTES} bytes"
        )


_NOT_WORD = re.compile(r"[^\w]+", re.UNICODE)


def _truncate_utf8(name: str, limit: int) -> str:
    data = name.encode("utf-8")[:limit]
    return data.decode("utf-8", errors="ignore")


def normalise_column_name(raw: str, position: int) -> str:
    """Turn a header cell into a column name: lower case, words joined by ``_``.

    ``"Amount Paid"`` -> ``amount_paid``, ``"café"`` -> ``café``, ``"1st"`` -> ``col_1st``,
    an empty cell -> ``column_<position>`` (1-based).
    """
    name = _NOT_WORD.sub("_", raw.strip().lower()).strip("_")
    if not name:
        return f"column_{position}"
    if name[0].isdigit():
        name = f"col_{name}"
    return _truncate_utf8(name, MAX_IDENTIFIER_BYTES)


def normalise_column_names(raw_names: list[str]) -> list[str]:
    """Normalise header cells into unique, safe column names (suffixes ``_2``, ``_3``...)."""
    result: list[str] = []
    taken: set[str] = set()
    for position, raw in enumerate(raw_names, start=1):
        name = normalise_column_name(raw, position)
        candidate, counter = name, 1
        while candidate in taken:
            counter += 1
            suffix = f"_{counter}"
            candidate = _truncate_utf8(name, MAX_IDENTIFIER_BYTES - len(suffix)) + suffix
        taken.add(candidate)
        result.append(candidate)
    return result


def _file_component(name: str) -> str:
    out: list[str] = []
    for ch in name:
        if ch.isalnum() or ch in "_-":
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8"))
    return "".join(out)


def default_export_file(schema: str, table: str) -> Path:
    """The default export file for a relation: ``people.csv``, ``sales.people.csv``.

    Tables in ``public`` drop the schema; other schemas keep it as a prefix. Characters other
    than letters, digits, ``_`` and ``-`` are percent-encoded (dots included), so two
    different relations never share a default file.
    """
    if schema == "public":
        return Path(f"{_file_component(table)}.csv")
    return Path(f"{_file_component(schema)}.{_file_component(table)}.csv")


def settings_path(data_file: Path, kind: str) -> Path:
    """The settings file kept next to a data file: ``data.csv`` -> ``data.<kind>.yaml``.

    ``kind`` is ``"pgimport"`` or ``"pgexport"``; the double suffix keeps the file from ever
    being mistaken for (or overwriting) a connection config.
    """
    stem = data_file.stem if data_file.suffix else data_file.name
    return data_file.with_name(f"{stem}.{kind}.yaml")
