"""``COPY ... TO STDOUT`` streamed into a file over one connection.

The server sends one ``CopyData`` message per row. Receiving them is the only per-row work
the client does, so the loop runs in C: ``iter(get_copy_data, END)`` feeds a buffered file's
``writelines``, with no Python bytecode per row (batches of rows when a progress bar or
transcoding needs to see them).

One connection is also the fastest way on a two-core machine: the server formats rows on one
core while this loop takes the other. (Splitting a table into page ranges exported by two
connections sharing a snapshot was tried: no faster for 80 MB, and 5 to 40 % slower for
800 MB, where two receive loops contend for the interpreter lock and the second part has to be
copied into place at the end.)
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from functools import partial
from itertools import islice
from operator import itemgetter
from typing import TYPE_CHECKING, Any, BinaryIO

from pgmonkey_cli._transfer._errors import ExportDataError
from pgmonkey_cli._transfer._progress import ProgressBar

if TYPE_CHECKING:
    import psycopg

__all__ = ["WRITE_BUFFER", "CopyOut"]

WRITE_BUFFER = 1 << 20
"""The output file's buffer: rows are written to disk in chunks of about this size (1 MiB)."""

BATCH_ROWS = 4096
"""Rows handled per step when a progress bar or transcoding needs to see them."""

_END = (-1, b"")  # what get_copy_data returns once the COPY is over


class CopyOut:
    """Runs a ``COPY ... TO STDOUT`` statement into a file.

    Args:
        fh: The output file (binary).
        transcode_to: A Python codec to re-encode the server's UTF-8 into, or ``None``.
        bar: The progress bar.
    """

    def __init__(self, fh: BinaryIO, *, transcode_to: str | None, bar: ProgressBar) -> None:
        self._fh = fh
        self._transcode_to = transcode_to
        self._bar = bar
        self._encoder: Any = None
        if transcode_to is not None:
            self._encoder = codecs.getincrementalencoder(transcode_to)("strict")

    def run(self, conn: psycopg.Connection[Any], statement: Any) -> int:
        """Run ``statement`` (one composed ``COPY ... TO STDOUT``, in a transaction).

        Returns:
            The number of data rows written.
        """
        from psycopg import pq
        from psycopg.errors import error_from_result

        if conn.info.transaction_status == pq.TransactionStatus.IDLE:
            conn.execute("SELECT 1")  # psycopg opens the (read-only) transaction: raw COPY next
        pgconn = conn.pgconn
        # The extended protocol: the server refuses more than one statement.
        pgconn.send_query_params(statement.as_bytes(conn), None)
        res = pgconn.get_result()
        if res is None or res.status != pq.ExecStatus.COPY_OUT:
            _drain_results(pgconn)
            if res is not None and res.status == pq.ExecStatus.FATAL_ERROR:
                raise error_from_result(res, encoding=conn.info.encoding)
            raise ExportDataError("the server did not start COPY TO STDOUT")
        self._write_rows(map(itemgetter(1), iter(partial(pgconn.get_copy_data, 0), _END)))
        final = pgconn.get_result()
        _drain_results(pgconn)
        if final is None or final.status != pq.ExecStatus.COMMAND_OK:
            if final is not None and final.status == pq.ExecStatus.FATAL_ERROR:
                raise error_from_result(final, encoding=conn.info.encoding)
            raise ExportDataError("the server did not finish COPY TO STDOUT")
        status = (final.command_status or b"").split()
        return int(status[-1]) if status and status[-1].isdigit() else 0  # COPY n: data rows

    def _write_rows(self, rows: Iterator[Any]) -> None:
        if self._encoder is None and self._bar.callback is None:
            self._fh.writelines(rows)  # the whole loop in C
            return
        while batch := list(islice(rows, BATCH_ROWS)):
            data: bytes = b"".join(batch)
            if self._encoder is not None:
                data = self._transcode(data)
            self._fh.write(data)
            self._bar.update(len(data), len(batch))

    def _transcode(self, data: bytes) -> bytes:
        try:
            return bytes(self._encoder.encode(data.decode("utf-8")))
        except UnicodeEncodeError as exc:
            raise ExportDataError(
                f"character {exc.object[exc.start : exc.end]!r} cannot be written in "
                f"{self._transcode_to}; choose another --encoding"
            ) from None


def _drain_results(pgconn: Any) -> None:
    while pgconn.get_result() is not None:
        pass
