"""Detecting a data file's encoding, or refusing to guess.

Detection imports nothing it cannot stand behind:

* a byte-order mark (UTF-8, UTF-16, UTF-32) is proof;
* UTF-16 without a byte-order mark is accepted when half of the bytes are NULs in the pattern
  of UTF-16 text and the sample decodes strictly (what ``bcp -w`` writes);
* valid UTF-8 is accepted (plain ASCII is valid UTF-8); NUL bytes in it are refused: no
  PostgreSQL text can hold them, and they usually mean UTF-16/32 without a byte-order mark;
* a file that is UTF-8 except for a few bytes is a damaged UTF-8 file: refused, naming the
  line and byte offset of the first bad byte;
* any other file may be in a legacy code page: chardet's guess is accepted only at
  :data:`LEGACY_CONFIDENCE` or above, the threshold measured on the corpus in
  ``tests/reliability/corpus/encodings`` (see docs/import-export.md); below it, pgimport
  refuses and lists the candidates for ``--encoding``.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass

from pgmonkey_cli._transfer._badbytes import first_bad_byte
from pgmonkey_cli._transfer._encodings import canonical_encoding, detect_bom
from pgmonkey_cli._transfer._errors import ImportDataError, TransferUsageError

__all__ = [
    "LEGACY_CONFIDENCE",
    "EncodingGuess",
    "detect_encoding",
    "legacy_guess",
    "mixed_script_word",
]

LEGACY_CONFIDENCE = 0.4
"""The lowest chardet confidence at which a legacy code page is used without ``--encoding``.

