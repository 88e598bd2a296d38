"""``pgmonkey pgexport``: ``COPY ... TO STDOUT`` streamed straight into a file.

The file is written under a temporary name next to the destination and renamed at the end,
so a failed export never leaves a partial file (nor clobbers an existing one).
"""

from __future__ import annotations

import codecs
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

from pgmonkey_cli._transfer._encodings import pg_encoding
from pgmonkey_cli._transfer._errors import ExportDataError, TransferUsageError
from pgmonkey_cli._transfer._names import default_export_file, parse_table_name, settings_path
from pgmonkey_cli._transfer._progress import ProgressBar
from pgmonkey_cli._transfer._settings import (
    CsvFormat,
    read_settings,
    validate_format,
    write_settings,
)

if TYPE_CHECKING:
    import psycopg

__all__ = ["ExportRequest", "ExportResult", "run_export"]

WRITE_BUFFER = 1 << 20
"""Rows are gathered into writes of about this size (1 MiB)."""


@dataclass
class ExportRequest:
    """What to export, and how (the parsed command line).

    Attributes:
        table: ``--table`` as typed, or ``None`` with ``query``.
        query: ``--query``: a ``SELECT`` (or ``VALUES``, ``TABLE``...) to export instead.
        export_file: Destination; by default derived from the table name.
        overrides: Format flags given on the command line (``None`` values: not given).
        overwrite: Replace an existing destination file.
        quiet: Print nothing but errors.
        progress: Draw a progress bar.
    """

    table: str | None = None
    query: str | None = None
    export_file: Path | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    overwrite: bool = False
    quiet: bool = False
    progress: bool = False


@dataclass
class ExportResult:
    """What an export did."""

    rows: int = 0
    seconds: float = 0.0
    export_file: Path | None = None
    settings_file: Path | None = None
    settings_written: bool = False
    format: CsvFormat = field(default_factory=CsvFormat)


def run_export(
    request: ExportRequest,
    connect: Callable[[], psycopg.Connection[Any]],
    out: TextIO,
) -> ExportResult:
    """Export a table, view, materialised view or query to a CSV file.

    Raises:
        TransferUsageError: bad arguments or settings, or the file exists (exit 2).
        ExportDataError: the relation is missing or the server failed (exit 1).
    """

    def say(message: str) -> None:
        if not request.quiet:
            print(message, file=out, flush=True)

    if (request.table is None) == (request.query is None):
        raise TransferUsageError("give exactly one of --table and --query")
    if request.query is not None and request.export_file is None:
        raise TransferUsageError("--query needs --export_file (there is no table to name it)")
    name = parse_table_name(request.table) if request.table is not None else None
    if request.export_file is not None:
        _check_destination(request.export_file, request.overwrite)

    result = ExportResult()
    conn = connect()
    try:
        conn.read_only = True
        if name is not None:
            schema, relname, relkind = _lookup(conn, name, request.table or "")
            source = _relation_source(schema, relname, relkind)
            label = f"{schema}.{relname}"
            if request.export_file is None:
                request.export_file = default_export_file(schema, relname)
                _check_destination(request.export_file, request.overwrite)
        else:
            source = _query_source(request.query or "")
            label = "the query"
        assert request.export_file is not None
        result.export_file = request.export_file
        fmt = _resolve_format(request, result, say)
        result.format = fmt
        started = time.perf_counter()
        result.rows = _copy_out(conn, source, fmt, request)
        result.seconds = time.perf_counter() - started
        conn.commit()
        _save_format(request, result, say)
    finally:
        conn.close()
    rate = result.rows / result.seconds if result.seconds > 0 else 0.0
    say(
        f"Exported {result.rows:,} rows from {label} to {result.export_file} in "
        f"{result.seconds:.2f} s ({rate:,.0f} rows/s)."
    )
    return result


