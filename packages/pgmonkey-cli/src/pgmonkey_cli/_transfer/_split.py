"""Splitting a data file at record boundaries, for ``pgimport --jobs``.

CSV quoting is not self-synchronising: whether a byte is inside a quoted field depends on every
quote character before it. So the file is read from the start, once, counting quote characters
in large blocks (``bytes.count``, several GB/s) up to each wanted split point; there the next
newline outside quotes ends the chunk. Reading stops at the last split point, and the pages read
are the ones the first streams send next (the page cache serves them).

A split point is only taken where the line ending before it *and* the one ending the chunk's
first record are the file's own line ending (that of its first record): the server takes a
stream's line ending from its first record, so each stream then accepts exactly the lines the
whole file in one stream would.

Encodings: those whose newline and quote character are single bytes that never occur inside a
multi-byte character (UTF-8, the single-byte code pages, EUC, ...) are split on bytes; UTF-16
and UTF-32 on whole code units. Any other (stateful, or with quote-like trail bytes) is not
split, and :func:`plan_chunks` says why.
"""

from __future__ import annotations

import codecs
import itertools
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pgmonkey_cli._transfer._encodings import pg_encoding

__all__ = [
    "Chunk",
    "LazyPlan",
    "SplitPlan",
    "count_lines_before",
    "plan_chunks",
    "split_target",
    "split_units",
]

BLOCK = 8 << 20
"""Bytes read at a time while counting quotes (8 MiB, a multiple of every code unit)."""

WINDOW = 1 << 20
"""Bytes read at a time while looking for a record boundary near a split point."""

# Multi-byte encodings (transcoded by Python) whose bytes below 0x30 only ever stand for
# themselves: newline and the usual quote characters (" and ') cannot be a trail byte.
_ASCII_SAFE_BELOW_0X30 = {
    "shift_jis", "cp932", "shift_jis_2004", "shift_jisx0213", "big5", "big5hkscs", "cp950",
    "gbk", "gb18030", "gb2312", "cp949", "euc_jp", "euc_kr", "euc_jis_2004", "euc_jisx0213",
    "johab", "ascii",
}  # fmt: skip


@dataclass(frozen=True)
class Chunk:
    """One stream's part of the file: bytes ``[start, end)``.

    Attributes:
        start: First byte (0, or just after a line ending).
        end: One past the last byte.
        first: Whether this is the file's first chunk (it has the header and any BOM).
        codec: The Python codec that decodes this chunk (a later UTF-16/32 chunk has no
            byte-order mark, so it gets the endian-specific codec).
    """

    start: int
    end: int
    first: bool
    codec: str


@dataclass(frozen=True)
class SplitPlan:
    """The chunks (at least one), and why there are fewer than asked for, if so."""

    chunks: list[Chunk]
    reason: str | None = None


@dataclass(frozen=True)
class _Units:
    """How newline, carriage return and the quote character look in the file's bytes."""

    unit: int  # bytes per code unit: 1, 2 or 4
    decoder: str | None  # codec for counting quotes in aligned blocks (None: count bytes)
    newline: bytes
    cr: bytes
    quote: bytes
    quote_char: str

    def aligned(self, pos: int) -> bool:
        return pos % self.unit == 0

    def find(self, buf: bytes, sub: bytes, start: int, base: int) -> int:
        """Index in ``buf`` of the first aligned ``sub`` at or after ``start`` (-1: none).

        ``base`` is the file offset of ``buf[0]``.
        """
        pos = buf.find(sub, start)
        while pos >= 0 and not self.aligned(base + pos):
            pos = buf.find(sub, pos + 1)
        return pos

    def quotes(self, buf: bytes, start: int, stop: int) -> int:
        """Quote characters in ``buf[start:stop]`` (both aligned when units are wider)."""
        if self.decoder is None:
            return buf.count(self.quote, start, stop)
        return codecs.decode(buf[start:stop], self.decoder, "replace").count(self.quote_char)


def _units(path: Path, encoding: str, quote: str) -> tuple[_Units, str] | str:
    """The file's units and the codec of later chunks, or why it cannot be split."""
    name = codecs.lookup(encoding).name
    if name in ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"):
        unit = 2 if name.startswith("utf-16") else 4
        family = name[:6]
        if name.endswith(("-le", "-be")):
            fixed = name
        else:
            with open(path, "rb") as fh:
                head = fh.read(4)
            bom_le = codecs.BOM_UTF16_LE if unit == 2 else codecs.BOM_UTF32_LE
            bom_be = codecs.BOM_UTF16_BE if unit == 2 else codecs.BOM_UTF32_BE
            if head.startswith(bom_le) and not (unit == 2 and head == codecs.BOM_UTF32_LE):
                fixed = f"{family}-le"
            elif head.startswith(bom_be):
                fixed = f"{family}-be"
            else:  # no byte-order mark: Python's codec reads the machine's order
                fixed = f"{family}-{'le' if sys.byteorder == 'little' else 'be'}"
        return (
            _Units(
                unit=unit,
                decoder=fixed,
                newline="\n".encode(fixed),
                cr="\r".encode(fixed),
                quote=quote.encode(fixed),
                quote_char=quote,
            ),
            fixed,
        )
    single = _single_byte(name)
    safe = (
        pg_encoding(name) is not None
        or single
        or (name.replace("-", "_") in _ASCII_SAFE_BELOW_0X30 and ord(quote) < 0x30)
    )
    try:
        ascii_like = "\n\r".encode(name) == b"\n\r" and quote.encode(name) == quote.encode()
    except (UnicodeError, LookupError):
        ascii_like = False
    if not (safe and ascii_like):
        return (
            f"a file in {encoding} with quote character {quote!r} cannot be split at record "
            "boundaries without decoding it all first"
        )
    return (
        _Units(1, None, b"\n", b"\r", quote.encode("ascii"), quote),
        encoding,
    )


