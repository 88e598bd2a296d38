"""Where a file stops being text in an encoding: the line and byte offset of the first bad byte.

Used wherever pgimport refuses bytes: detection (a damaged UTF-8 file), the explicit
``--encoding`` (never a silent replacement character), and the error path of the server's own
check, so every such error names the same two coordinates.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BadByte", "first_bad_byte", "line_at", "scan_file"]

_CHUNK = 1 << 20


@dataclass(frozen=True)
class BadByte:
    """The first byte sequence an encoding rejects (or a NUL, which PostgreSQL text cannot hold).

    Attributes:
        offset: 0-based byte offset in the file.
        line: 1-based physical line.
        data: The offending bytes.
        reason: What is wrong with them.
    """

    offset: int
    line: int
    data: bytes
    reason: str

    def describe(self, encoding: str) -> str:
        """``line 3, byte offset 27 (ff): not valid utf-8 (invalid start byte)``."""
        what = "a NUL byte" if self.reason == "NUL" else f"not valid {encoding} ({self.reason})"
        return f"line {self.line}, byte offset {self.offset} ({self.data.hex(' ')}): {what}"


def line_at(data: bytes, offset: int, *, first_line: int = 1) -> int:
    r"""The physical line of ``data[offset]`` (``\n``, ``\r\n`` and a lone ``\r`` end lines)."""
    head = data[:offset]
    return first_line + head.count(b"\n") + head.count(b"\r") - head.count(b"\r\n")


def _ascii_compatible(encoding: str) -> bool:
    if codecs.lookup(encoding).name == "utf-8-sig":
        return True  # its byte-order mark is only at the start
    try:
        return "a\n\x00".encode(encoding) == b"a\n\x00"
    except (UnicodeError, LookupError):
        return False


def first_bad_byte(data: bytes, encoding: str, *, final: bool) -> BadByte | None:
    """The first bad byte of ``data`` (the start of a file) in ``encoding``, if any.

    Args:
        data: Bytes from the start of the file.
        encoding: A Python codec.
        final: ``data`` is the whole file (a sequence cut at its end is then an error too).
    """
    return _scan([data], encoding, final=final)


def scan_file(path: Path, encoding: str) -> BadByte | None:
    """The first bad byte of the file at ``path`` in ``encoding``, streaming (error path)."""
    with open(path, "rb") as fh:
        return _scan(iter(lambda: fh.read(_CHUNK), b""), encoding, final=True)


def _scan(chunks: Iterable[bytes], encoding: str, *, final: bool) -> BadByte | None:
    """Decode ``chunks`` strictly; lines and offsets are exact for ASCII-compatible codecs.

    For UTF-16/32 the line is exact and a NUL's offset assumes fixed-width characters.
    """
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    compatible = _ascii_compatible(encoding)
    offset, line = 0, 1  # bytes fed so far; line at the end of them
    for chunk in _with_end(chunks):
        last = not chunk
        state = decoder.getstate()
        pending = bytes(state[0])
        data = pending + chunk
        base = offset - len(pending)
        try:
            text = decoder.decode(chunk, final=last and final)
        except UnicodeDecodeError as exc:
            where = (
                line_at(data, exc.start, first_line=line)
                if compatible
                else line
                + _decoded_lines(chunk[: max(exc.start - len(pending), 0)], encoding, state)
            )
            return BadByte(base + exc.start, where, bytes(data[exc.start : exc.end]), exc.reason)
        except UnicodeError as exc:  # utf-16/utf-32 without a byte-order mark
            return BadByte(base, line, data[:4], str(exc))
        nul = text.find("\x00")
        if nul >= 0:
            if compatible:
                pos = data.find(b"\x00")
                return BadByte(base + pos, line_at(data, pos, first_line=line), b"\x00", "NUL")
            width = max(len(data) // max(len(text), 1), 1)
            return BadByte(
                base + nul * width, line + text.count("\n", 0, nul), b"\x00" * width, "NUL"
            )
        if last:
            return None
        line = (
            line_at(chunk, len(chunk), first_line=line) if compatible else line + text.count("\n")
        )
        offset += len(chunk)
    return None


def _with_end(chunks: Iterable[bytes]) -> Iterator[bytes]:
    yield from chunks
    yield b""


def _decoded_lines(data: bytes, encoding: str, state: tuple[bytes, int]) -> int:
    decoder = codecs.getincrementaldecoder(encoding)("replace")
    decoder.setstate(state)
    return decoder.decode(data, final=False).count("\n")
