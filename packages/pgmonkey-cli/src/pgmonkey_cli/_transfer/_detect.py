"""Guessing a data file's encoding, delimiter, quote character and header from a sample.

Detection only proposes settings: the server still checks every byte and every row when the
data is imported, so a wrong guess ends in a clear error, never in wrong data.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

from pgmonkey_cli._transfer._encodings import canonical_encoding, detect_bom

__all__ = [
    "DELIMITER_CANDIDATES",
    "SAMPLE_BYTES",
    "Dialect",
    "EncodingGuess",
    "detect_dialect",
    "detect_encoding",
    "iter_records",
    "looks_typed",
    "sample_records",
]

SAMPLE_BYTES = 1 << 16
"""How much of the file detection reads (64 KiB)."""

DELIMITER_CANDIDATES = (",", ";", "\t", "|")
_MAX_SAMPLE_RECORDS = 500


@dataclass(frozen=True)
class EncodingGuess:
    """The detected encoding and how it was found (``"bom"``, ``"utf-8"``, ``"chardet"``...)."""

    encoding: str
    method: str
    confidence: float | None = None


@dataclass(frozen=True)
class Dialect:
    """Detected CSV settings."""

    delimiter: str
    quote: str
    header: bool


def detect_encoding(sample: bytes) -> EncodingGuess:
    """Guess the encoding of ``sample`` (the first bytes of a file).

    A byte-order mark wins; then NUL-byte patterns of BOM-less UTF-16; then strict UTF-8
    (which covers plain ASCII); otherwise chardet, with Windows-1252 preferred over Latin-1
    when the sample has bytes 0x80-0x9F (control characters in Latin-1, letters and
    punctuation in Windows-1252).
    """
    bom = detect_bom(sample[:4])
    if bom is not None:
        return EncodingGuess(bom[0], "bom")
    utf16 = _bomless_utf16(sample)
    if utf16 is not None:
        return EncodingGuess(utf16, "nul-bytes")
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(sample, final=False)
    except UnicodeDecodeError:
        pass
    else:
        return EncodingGuess("utf-8", "utf-8")
    return _chardet_guess(sample)


def _bomless_utf16(sample: bytes) -> str | None:
    head = sample[: 4096 - (min(len(sample), 4096) % 2)]
    if len(head) < 4:
        return None
    even_nuls = head[0::2].count(0)
    odd_nuls = head[1::2].count(0)
    half = len(head) // 2
    if odd_nuls > 0.4 * half and even_nuls < 0.05 * half:
        return "utf-16-le"
    if even_nuls > 0.4 * half and odd_nuls < 0.05 * half:
        return "utf-16-be"
    return None


def _chardet_guess(sample: bytes) -> EncodingGuess:
    import chardet

    result = chardet.detect(sample)
    name = result.get("encoding")
    confidence = result.get("confidence")
    has_c1 = any(0x80 <= b <= 0x9F for b in sample)
    encoding: str | None = None
    if name:
        try:
            encoding = canonical_encoding(name)
        except ValueError:
            encoding = None
    if encoding in (None, "ascii", "utf-8") or not _decodes(sample, encoding):
        encoding = "cp1252" if _decodes(sample, "cp1252") else "latin-1"
    elif encoding == "latin-1" and has_c1 and _decodes(sample, "cp1252"):
        encoding = "cp1252"
    elif encoding not in ("latin-1", "cp1252") and _same_text(sample, encoding, "cp1252"):
        # chardet often names a sibling code page (cp1250, iso8859-2...) for short Western
        # samples; when the text is the same either way, the common one is the better bet.
        encoding = "cp1252"
    return EncodingGuess(encoding, "chardet", confidence)


def _same_text(sample: bytes, first: str, second: str) -> bool:
    try:
        a = codecs.getincrementaldecoder(first)().decode(sample, final=False)
        b = codecs.getincrementaldecoder(second)().decode(sample, final=False)
    except (UnicodeDecodeError, LookupError):
        return False
    return a == b


def _decodes(sample: bytes, encoding: str | None) -> bool:
    if encoding is None:
        return False
    try:
        codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


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
    return Dialect(delimiter=delimiter, quote=quote, header=_has_header(parsed[delimiter]))


_TYPED = re.compile(
    r"""^\s*(?:
        [+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?   # numbers
      | \d{4}-\d{2}-\d{2}(?:[ T].*)?                   # dates and timestamps
      | true|false                                      # booleans
    )\s*$""",
    re.VERBOSE | re.IGNORECASE,
)


def looks_typed(value: str) -> bool:
    """Whether ``value`` looks like a number, a date/timestamp or a boolean."""
    return bool(_TYPED.match(value))


def _has_header(records: list[list[str]]) -> bool:
    """A first record is a header unless it is blank or one of its cells looks like data.

    When every cell of the first record is text, the file is assumed to have a header (the
    common case); ``--no-header`` or the settings file says otherwise.
    """
    if not records:
        return True
    first = records[0]
    cells = [c for c in first if c.strip()]
    if not cells:
        return False
    return not any(looks_typed(c) for c in cells)
