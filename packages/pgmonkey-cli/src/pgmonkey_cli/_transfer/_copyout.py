"""``COPY ... TO STDOUT`` streamed into a file, over one connection or two.

The server sends one ``CopyData`` message per row. Receiving them is the only per-row work
the client does, so the loop runs in C: ``iter(get_copy_data, END)`` feeds a buffered file's
``writelines``, with no Python bytecode per row (batches of rows when a progress bar or
transcoding needs to see them).

A large plain table is exported as two ranges of its pages (``ctid`` range scans, PostgreSQL
14+) by two connections that share one snapshot (``pg_export_snapshot``, as ``pg_dump -j``
does): the server formats rows on two cores. Part one is written straight into the output
file, part two into a file beside it that is appended at the end, so the file holds exactly
what one ``COPY`` would write, in page order. If the second connection cannot be set up
(connection limit, different session settings), the first one exports both ranges itself.
"""

from __future__ import annotations

import codecs
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from pgmonkey_cli._transfer._errors import ExportDataError
from pgmonkey_cli._transfer._progress import ProgressBar

if TYPE_CHECKING:
    import psycopg

__all__ = ["FIRST_SHARE", "PARALLEL_MIN_BYTES", "CopyOut", "TableSplit", "plan_split"]

WRITE_BUFFER = 1 << 20
"""The output file's buffer: rows are written to disk in chunks of about this size (1 MiB)."""

BATCH_ROWS = 4096
"""Rows handled per step when a progress bar or transcoding needs to see them."""

PARALLEL_MIN_BYTES = 64 << 20
"""Plain tables at least this large (on disk) are exported by two connections."""

FIRST_SHARE = 0.52
"""The share of the pages the first connection exports: the second one starts later (it
connects first) and its part is appended at the end, so it gets a little less."""

_END = (-1, b"")  # what get_copy_data returns once the COPY is over

# Session settings that change how values are written: both connections must agree.
_OUTPUT_SETTINGS = (
    "SELECT current_setting('TimeZone'), current_setting('DateStyle'), "
    "current_setting('IntervalStyle'), current_setting('extra_float_digits'), "
    "current_setting('bytea_output'), current_setting('lc_monetary'), "
    "current_setting('standard_conforming_strings')"
)


@dataclass(frozen=True)
class TableSplit:
    """How to export a plain table as two page ranges.

    Attributes:
        select: ``SELECT <columns> FROM ONLY <table>``: the same columns, in the same order,
            as ``COPY <table> TO`` writes (generated and dropped columns left out).
        middle: The first page of the second range.
        snapshot: The leader's exported snapshot, for the second connection.
        settings: The leader's output-affecting session settings.
    """

    select: Any
    middle: int
    snapshot: str
    settings: tuple[Any, ...]


