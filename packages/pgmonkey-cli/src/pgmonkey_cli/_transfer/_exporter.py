"""``pgmonkey pgexport``: ``COPY ... TO STDOUT`` streamed straight into a file.

The file is written under a temporary name next to the destination and renamed at the end,
so a failed export never leaves a partial file (nor clobbers an existing one). The transfer
itself is in :mod:`._copyout`.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

from pgmonkey_cli._transfer._connect import Relation, lookup_relation, messenger
from pgmonkey_cli._transfer._copyout import WRITE_BUFFER, CopyOut
from pgmonkey_cli._transfer._encodings import pg_encoding
from pgmonkey_cli._transfer._errors import ExportDataError, TransferUsageError
from pgmonkey_cli._transfer._names import default_export_file, parse_table_name, settings_path
from pgmonkey_cli._transfer._progress import ProgressBar
from pgmonkey_cli._transfer._settings import (
    CsvFormat,
    TransferResult,
    load_format,
    save_settings,
    validate_format,
)

if TYPE_CHECKING:
    import psycopg

__all__ = ["ExportRequest", "ExportResult", "run_export"]


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
class ExportResult(TransferResult):
    """What an export did."""

    export_file: Path | None = None


def run_export(
    request: ExportRequest,
    connect: Callable[[], psycopg.Connection[Any]],
    out: TextIO,
) -> ExportResult:
    """Export a table, view, materialised view or query to a CSV file.

    Args:
        request: The parsed command line.
        connect: Opens the (non-autocommit) connection.
        out: Where informational messages go.

    Raises:
        TransferUsageError: bad arguments or settings, or the file exists (exit 2).
        ExportDataError: the relation is missing or the server failed (exit 1).
    """
    import psycopg

    say = messenger(request.quiet, out)
    if (request.table is None) == (request.query is None):
        raise TransferUsageError("give exactly one of --table and --query")
    if request.query is not None and request.export_file is None:
        raise TransferUsageError("--query needs --export_file (there is no table to name it)")
    name = parse_table_name(request.table) if request.table is not None else None
    if request.export_file is not None:
        _check_destination(request.export_file, request.overwrite)

    result = ExportResult()
    conn = connect()
    if psycopg.pq.__impl__ == "python":
        say(
            "Note: psycopg is using its pure-Python libpq wrapper, which makes exports several "
            "times slower; install pgmonkey-cli[binary] (or psycopg[c]) for the compiled one."
        )
    try:
        # The catalog lookup and the COPY see one snapshot; a --query cannot write.
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        relation: Relation | None = None
        if name is not None:
            relation = _lookup(conn, name, request.table or "")
            source = _relation_source(relation)
            label = f"{relation.schema}.{relation.name}"
            if request.export_file is None:
                request.export_file = default_export_file(relation.schema, relation.name)
                _check_destination(request.export_file, request.overwrite)
        else:
            source = _query_source(request.query or "")
            label = "the query"
        assert request.export_file is not None
        result.export_file = request.export_file
        fmt = _resolve_format(request, result)
        result.format = fmt
        started = time.perf_counter()
        result.rows = _copy_out(conn, source, fmt, request)
        result.seconds = time.perf_counter() - started
        conn.commit()
        _save_format(request, result, say)
    finally:
        conn.close()
    say(
        f"Exported {result.rows:,} rows from {label} to {result.export_file} in "
        f"{result.seconds:.2f} s ({result.rate:,.0f} rows/s)."
    )
    return result


def _check_destination(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise TransferUsageError(f"export file already exists: {path} (use --overwrite)")
    if path.is_dir():
        raise TransferUsageError(f"export file is a directory: {path}")
    if not path.parent.exists() and str(path.parent) not in ("", "."):
        raise TransferUsageError(f"directory does not exist: {path.parent}")


def _resolve_format(request: ExportRequest, result: ExportResult) -> CsvFormat:
    assert request.export_file is not None
    settings_file = settings_path(request.export_file, "pgexport")
    result.settings_file = settings_file
    flags = {k: v for k, v in request.overrides.items() if v is not None}
    fmt = load_format(settings_file, flags)
    return fmt if fmt is not None else validate_format(CsvFormat().merged(flags))


def _save_format(request: ExportRequest, result: ExportResult, say: Callable[[str], None]) -> None:
    """Write the settings file after a successful first export (never after a failure)."""
    assert request.export_file is not None
    assert result.settings_file is not None
    if result.settings_file.exists():
        return
    result.settings_written = save_settings(
        result.settings_file,
        result.format,
        kind="pgexport",
        data_file=request.export_file,
        say=say,
    )


def _lookup(conn: psycopg.Connection[Any], name: tuple[str | None, str], display: str) -> Relation:
    relation = lookup_relation(conn, *name)
    if relation is None:
        raise ExportDataError(f"table {display} does not exist; no file was written")
    if relation.kind not in ("r", "p", "v", "m", "f"):
        raise ExportDataError(f"{display} is not a table, view or materialized view")
    return relation


def _relation_source(relation: Relation) -> Any:
    from psycopg import sql

    ident = sql.Identifier(relation.schema, relation.name)
    if relation.kind == "r":
        return ident  # plain tables: COPY table TO, the fastest path
    return sql.SQL("(SELECT * FROM {})").format(ident)


def _query_source(query: str) -> Any:
    from psycopg import sql

    text = query.strip().rstrip(";").strip()
    if not text:
        raise TransferUsageError("--query is empty")
    # The user's own SQL, run read-only, is trusted as it is (sql.SQL is typed for literals).
    return sql.SQL("({})").format(sql.SQL(cast(Any, text)))


def _copy_out(
    conn: psycopg.Connection[Any],
    source: Any,
    fmt: CsvFormat,
    request: ExportRequest,
) -> int:
    import psycopg
    from psycopg import sql

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

    destination = request.export_file
    directory = destination.parent if str(destination.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part", dir=directory)
    tmp = Path(tmp_name)
    try:
        with (
            os.fdopen(fd, "wb", buffering=WRITE_BUFFER) as fh,
            ProgressBar(
                enabled=request.progress, total=None, desc="Exporting", rows_label="rows"
            ) as bar,
        ):
            copier = CopyOut(fh, transcode_to=fmt.encoding if native is None else None, bar=bar)
            rows = copier.run(conn, statement)
        if not request.overwrite and destination.exists():
            raise TransferUsageError(f"export file appeared meanwhile: {destination}")
        os.replace(tmp, destination)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, psycopg.Error):
            diag = exc.diag
            message = (diag.message_primary or str(exc)).strip()
            if diag.message_detail:
                message += f" ({diag.message_detail.strip()})"
            raise ExportDataError(f"export failed: {message}; no file was written") from None
        raise
    return rows
