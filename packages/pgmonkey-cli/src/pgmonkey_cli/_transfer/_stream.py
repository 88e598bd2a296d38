r"""The bytes sent to ``COPY ... FROM STDIN``: the data file, in large chunks, nearly untouched.

The server parses the CSV (that is what makes the import as fast as ``psql``'s ``\copy``).
pgmonkey only:

* drops a UTF-8 byte-order mark (never data);
* transcodes encodings the server does not take (UTF-16, UTF-32, ...) to UTF-8, streaming;
* quotes a record consisting of exactly ``\.``: PostgreSQL before 18 takes such a line as the
  end-of-data marker even in CSV mode and silently drops every following row. Quoted, the
  value is the same two characters and the import stays lossless.

Memory stays flat: one chunk (plus a two-byte carry) is held at a time.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from pgmonkey_cli._transfer._encodings import bom_length, pg_encoding
from pgmonkey_cli._transfer._errors import ImportDataError

__all__ = ["CHUNK_SIZE", "CopySource", "record_start_line"]

CHUNK_SIZE = 1 << 20
"""Bytes read from the file and handed to ``copy.write`` at a time (1 MiB)."""

Progress = Callable[[int, int], None]
"""``progress(file_bytes, newlines)`` after each chunk."""

_EOD = b"\\."


class CopySource:
    """Iterates over the bytes to send for one data file.

    Attributes:
        server_encoding: The ``ENCODING`` option for ``COPY`` (the server converts), always
            ``UTF8`` when pgmonkey transcodes.
    """

    def __init__(
        self,
        path: Path,
        *,
        encoding: str,
        quote: str,
        chunk_size: int = CHUNK_SIZE,
        progress: Progress | None = None,
        start: int = 0,
        end: int | None = None,
        limit: Callable[[int], int] | None = None,
        file_encoding: str | None = None,
    ) -> None:
        self.path = path
        self.encoding = encoding
        self.file_encoding = file_encoding or encoding  # for messages: a chunk's codec may
        # be the endian-specific one of the file's (a later chunk of a UTF-16 file)
        self.start = start
        self._data_start = start  # the first data byte (after a UTF-8 byte-order mark)
        # ``limit(pos)``: how far the reader at ``pos`` may read (it may wait); a fixed ``end``
        # is the simple case. Neither: to the end of the file.
        self.limit = limit if limit is not None else (None if end is None else lambda _: end)
        self.quote = quote.encode("ascii")
        self.chunk_size = chunk_size
        self.progress = progress
        native = pg_encoding(encoding)
        self.transcode = native is None
        self.server_encoding = native or "UTF8"

    def __iter__(self) -> Iterator[bytes]:
        with open(self.path, "rb") as fh:
            if self.start:
                fh.seek(self.start)
            reader: BinaryIO | _Range = (
                fh if self.limit is None else _Range(fh, self.start, self.limit)
            )
            yield from self._protect(self._converted(reader))

    def _converted(self, fh: BinaryIO | _Range) -> Iterator[bytes]:
        first = fh.read(max(self.chunk_size, 4))  # a whole byte-order mark, at least
        if not self.transcode:
            skip = bom_length(first[:4], self.encoding) if self.start == 0 else 0
            self._data_start = self.start + skip
            chunk = first[skip:]
            while first:
                if self.progress is not None:
                    self.progress(len(first), chunk.count(b"\n"))
                yield chunk
                first = chunk = fh.read(self.chunk_size)
            return
        decoder = codecs.getincrementaldecoder(self.encoding)("strict")
        lines = 0
        chunk = first
        while True:
            final = not chunk
            try:
                text = decoder.decode(chunk, final=final)
            except UnicodeDecodeError as exc:
                raise self._decode_error(exc, lines) from None
            newlines = text.count("\n")
            lines += newlines
            if self.progress is not None:
                self.progress(len(chunk), newlines)
            if text:
                yield text.encode("utf-8")
            if final:
                return
            chunk = fh.read(self.chunk_size)

    def _decode_error(self, exc: UnicodeDecodeError, lines_before: int) -> ImportDataError:
        from pgmonkey_cli._transfer._badbytes import scan_file

        bad = scan_file(self.path, self.file_encoding)  # error path: read again, to the bad byte
        if bad is not None:
            where = bad.describe(self.file_encoding)
            line = bad.line
        else:  # not expected: the same decoder failed just now
            head = exc.object[: exc.start]
            line = lines_before + codecs.decode(head, exc.encoding, "replace").count("\n") + 1
            where = f"line {line}: bytes not valid {self.file_encoding} ({exc.reason})"
        return ImportDataError(
            f"{self.path}: {where}; set the right encoding with --encoding (or in the "
            "settings file). Nothing was imported.",
            line=line,
        )

    def _protect(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        r"""Quote records that consist of exactly ``\.`` (see the module docstring).

        Whether a ``\.`` line is inside a quoted field depends on the quote characters before
        it. When the bytes sent are the file's own (no transcoding), they are counted only
        where a ``\.`` line needs it, from the file (:class:`_FileParity`): most files have
        none, and the data is then never scanned for quotes at all.
        """
        quote = self.quote
        parity = 0  # quote characters seen so far, mod 2: 1 means inside a quoted field
        prev = b"\n"  # the byte before the current buffer; start of file = start of a line
        carry = b""
        tracker = None if self.transcode else _FileParity(self.path, quote)
        consumed = 0  # data bytes (after any byte-order mark) before ``buf``
        try:
            for chunk in chunks:
                buf = carry + chunk if carry else chunk
                if len(buf) <= 2:
                    carry = buf
                    continue
                at = self._parity_at(tracker, buf, parity, consumed)
                out, used, prev = self._rewrite(buf, len(buf) - 2, at, prev, quote)
                if tracker is None:
                    parity = (parity + buf.count(quote, 0, used)) & 1
                consumed += used
                carry = buf[used:]
                if out:
                    yield out
            if carry:
                at = self._parity_at(tracker, carry, parity, consumed)
                out, _, prev = self._rewrite(carry, len(carry), at, prev, quote)
                yield out
        finally:
            if tracker is not None:
                tracker.close()

    def _parity_at(
        self, tracker: _FileParity | None, buf: bytes, parity: int, consumed: int
    ) -> Callable[[int], int]:
        """``at(pos)``: the quote parity before ``buf[pos]``."""
        if tracker is None:
            return lambda pos: (parity + buf.count(self.quote, 0, pos)) & 1
        tracker.start(self._data_start)
        base = self._data_start + consumed
        return lambda pos: tracker.at(base + pos)

    @staticmethod
    def _rewrite(
        buf: bytes, end: int, parity_at: Callable[[int], int], prev: bytes, quote: bytes
    ) -> tuple[bytes, int, bytes]:
        r"""Rewrite ``buf`` up to about ``end``, quoting end-of-data lookalikes.

        Every ``\.`` starting before ``end`` is decided (its next byte is always in ``buf``).
        ``parity_at(pos)`` is the quote parity before ``buf[pos]`` (asked only there).

        Returns:
            The bytes to send, how many bytes of ``buf`` they cover and the last byte covered.
        """
        pos = _find_eod(buf, 0, end)
        if pos < 0:
            return (buf[:end] if end < len(buf) else buf, end, buf[end - 1 : end])
        pieces: list[bytes] = []
        start = 0
        while pos >= 0:
            before = buf[pos - 1 : pos] if pos > 0 else prev
            after = buf[pos + 2 : pos + 3]
            if before in (b"\n", b"\r") and after in (b"\n", b"\r") and parity_at(pos) == 0:
                pieces.append(buf[start:pos])
                pieces.append(quote + _EOD + quote)
                start = pos + 2
            pos = _find_eod(buf, pos + 1, end)
        used = max(end, start)
        pieces.append(buf[start:used])
        return (b"".join(pieces), used, buf[used - 1 : used])


class _FileParity:
    """The quote parity at increasing offsets of a file, counted from the file on demand."""

    def __init__(self, path: Path, quote: bytes) -> None:
        self.path = path
        self.quote = quote
        self.offset: int | None = None  # where ``parity`` holds (None: the data's start)
        self.parity = 0
        self.fh: BinaryIO | None = None

    def at(self, offset: int) -> int:
        """The parity of the quote characters from the data's start up to ``offset``."""
        if self.fh is None:
            self.fh = open(self.path, "rb")  # noqa: SIM115 - closed by close()
        if self.offset is None:
            raise AssertionError("start() not called")
        self.fh.seek(self.offset)
        remaining = offset - self.offset
        while remaining > 0:
            block = self.fh.read(min(remaining, 8 << 20))
            if not block:
                break
            self.parity ^= block.count(self.quote) & 1
            remaining -= len(block)
        self.offset = offset
        return self.parity

    def start(self, offset: int) -> None:
        """Where the data starts (parity 0 there)."""
        if self.offset is None:
            self.offset = offset

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()


