"""Guessing a data file's delimiter, quote character and header from a decoded sample.

Detection only proposes settings: the server still checks every row when the data is
imported, so a wrong delimiter ends in a clear error, never in wrong data. The header is
decided only on evidence (see :func:`header_verdict`); without it pgimport asks. The
encoding is detected in :mod:`._detect_encoding`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

__all__ = [
    "DELIMITER_CANDIDATES",
    "SAMPLE_BYTES",
    "Dialect",
    "detect_dialect",
    "header_verdict",
    "iter_records",
    "looks_typed",
    "sample_records",
]

SAMPLE_BYTES = 1 << 16
"""How much of the file detection reads (64 KiB)."""

DELIMITER_CANDIDATES = (",", ";", "\t", "|")
_MAX_SAMPLE_RECORDS = 500


@dataclass(frozen=True)
class Dialect:
    """Detected CSV settings."""

    delimiter: str
    quote: str
    header: bool | None  # None: no evidence either way
    header_reason: str


def sample_records(
    text: str, *, delimiter: str, quote: str, complete: bool, limit: int = _MAX_SAMPLE_RECORDS
) -> list[list[str]]:
    """Parse up to ``limit`` records of ``text``; drop a possibly cut last one if incomplete."""
    return list(
        islice(iter_records(text, delimiter=delimiter, quote=quote, complete=complete), limit)
    )


def iter_records(text: str, *, delimiter: str, quote: str, complete: bool) -> Iterator[list[str]]:
    """The records of ``text``, parsed lazily (blank lines are ``[]``).

    A possibly cut last record is dropped when ``complete`` is false; the records stop
    quietly at an unterminated quote.
    """
    if not complete:
        cut = max(text.rfind("\n"), text.rfind("\r"))
        text = text[: cut + 1] if cut >= 0 else ""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar=quote)
    try:
        yield from reader
    except csv.Error:
        return  # an unterminated quote in the sample: keep what was parsed


def _guess_quote(text: str) -> str:
    double = len(re.findall(r'(?:^|[,;\t|])"', text, re.MULTILINE))
    single = len(re.findall(r"(?:^|[,;\t|])'[^'\n]*'(?:[,;\t|]|$)", text, re.MULTILINE))
    return "'" if single > double else '"'


def detect_dialect(text: str, *, complete: bool) -> Dialect:
    """Guess delimiter, quote character and header from a decoded sample.

    Only a delimiter that splits the first record (the header, or the first data row) is a
    candidate; among those, the one whose field count holds on the most records wins, so one
    ragged row cannot turn the whole file into a single column (it ends in an error naming its
    line instead). When no candidate splits the first record, the file has one column and the
    delimiter chosen is one that splits the fewest records (ideally none).

    Args:
        text: The start of the file, decoded.
        complete: ``True`` when ``text`` is the whole file (its last line is not cut).
    """
    quote = _guess_quote(text)
    parsed = {
        delimiter: sample_records(text, delimiter=delimiter, quote=quote, complete=complete)
        for delimiter in DELIMITER_CANDIDATES
    }
    best: tuple[tuple[int, float, int, int], str] | None = None
    for preference, delimiter in enumerate(DELIMITER_CANDIDATES):
        counts = [len(r) for r in parsed[delimiter] if r]
        if counts and counts[0] > 1:
            agree = sum(1 for c in counts if c == counts[0]) / len(counts)
            key = (1, agree, counts[0], -preference)
        else:  # one column: the best delimiter is one that splits no record
            unsplit = sum(1 for c in counts if c <= 1) / len(counts) if counts else 1.0
            key = (0, unsplit, 1, -preference)
        if best is None or key > best[0]:
            best = (key, delimiter)
    delimiter = best[1] if best is not None else ","
    header, reason = header_verdict(parsed[delimiter])
    return Dialect(delimiter=delimiter, quote=quote, header=header, header_reason=reason)


_NUMBER = re.compile(r"^\s*[+-]?(?:\d+(?:[.,]\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$")  # 1,5 too
_DATE = re.compile(r"^\s*\d{4}-\d{2}-\d{2}(?:[ T].*)?$")
_BOOLEAN = re.compile(r"^\s*(?:true|false)\s*$", re.IGNORECASE)
_KINDS = (("numbers", _NUMBER), ("dates", _DATE), ("booleans", _BOOLEAN))


def _typed_kind(value: str) -> str | None:
    for kind, pattern in _KINDS:
        if pattern.match(value):
            return kind
    return None


def looks_typed(value: str) -> bool:
    """Whether ``value`` looks like a number, a date/timestamp or a boolean."""
    return _typed_kind(value) is not None


def header_verdict(records: list[list[str]]) -> tuple[bool | None, str]:
    """Whether the first record is a header, and why; ``None`` when there is no evidence.

    * No header when line 1 is blank or one of its cells looks like data (a number, a date,
      a boolean): headers are names.
    * A header when line 1 is all text and some column holds only numbers, dates or
      booleans below it: the first line differs in kind from the data.
    * Otherwise (everything is text, or there is nothing below line 1) there is no evidence
      either way: the caller asks for ``--header`` or ``--no-header`` rather than guess,
      because guessing wrong either loses a row into the column names or imports the
      header as data.
    """
    if not records:
        return True, "empty file"
    first = records[0]
    if not any(c.strip() for c in first):
        return False, "line 1 is blank"
    for position, cell in enumerate(first, start=1):
        if cell.strip() and looks_typed(cell):
            return False, f"line 1 holds {cell.strip()!r} in column {position}, a value"
    rows = [r for r in records[1:] if r]
    for position, name in enumerate(first, start=1):
        values = [r[position - 1] for r in rows if len(r) >= position and r[position - 1]]
        kinds = {_typed_kind(v) for v in values}
        if values and len(kinds) == 1 and None not in kinds:
            label = repr(name.strip()) if name.strip() else f"column {position}"
            return True, f"line 1 is text, {label} holds {kinds.pop()} below"
    if not rows:
        return None, "line 1 is text and no complete line follows it in the sample"
    return None, "line 1 and the lines below are all text"