def plan_split(conn: psycopg.Connection[Any], oid: int, ident: Any) -> TableSplit | None:
    """Decide whether a plain table is worth two connections; export the snapshot if so.

    ``conn`` must be in a ``REPEATABLE READ`` transaction that has not failed. Returns
    ``None`` (one connection) for small tables, servers before PostgreSQL 14 (no ``ctid``
    range scans), standbys, and tables with row-level security.
    """
    from psycopg import sql

    if conn.info.server_version < 140000:
        return None
    row = conn.execute(
        "SELECT pg_relation_size(c.oid), pg_is_in_recovery(), c.relrowsecurity, "
        "current_setting('block_size')::int, (SELECT array_agg(a.attname ORDER BY a.attnum) "
        "FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 "
        "AND NOT a.attisdropped AND a.attgenerated = '') FROM pg_class c WHERE c.oid = %s::oid",
        [oid],
    ).fetchone()
    if row is None:
        return None
    size, in_recovery, row_security, block_size, columns = row
    if size < PARALLEL_MIN_BYTES or in_recovery or row_security or not columns:
        return None
    select = sql.SQL("SELECT {} FROM ONLY {}").format(
        sql.SQL(", ").join(sql.Identifier(c) for c in columns), ident
    )
    snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()
    settings = conn.execute(_OUTPUT_SETTINGS).fetchone()
    assert snapshot is not None
    assert settings is not None
    middle = int(int(size) // int(block_size) * FIRST_SHARE)
    return TableSplit(select, middle, str(snapshot[0]), settings)


class CopyOut:
    """Runs ``COPY ... TO STDOUT`` statements into one file.

    Args:
        statement: Builds the statement for a source (an identifier or ``(query)``) and
            whether to write the header line.
        fh: The output file (binary).
        transcode_to: A Python codec to re-encode the server's UTF-8 into, or ``None``.
        bar: The progress bar.
    """

    def __init__(
        self,
        statement: Callable[[Any, bool], Any],
        fh: BinaryIO,
        *,
        transcode_to: str | None,
        bar: ProgressBar,
    ) -> None:
        self._statement = statement
        self._fh = fh
        self._transcode_to = transcode_to
        self._bar = bar
        self._encoder: Any = None
        if transcode_to is not None:
            self._encoder = codecs.getincrementalencoder(transcode_to)("strict")

    def run(self, conn: psycopg.Connection[Any], source: Any, *, header: bool) -> int:
        """Export ``source``; return the number of data rows."""
        return _copy_to(conn, self._statement(source, header), self._fh, self._write_rows)

    def run_split(
        self,
        conn: psycopg.Connection[Any],
        split: TableSplit,
        connect: Callable[[], psycopg.Connection[Any]],
        *,
        header: bool,
        directory: Path,
    ) -> int:
        """Export a table as two page ranges (see the module docstring).

        Args:
            conn: The leader, in the transaction whose snapshot ``split`` exported.
            split: From :func:`plan_split`.
            connect: Opens the second connection.
            header: Write the header line first.
            directory: Where the second part is written until it is appended.
        """
        from psycopg import sql

        first = sql.SQL("({} WHERE ctid < {}::tid)").format(
            split.select, sql.Literal(f"({split.middle},0)")
        )
        second = sql.SQL("({} WHERE ctid >= {}::tid)").format(
            split.select, sql.Literal(f"({split.middle},0)")
        )
        helper = _SecondPart(self, self._statement(second, False), split, connect, directory)
        helper.start()
        try:
            rows = self.run(conn, first, header=header)
        except BaseException:
            helper.abandon()
            raise
        if not helper.release():  # no second connection (yet): this one does that range too
            return rows + self.run(conn, second, header=False)
        try:
            helper.join()
            self._fh.flush()
            assert helper.path is not None
            _append(self._fh, helper.path)
            return rows + helper.rows
        finally:
            helper.remove()

    def _write_rows(self, fh: BinaryIO, rows: Iterator[Any]) -> None:
        if self._encoder is None and self._bar.callback is None:
            fh.writelines(rows)  # the whole loop in C
            return
        while batch := list(islice(rows, BATCH_ROWS)):
            data: bytes = b"".join(batch)
            if self._encoder is not None:
                data = self._transcode(data)
            fh.write(data)
            self._bar.update(len(data), len(batch))

    def _transcode(self, data: bytes) -> bytes:
        try:
            return bytes(self._encoder.encode(data.decode("utf-8")))
        except UnicodeEncodeError as exc:
            raise ExportDataError(
                f"character {exc.object[exc.start : exc.end]!r} cannot be written in "
                f"{self._transcode_to}; choose another --encoding. No file was written."
            ) from None


def _copy_to(
    conn: psycopg.Connection[Any],
    statement: Any,
    fh: BinaryIO,
    write_rows: Callable[[BinaryIO, Iterator[Any]], None],
) -> int:
    """Run one ``COPY ... TO STDOUT`` on ``conn`` (in a transaction) into ``fh``."""
    from psycopg import pq
    from psycopg.errors import error_from_result

    if conn.info.transaction_status == pq.TransactionStatus.IDLE:
        conn.execute("SELECT 1")  # psycopg opens the (read-only) transaction: raw COPY next
    pgconn = conn.pgconn
    pgconn.send_query(statement.as_bytes(conn))
    res = pgconn.get_result()
    if res is None or res.status != pq.ExecStatus.COPY_OUT:
        _drain_results(pgconn)
        if res is not None and res.status == pq.ExecStatus.FATAL_ERROR:
            raise error_from_result(res, encoding=conn.info.encoding)
        raise ExportDataError("the server did not start COPY TO STDOUT")
    write_rows(fh, map(itemgetter(1), iter(partial(pgconn.get_copy_data, 0), _END)))
    final = pgconn.get_result()
    _drain_results(pgconn)
    if final is None or final.status != pq.ExecStatus.COMMAND_OK:
        if final is not None and final.status == pq.ExecStatus.FATAL_ERROR:
            raise error_from_result(final, encoding=conn.info.encoding)
        raise ExportDataError("the server did not finish COPY TO STDOUT")
    status = (final.command_status or b"").split()
    return int(status[-1]) if status and status[-1].isdigit() else 0  # COPY n: data rows


def _drain_results(pgconn: Any) -> None:
    while pgconn.get_result() is not None:
        pass


def _append(fh: BinaryIO, part: Path) -> None:
    """Append the file ``part`` to ``fh`` (flushed), in the kernel where it can."""
    with open(part, "rb") as src:
        copy_range = getattr(os, "copy_file_range", None)
        if copy_range is not None:
            try:
                while copy_range(src.fileno(), fh.fileno(), 1 << 30):
                    pass
                return
            except OSError:
                src.seek(0)  # nothing appended yet on the failures that matter (EXDEV...)
                fh.seek(0, os.SEEK_END)
        shutil.copyfileobj(src, fh, WRITE_BUFFER)


class _SecondPart:
    """The second page range, exported by a thread on its own connection.

    The first connection never waits for a second one that has not started its ``COPY`` by
    the time the first range is done (a slow login, a pooler queueing the connection behind
    the first one's transaction): it exports the second range itself, and the thread, once
    it gets its connection, finds the part taken and closes it.
    """

    def __init__(
        self,
        owner: CopyOut,
        statement: Any,
        split: TableSplit,
        connect: Callable[[], psycopg.Connection[Any]],
        directory: Path,
    ) -> None:
        self._owner = owner
        self._statement = statement
        self._split = split
        self._connect = connect
        self._directory = directory
        self._thread = threading.Thread(target=self._run, name="pgexport-part2", daemon=True)
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        self._error: BaseException | None = None
        self._abandoned = False
        self._started = False  # the second connection is exporting its range
        self.path: Path | None = None
        self.rows = 0

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        conn = None
        try:
            conn = self._setup()
            if conn is None or not self._claim():
                return
            fd, name = tempfile.mkstemp(prefix=".pgexport.", suffix=".part", dir=self._directory)
            self.path = Path(name)
            with os.fdopen(fd, "wb", buffering=WRITE_BUFFER) as fh:
                self.rows = _copy_to(conn, self._statement, fh, self._owner._write_rows)
        except BaseException as exc:  # reported by join()
            self._error = exc
        finally:
            if conn is not None:
                conn.close()

    def _setup(self) -> psycopg.Connection[Any] | None:
        """Open the second connection on the leader's snapshot, or ``None`` if it cannot."""
        import psycopg
        from psycopg import sql

        conn = None
        try:
            conn = self._conn = self._connect()
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            conn.execute(
                sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(self._split.snapshot))
            )
            if conn.execute(_OUTPUT_SETTINGS).fetchone() == self._split.settings:
                return conn
        except Exception:  # noqa: S110 - any failure here only means "use one connection"
            pass
        if conn is not None:
            conn.close()
        return None

    def _claim(self) -> bool:
        with self._lock:
            self._started = not self._abandoned
            return self._started

    def release(self) -> bool:
        """The first range is done: whether to wait for this one (``False``: do it yourself)."""
        with self._lock:
            self._abandoned = not self._started
            return self._started

    def abandon(self) -> None:
        """The first range failed: cancel the second if it runs, and wait for it."""
        if not self.release():
            return
        conn = self._conn
        if conn is not None:
            try:
                cancel = getattr(conn, "cancel_safe", None) or conn.cancel  # psycopg < 3.2
                cancel()
            except Exception:  # noqa: S110 - best effort; the join still ends with the COPY
                pass
        self._thread.join()
        self.remove()

    def join(self) -> None:
        """Wait for the second range (after :meth:`release` said so); re-raise its error."""
        self._thread.join()
        if self._error is not None:
            raise self._error

    def remove(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)