def _single_byte(codec: str) -> bool:
    """Whether every byte of ``codec`` is one character on its own (a code page)."""
    try:
        decoder = codecs.getincrementaldecoder(codec)("replace")
        return all(len(decoder.decode(bytes([b]))) == 1 for b in range(256))
    except (LookupError, TypeError, ValueError):
        return False


class _Reader:
    """Sequential reads of the file, with quote parity tracked from a record boundary."""

    def __init__(self, fh: BinaryIO, size: int, units: _Units) -> None:
        self.fh = fh
        self.size = size
        self.units = units

    def read(self, start: int, length: int) -> bytes:
        self.fh.seek(start)
        return self.fh.read(length)

    def parity(self, start: int, stop: int) -> int:
        """Quote characters in ``[start, stop)`` (both aligned), mod 2."""
        count = 0
        pos = start
        while pos < stop:
            block = self.read(pos, min(BLOCK, stop - pos))
            if not block:
                break
            count += self.units.quotes(block, 0, len(block))
            pos += len(block)
        return count & 1

    def terminators(self, start: int, parity: int) -> _Terminators:
        return _Terminators(self, start, parity)


class _Terminators:
    r"""The line endings outside quotes from ``start`` on: ``(end, kind)`` pairs.

    ``kind`` is ``"\\n"``, ``"\\r\\n"`` or ``"\\r"``; ``end`` is the offset just after it.
    ``start`` must be aligned and ``parity`` the quote parity before it.
    """

    def __init__(self, reader: _Reader, start: int, parity: int) -> None:
        self.reader = reader
        self.pos = start
        self.parity = parity
        self.base = start
        self.buf = b""

    def _fill(self) -> bool:
        """Read the next window, keeping the unread part; False at the end of the file."""
        keep = self.buf[self.pos - self.base :]
        more = self.reader.read(self.base + len(self.buf), WINDOW)
        if not more:
            return False
        self.base = self.pos
        self.buf = keep + more
        return True

    def next(self) -> tuple[int, str] | None:
        units = self.reader.units
        u = units.unit
        while True:
            rel = self.pos - self.base
            nl = units.find(self.buf, units.newline, rel, self.base)
            cr = units.find(self.buf, units.cr, rel, self.base)
            hits = [p for p in (nl, cr) if p >= 0]
            if not hits:
                end = len(self.buf) // u * u
                self.parity = (self.parity + units.quotes(self.buf, rel, end)) & 1
                self.pos = self.base + end
                if not self._fill():
                    return None
                continue
            hit = min(hits)
            if hit == cr and hit + 2 * u > len(self.buf) and self._fill():
                continue  # the unit after a carriage return is in the next window
            self.parity = (self.parity + units.quotes(self.buf, rel, hit)) & 1
            if hit == cr:
                crlf = self.buf[hit + u : hit + 2 * u] == units.newline
                kind, length = ("\r\n", 2 * u) if crlf else ("\r", u)
            else:
                kind, length = "\n", u
            self.pos = self.base + hit + length
            if self.parity == 0:
                return self.pos, kind


def plan_chunks(
    path: Path,
    *,
    encoding: str,
    quote: str,
    jobs: int,
    size: int | None = None,
    on_boundary: Callable[[int], None] | None = None,
) -> SplitPlan:
    """Split ``path`` into at most ``jobs`` chunks at record boundaries.

    Args:
        path: The data file.
        encoding: Its Python codec.
        quote: The quote character (also the escape character, as in PostgreSQL's CSV).
        jobs: The number of chunks wanted.
        size: The file's size (read from the file when not given).
        on_boundary: Called with each split point as soon as it is found (in file order).

    Returns:
        The chunks, in file order, covering the file; fewer than ``jobs`` (with the reason)
        when there are not enough record boundaries or the encoding cannot be split.
    """
    size = path.stat().st_size if size is None else size
    whole = SplitPlan([Chunk(0, size, True, encoding)])
    if jobs <= 1:
        return whole
    found = _units(path, encoding, quote)
    if isinstance(found, str):
        return SplitPlan(whole.chunks, found)
    units, later_codec = found
    with open(path, "rb") as fh:
        reader = _Reader(fh, size, units)
        first = reader.terminators(0, 0).next()
        if first is None:
            return SplitPlan(whole.chunks, "the file holds a single record")
        style = first[1]
        if style == "\r":
            return SplitPlan(whole.chunks, "its lines end in carriage returns alone")
        bounds: list[int] = []
        last = 0  # the last split point: a record boundary, so quote parity 0 there
        for k in range(1, jobs):
            target = max(split_target(size, jobs, k, units.unit), last)
            if bounds and target <= bounds[-1]:
                continue
            # Step back one unit so that a CRLF straddling the target is seen whole.
            start = max(target - units.unit, last)
            parity = reader.parity(last, start)
            walker = reader.terminators(start, parity)
            found_bound = _boundary(walker, style, size)
            if found_bound is None:
                break
            bounds.append(found_bound)
            if on_boundary is not None:
                on_boundary(found_bound)
            last = found_bound
    if not bounds:
        return SplitPlan(whole.chunks, "no record boundary was found to split at")
    edges = [0, *bounds, size]
    chunks = [
        Chunk(a, b, i == 0, encoding if i == 0 else later_codec)
        for i, (a, b) in enumerate(itertools.pairwise(edges))
    ]
    reason = None
    if len(chunks) < jobs:
        reason = f"only {len(chunks)} record boundaries suit a split"
    return SplitPlan(chunks, reason)