def _check_destination(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise TransferUsageError(f"export file already exists: {path} (use --overwrite)")
    if path.is_dir():
        raise TransferUsageError(f"export file is a directory: {path}")
    if not path.parent.exists() and str(path.parent) not in ("", "."):
        raise TransferUsageError(f"directory does not exist: {path.parent}")


def _resolve_format(
    request: ExportRequest, result: ExportResult, say: Callable[[str], None]
) -> CsvFormat:
    assert request.export_file is not None
    settings_file = settings_path(request.export_file, "pgexport")
    result.settings_file = settings_file
    flags = {k: v for k, v in request.overrides.items() if v is not None}
    if settings_file.exists():
        values = read_settings(settings_file)
        base = validate_format(CsvFormat().merged(values), source=str(settings_file))
        return validate_format(base.merged(flags))
    return validate_format(CsvFormat().merged(flags))


def _save_format(request: ExportRequest, result: ExportResult, say: Callable[[str], None]) -> None:
    """Write the settings file after a successful first export (never after a failure)."""
    assert request.export_file is not None
    assert result.settings_file is not None
    if result.settings_file.exists():
        return
    try:
        written = write_settings(
            result.settings_file, result.format, kind="pgexport", data_file=request.export_file
        )
    except OSError as exc:
        say(f"Could not write the export settings file {result.settings_file}: {exc.strerror}")
        written = False
    result.settings_written = written
    if written:
        say(f"Export settings written to {result.settings_file}")


def _lookup(
    conn: psycopg.Connection[Any], name: tuple[str | None, str], display: str
) -> tuple[str, str, str]:
    from psycopg import sql

    schema, table = name
    qualified = sql.Identifier(*(p for p in (schema, table) if p is not None)).as_string(conn)
    row = conn.execute(
        "SELECT n.nspname, c.relname, c.relkind::text FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass(%s)",
        [qualified],
    ).fetchone()
    if row is None:
        raise ExportDataError(f"table {display} does not exist; no file was written")
    if row[2] not in ("r", "p", "v", "m", "f"):
        raise ExportDataError(f"{display} is not a table, view or materialized view")
    return str(row[0]), str(row[1]), str(row[2])


def _relation_source(schema: str, relname: str, relkind: str) -> Any:
    from psycopg import sql

    ident = sql.Identifier(schema, relname)
    if relkind == "r":
        return ident  # plain tables: COPY table TO, the fastest path
    return sql.SQL("(SELECT * FROM {})").format(ident)


def _query_source(query: str) -> Any:
    from psycopg import sql

    text = query.strip().rstrip(";").strip()
    if not text:
        raise TransferUsageError("--query is empty")
    return sql.SQL("({})").format(sql.SQL(text))  # the user's own SQL, run read-only


def _copy_out(
    conn: psycopg.Connection[Any], source: Any, fmt: CsvFormat, request: ExportRequest
) -> int:
    from psycopg import pq, sql
    from psycopg.errors import error_from_result

    assert request.export_file is not None
    native = pg_encoding(fmt.encoding)
    statement = sql.SQL(
        "COPY {source} TO STDOUT WITH (FORMAT csv, DELIMITER {delimiter}, QUOTE {quote}, "
        "NULL {null}, HEADER {header}, ENCODING {encoding})"
    ).format(
        source=source,
        delimiter=sql.Literal(fmt.delimiter),
        quote=sql.Literal(fmt.quote),
        null=sql.Literal(fmt.null),
        header=sql.SQL("true" if fmt.header else "false"),
        encoding=sql.Literal(native or "UTF8"),
    )
    # Make sure the transaction (read only) is open, then drive libpq directly: one Python
    # call per row is all the client does, which keeps up with psql's \copy.
    conn.execute("SELECT 1")
    pgconn = conn.pgconn
    destination = request.export_file
    directory = destination.parent if str(destination.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part", dir=directory)
    tmp = Path(tmp_name)
    try:
        with (
            os.fdopen(fd, "wb") as fh,
            ProgressBar(
                enabled=request.progress, total=None, desc="Exporting", rows_label="rows"
            ) as bar,
        ):
            sink = _Sink(fh, fmt.encoding if native is None else None, bar)
            pgconn.send_query(statement.as_bytes(conn))
            res = pgconn.get_result()
            if res is None or res.status != pq.ExecStatus.COPY_OUT:
                _drain(pgconn)
                if res is not None and res.status == pq.ExecStatus.FATAL_ERROR:
                    raise error_from_result(res, encoding=conn.info.encoding)
                raise ExportDataError("the server did not start COPY TO STDOUT")
            get = pgconn.get_copy_data
            rows = 0
            while True:
                nbytes, data = get(0)
                if nbytes < 0:
                    break
                rows += 1
                sink.add(data)
            final = pgconn.get_result()
            _drain(pgconn)
            if final is not None and final.status == pq.ExecStatus.FATAL_ERROR:
                raise error_from_result(final, encoding=conn.info.encoding)
            sink.close()
            status = final.command_status if final is not None else None
            if status and status.split()[-1].isdigit():
                rows = int(status.split()[-1])  # COPY n: data rows, header excluded
            elif fmt.header:
                rows = max(rows - 1, 0)
        if not request.overwrite and destination.exists():
            raise TransferUsageError(f"export file appeared meanwhile: {destination}")
        os.replace(tmp, destination)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        import psycopg

        if isinstance(exc, psycopg.Error):
            diag = exc.diag
            message = (diag.message_primary or str(exc)).strip()
            if diag.message_detail:
                message += f" ({diag.message_detail.strip()})"
            raise ExportDataError(f"export failed: {message}; no file was written") from None
        raise
    return rows


def _drain(pgconn: Any) -> None:
    while pgconn.get_result() is not None:
        pass


class _Sink:
    """Buffers rows into large writes; transcodes when the encoding is not the server's."""

    def __init__(self, fh: BinaryIO, transcode_to: str | None, bar: ProgressBar) -> None:
        self._fh = fh
        self._buf = bytearray()
        self._bar = bar
        self._rows = 0
        self._decoder: Any = None
        self._encoder: Any = None
        if transcode_to is not None:
            self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
            self._encoder = codecs.getincrementalencoder(transcode_to)("strict")
            self._encoding = transcode_to

    def add(self, data: Any) -> None:
        self._buf += data
        self._rows += 1
        if len(self._buf) >= WRITE_BUFFER:
            self._flush(final=False)

    def _flush(self, *, final: bool) -> None:
        if self._decoder is not None:
            text = self._decoder.decode(bytes(self._buf), final=final)
            try:
                payload: bytes | bytearray = self._encoder.encode(text, final=final)
            except UnicodeEncodeError as exc:
                raise ExportDataError(
                    f"character {exc.object[exc.start : exc.end]!r} cannot be written in "
                    f"{self._encoding}; choose another --encoding. No file was written."
                ) from None
        else:
            payload = self._buf
        self._fh.write(payload)
        self._bar.update(len(payload), self._rows)
        self._rows = 0
        self._buf.clear()

    def close(self) -> None:
        self._flush(final=True)