class _Range:
    """Reads of a file object that stop where ``limit`` says (one chunk of the file)."""

    def __init__(self, fh: BinaryIO, pos: int, limit: Callable[[int], int]) -> None:
        self.fh = fh
        self.pos = pos
        self.limit = limit

    def read(self, size: int) -> bytes:
        stop = self.limit(self.pos)
        if stop <= self.pos:
            return b""
        data = self.fh.read(min(size, stop - self.pos))
        self.pos += len(data)
        return data


def _find_eod(buf: bytes, start: int, stop: int) -> int:
    r"""The first ``\.`` starting in ``buf[start:stop]`` (its dot may be at ``stop``), or -1.

    Looks for the backslash alone (``memchr``, several GB/s; most files have none) and checks
    the byte after it, rather than searching for the two-byte string, which scans the data
    byte by byte at every dot.
    """
    pos = buf.find(b"\\", start, stop)
    while pos >= 0 and buf[pos + 1 : pos + 2] != b".":
        pos = buf.find(b"\\", pos + 1, stop)
    return pos


def record_start_line(path: Path, *, encoding: str, quote: str, line: int) -> int:
    """The first physical line of the record the server reported at physical ``line``.

    PostgreSQL counts physical lines (newlines inside quoted fields included) and reports the
    line where it was when it failed, which for a record spanning lines (or an unterminated
    quote) is past its start. Only called on the error path: reads up to ``line``.
    """
    start = 1
    parity = 0
    with open(path, encoding=encoding, errors="replace", newline="") as fh:
        for number, text in enumerate(fh, start=1):
            if parity == 0:
                start = number
            parity ^= text.count(quote) & 1
            if number >= line:
                break
    return start
