"""Encoding names: Python codecs, their PostgreSQL counterparts, byte-order marks."""

from __future__ import annotations

import codecs

from pgmonkey_cli._transfer._errors import TransferUsageError

__all__ = ["bom_length", "canonical_encoding", "detect_bom", "pg_encoding"]

# Python codec name (codecs.lookup(...).name) -> PostgreSQL client encoding name, for the
# encodings whose tables agree exactly between Python and PostgreSQL: the server converts them.
# Every other encoding (utf-16, utf-32, ascii, the CJK multi-byte ones, ...) is decoded by
# Python and sent as UTF-8, so the bytes always mean what Python says they mean.
_PG_NAMES = {
    "utf-8": "UTF8",
    "utf-8-sig": "UTF8",
    "iso8859-1": "LATIN1",
    "iso8859-2": "LATIN2",
    "iso8859-3": "LATIN3",
    "iso8859-4": "LATIN4",
    "iso8859-9": "LATIN5",
    "iso8859-10": "LATIN6",
    "iso8859-13": "LATIN7",
    "iso8859-14": "LATIN8",
    "iso8859-15": "LATIN9",
    "iso8859-16": "LATIN10",
    "iso8859-5": "ISO_8859_5",
    "iso8859-6": "ISO_8859_6",
    "iso8859-7": "ISO_8859_7",
    "iso8859-8": "ISO_8859_8",
    "cp1250": "WIN1250",
    "cp1251": "WIN1251",
    "cp1252": "WIN1252",
    "cp1253": "WIN1253",
    "cp1254": "WIN1254",
    "cp1255": "WIN1255",
    "cp1256": "WIN1256",
    "cp1257": "WIN1257",
    "cp1258": "WIN1258",
    "cp866": "WIN866",
    "cp874": "WIN874",
    "koi8-r": "KOI8R",
    "koi8-u": "KOI8U",
}

# PostgreSQL spellings users may type, mapped to Python codecs.
_ALIASES = {
    "utf8": "utf-8",
    "latin1": "iso8859-1",
    "latin9": "iso8859-15",
    "win1252": "cp1252",
    "win1251": "cp1251",
    "win1250": "cp1250",
    "win866": "cp866",
    "sjis": "shift_jis",
    "uhc": "cp949",
    "euccn": "gb2312",
}

# Friendlier names written to settings files and messages.
_DISPLAY = {"iso8859-1": "latin-1"}

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def canonical_encoding(name: str, *, what: str = "--encoding") -> str:
    """Return the canonical Python codec name for ``name`` (``UTF8`` -> ``utf-8``).

    Raises:
        TransferUsageError: the name is not a known text encoding.
    """
    key = name.strip().lower()
    key = _ALIASES.get(key.replace("-", "").replace("_", ""), _ALIASES.get(key, key))
    try:
        info = codecs.lookup(key)
    except LookupError:
        raise TransferUsageError(f"{what}: unknown encoding {name!r}") from None
    if not getattr(info, "_is_text_encoding", True):
        raise TransferUsageError(f"{what}: {name!r} is not a text encoding")
    return _DISPLAY.get(info.name, info.name)


def pg_encoding(codec: str) -> str | None:
    """The PostgreSQL name of a canonical codec, or ``None`` when pgmonkey must transcode."""
    name = codecs.lookup(codec).name
    return _PG_NAMES.get(name)


def detect_bom(head: bytes) -> tuple[str, int] | None:
    """Return ``(codec, bom_length)`` when ``head`` starts with a byte-order mark."""
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return codec, len(bom)
    return None


def bom_length(head: bytes, codec: str) -> int:
    """How many leading bytes to drop before sending ``codec`` data to the server unchanged.

    Only a UTF-8 BOM is ever dropped this way (encodings with other BOMs are transcoded by a
    Python decoder, which consumes its BOM itself).
    """
    if codecs.lookup(codec).name in ("utf-8", "utf-8-sig") and head.startswith(codecs.BOM_UTF8):
        return len(codecs.BOM_UTF8)
    return 0