Measured with ``python -m tests.reliability.corpus.encodings.measure``: see
docs/import-export.md for the figures.
"""

_MAX_CANDIDATES = 4


@dataclass(frozen=True)
class EncodingGuess:
    """An encoding and how it was found (``"bom"``, ``"utf-8"``, ``"chardet"``...).

    Attributes:
        encoding: The codec, or ``None`` when chardet has no usable candidate.
        method: How it was found.
        confidence: chardet's confidence (legacy code pages only).
        candidates: Codecs that decode the sample, best first (legacy code pages only).
    """

    encoding: str | None
    method: str
    confidence: float = 1.0
    candidates: tuple[str, ...] = ()


def detect_encoding(sample: bytes, *, complete: bool, source: str) -> EncodingGuess:
    """The encoding of a file starting with ``sample``; refuse rather than guess.

    Args:
        sample: The first bytes of the file.
        complete: ``sample`` is the whole file.
        source: The file's name, for messages.

    Raises:
        ImportDataError: damaged UTF-8, NUL bytes, or no legacy code page likely enough.
    """
    bom = detect_bom(sample[:4])
    if bom is not None:
        return EncodingGuess(bom[0], "byte-order mark")
    utf16 = _bomless_utf16(sample, complete=complete)
    if utf16 is not None:
        return EncodingGuess(utf16, "UTF-16 NUL-byte pattern")
    bad = first_bad_byte(sample, "utf-8", final=complete)
    if bad is None:
        return EncodingGuess("utf-8", "valid UTF-8")
    if bad.reason == "NUL":
        raise ImportDataError(
            f"{source}: {bad.describe('utf-8')}: PostgreSQL text cannot hold NUL bytes; if the "
            "file is UTF-16 or UTF-32 without a byte-order mark, give --encoding (utf-16-le, "
            "utf-16-be, utf-32-le, utf-32-be). Nothing was imported.",
            line=bad.line,
        )
    valid, invalid = _utf8_census(sample, final=complete)
    if valid >= invalid:
        raise ImportDataError(
            f"{source}: damaged UTF-8: {bad.describe('utf-8')}, among {valid} valid UTF-8 "
            f"characters; repair the file, or give --encoding if it really is in another "
            "encoding. Nothing was imported.",
            line=bad.line,
        )
    guess = legacy_guess(sample)
    if guess.encoding is not None and guess.confidence >= LEGACY_CONFIDENCE:
        word = mixed_script_word(codecs.decode(sample, guess.encoding, "replace"))
        if word is None:
            return guess
        raise TransferUsageError(
            f"{source}: not UTF-8 ({bad.describe('utf-8')}), and read as {guess.encoding} "
            f"(confidence {guess.confidence:.2f}) it has words mixing alphabets ({word!r}): "
            "the file may mix encodings; give the encoding with --encoding (candidates: "
            f"{', '.join(guess.candidates)}). Nothing was imported."
        )
    listed = ", ".join(guess.candidates) or "none decodes it"
    raise TransferUsageError(
        f"{source}: not UTF-8 ({bad.describe('utf-8')}); no legacy encoding is likely "
        f"enough: best guess {guess.encoding or '-'}, confidence {guess.confidence:.2f}, "
        f"below {LEGACY_CONFIDENCE}. Give the encoding with --encoding (candidates: "
        f"{listed}). Nothing was imported."
    )


_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK")
_WORD = re.compile(r"\w+")


def mixed_script_word(text: str) -> str | None:
    """A word of ``text`` mixing Latin, Cyrillic and Greek letters, if any.

    Real words never do; text decoded with the wrong code page often does (``cafГ©``,
    ``Franзois``).
    """
    for match in _WORD.finditer(text):
        word = match.group()
        if word.isascii():
            continue
        scripts = {
            script
            for ch in word
            if ch.isalpha()
            for script in _SCRIPTS
            if unicodedata.name(ch, "").startswith(script)
        }
        if len(scripts) > 1:
            return word
    return None


def _bomless_utf16(sample: bytes, *, complete: bool) -> str | None:
    head = sample[: 4096 - (min(len(sample), 4096) % 2)]
    if len(head) < 4:
        return None
    even_nuls = head[0::2].count(0)
    odd_nuls = head[1::2].count(0)
    half = len(head) // 2
    codec = None
    if odd_nuls > 0.4 * half and even_nuls < 0.05 * half:
        codec = "utf-16-le"
    elif even_nuls > 0.4 * half and odd_nuls < 0.05 * half:
        codec = "utf-16-be"
    if codec is None or first_bad_byte(sample, codec, final=complete) is not None:
        return None
    return codec


def _utf8_census(sample: bytes, *, final: bool) -> tuple[int, int]:
    """(valid non-ASCII UTF-8 characters, invalid bytes) in ``sample``."""
    view = memoryview(sample)
    valid = invalid = pos = 0
    while pos < len(view):
        try:
            text, _ = codecs.utf_8_decode(view[pos:], "strict", final)
        except UnicodeDecodeError as exc:
            text, _ = codecs.utf_8_decode(view[pos : pos + exc.start], "strict", True)
            invalid += exc.end - exc.start
            pos += exc.end
        else:
            pos = len(view)
        valid += sum(1 for ch in text if ord(ch) > 0x7F)
    return valid, invalid


def legacy_guess(sample: bytes) -> EncodingGuess:
    """The best legacy code page chardet finds for ``sample``, with pgimport's corrections.

    Only candidates that decode the sample strictly count. Windows-1252 replaces Latin-1
    when the sample has bytes 0x80-0x9F (control characters in Latin-1, letters and
    punctuation in Windows-1252), and replaces a sibling code page that gives the same text.
    """
    import chardet

    candidates: list[tuple[str, float]] = []
    for result in chardet.detect_all(sample):
        name, confidence = result.get("encoding"), result.get("confidence") or 0.0
        if not name:
            continue
        try:
            encoding = canonical_encoding(name)
        except ValueError:
            continue
        if encoding in ("ascii", "utf-8") or not _decodes(sample, encoding):
            continue
        if encoding == "latin-1" and any(0x80 <= b <= 0x9F for b in sample):
            encoding = "cp1252" if _decodes(sample, "cp1252") else encoding
        elif encoding not in ("latin-1", "cp1252") and _same_text(sample, encoding, "cp1252"):
            encoding = "cp1252"
        if encoding not in (c for c, _ in candidates):
            candidates.append((encoding, float(confidence)))
    if not candidates:
        return EncodingGuess(None, "chardet", 0.0)
    names = tuple(c for c, _ in candidates[:_MAX_CANDIDATES])
    return EncodingGuess(candidates[0][0], "chardet", candidates[0][1], names)


def _same_text(sample: bytes, first: str, second: str) -> bool:
    try:
        a = codecs.getincrementaldecoder(first)().decode(sample, final=False)
        b = codecs.getincrementaldecoder(second)().decode(sample, final=False)
    except (UnicodeDecodeError, LookupError):
        return False
    return a == b


def _decodes(sample: bytes, encoding: str) -> bool:
    try:
        codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
    except (UnicodeDecodeError, LookupError):
        return False
    return True