def split_target(size: int, jobs: int, k: int, unit: int) -> int:
    """Where the ``k``-th split point is looked for: the first record boundary past it."""
    return size * k // jobs // unit * unit


def split_units(path: Path, *, encoding: str, quote: str) -> tuple[int, str] | str:
    """(code unit size, codec of later chunks), or why the file cannot be split."""
    found = _units(path, encoding, quote)
    return found if isinstance(found, str) else (found[0].unit, found[1])


class LazyPlan:
    """:func:`plan_chunks` in a thread, its split points handed out as they are found.

    The streams start at once: stream ``k`` waits only for its start (the ``k``-th split
    point), and reads freely up to where its end is looked for; the file is read by the
    planner about ten times as fast as one ``COPY`` stream takes it, so in practice nobody
    waits.
    """

    def __init__(
        self, path: Path, *, encoding: str, quote: str, jobs: int, size: int, unit: int
    ) -> None:
        self.path = path
        self.encoding = encoding
        self.quote = quote
        self.jobs = jobs
        self.size = size
        self.unit = unit
        self.plan: SplitPlan | None = None
        self.error: BaseException | None = None
        self._bounds: list[int] = []
        self._done = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="pgimport-split", daemon=True)

    def start(self) -> None:
        """Start looking for the split points."""
        self._thread.start()

    def _run(self) -> None:
        try:
            self.plan = plan_chunks(
                self.path,
                encoding=self.encoding,
                quote=self.quote,
                jobs=self.jobs,
                size=self.size,
                on_boundary=self._found,
            )
        except BaseException as exc:  # handed to the streams, which raise it
            self.error = exc
        finally:
            with self._cond:
                self._done = True
                self._cond.notify_all()

    def _found(self, offset: int) -> None:
        with self._cond:
            self._bounds.append(offset)
            self._cond.notify_all()

    def _check(self) -> None:
        if self.error is not None:
            raise self.error

    def start_of(self, k: int) -> int | None:
        """Where chunk ``k`` starts (waits for it); ``None`` if there is no chunk ``k``."""
        if k == 0:
            return 0
        with self._cond:
            while len(self._bounds) < k and not self._done:
                self._cond.wait()
            self._check()
            return self._bounds[k - 1] if len(self._bounds) >= k else None

    def limit(self, k: int, pos: int) -> int:
        """How far chunk ``k``'s reader, at ``pos``, may read now (waits when it must)."""
        safe = (
            split_target(self.size, self.jobs, k + 1, self.unit) - self.unit
            if k + 1 < self.jobs
            else self.size
        )
        with self._cond:
            while True:
                self._check()
                if len(self._bounds) > k:
                    return self._bounds[k]
                if self._done:
                    return self.size
                if pos < safe:
                    return safe
                self._cond.wait()

    def join(self) -> SplitPlan:
        """The finished plan."""
        self._thread.join()
        self._check()
        assert self.plan is not None
        return self.plan


def _boundary(walker: _Terminators, style: str, size: int) -> int | None:
    """The first end of a line ending in ``style`` whose next record also ends in ``style``."""
    current = walker.next()
    while current is not None:
        end, kind = current
        if end >= size:
            return None
        following = walker.next()
        if kind == style and (following is None or following[1] == style):
            return end
        current = following
    return None


def count_lines_before(path: Path, *, codec: str, offset: int) -> int:
    """Physical lines (newlines) in ``path`` before byte ``offset`` (on the error path only).

    ``codec`` is a later chunk's (endian-specific for UTF-16/32).
    """
    wide = codecs.lookup(codec).name.startswith(("utf-16", "utf-32"))
    count = 0
    with open(path, "rb") as fh:
        pos = 0
        while pos < offset:
            block = fh.read(min(BLOCK, offset - pos))
            if not block:
                break
            if wide:
                count += codecs.decode(block, codec, "replace").count("\n")
            else:
                count += block.count(b"\n")
            pos += len(block)
    return count
