"""``pgmonkey pgexport``: ``COPY ... TO STDOUT`` streamed straight into a file.

A regular file is written under a temporary name next to the destination and renamed at the
end, so a failed export never leaves a partial file (nor clobbers an existing one); FIFOs,
the terminal, ``/dev/null`` and standard output are written as a stream (see
:mod:`._destination`). The transfer itself is in :mod:`._copyout`, the checks of
``--query`` in :mod:`._query`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pgmonkey_cli._transfer._connect import Relation, lookup_relation, messenger
from pgmonkey_cli._transfer._copyout import CopyOut
from pgmonkey_cli._transfer._destination import Destination, examine, opened
from pgmonkey_cli._transfer._encodings import pg_encoding
from pgmonkey_cli._transfer._errors import ExportDataError, TransferUsageError
from pgmonkey_cli._transfer._legacy import convert_legacy_settings
from pgmonkey_cli._transfer._names import default_export_file, parse_table_name, settings_path
from pgmonkey_cli._transfer._progress import ProgressBar
from pgmonkey_cli._transfer._query import checked_query
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
    destination: Destination | None = None
    if request.export_file is not None:
        destination = examine(request.export_file, overwrite=request.overwrite)

    result = ExportResult()
    conn = connect()
    if psycopg.pq.__impl__ == "python":
        say(
            "Note: psycopg is using its pure-Python libpq wrapper, which makes exports several "
            "times slower; pip install 'psycopg[binary]' (or 'psycopg[c]') for the compiled one."
        )
    try:
        _read_only_session(conn)
        relation: Relation | None = None
        if name is not None:
            relation = _lookup(conn, name, request.table or "")
            source = _relation_source(relation)
            label = f"{relation.schema}.{relation.name}"
            if destination is None:
                request.export_file = default_export_file(relation.schema, relation.name)
                destination = examine(request.export_file, overwrite=request.overwrite)
        else:
            source = checked_query(conn, request.query or "")
            label = "the query"
        assert destination is not None
        result.export_file = request.export_file
        fmt = _resolve_format(request, destination, result, say)
        result.format = fmt
        started = time.perf_counter()
        result.rows = _copy_out(conn, source, fmt, destination, request.progress)
        result.seconds = time.perf_counter() - started
        conn.rollback()  # an export changes nothing: whatever the query did is undone
        _save_format(destination, result, say)
    finally:
        conn.close()
    say(
        f"Exported {result.rows:,} rows from {label} to {destination} in "
        f"{result.seconds:.2f} s ({result.rate:,.0f} rows/s)."
    )
    return result


def _resolve_format(
    request: ExportRequest,
    destination: Destination,
    result: ExportResult,
    say: Callable[[str], None],
) -> CsvFormat:
    flags = {k: v for k, v in request.overrides.items() if v is not None}
    if not destination.is_file:  # a stream has no settings file beside it
        return validate_format(CsvFormat().merged(flags))
    settings_file = settings_path(destination.path, "pgexport")
    result.settings_file = settings_file
    fmt = load_format(settings_file, flags)
    if fmt is not None:
        return fmt
    converted = convert_legacy_settings(destination.path, settings_file, kind="pgexport", say=say)
    if converted is not None:  # a pgmonkey 3.x out.yaml next to the export file
        legacy_fmt, result.settings_written = converted
        return validate_format(legacy_fmt.merged(flags))
    return validate_format(CsvFormat().merged(flags))


def _save_format(
    destination: Destination, result: ExportResult, say: Callable[[str], None]
) -> None:
    """Write the settings file after a successful first export (never after a failure)."""
    if result.settings_file is None or result.settings_file.exists():
        return
    result.settings_written = save_settings(
        result.settings_file,
        result.format,
        kind="pgexport",
        data_file=destination.path,
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


def _read_only_session(conn: psycopg.Connection[Any]) -> None:
    """Make every transaction of ``conn`` read-only, and open the export's own.

    The export's transaction is ``REPEATABLE READ READ ONLY`` (the catalog lookup and the
    ``COPY`` see one snapshot); the session default is read-only too, so that even a new
    transaction could not write.
    """
    import psycopg

    conn.read_only = True
    conn.execute("SET default_transaction_read_only = on")
    conn.commit()
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.execute("SELECT 1")  # psycopg opens the transaction: raw protocol calls follow


def _copy_out(
    conn: psycopg.Connection[Any],
    source: Any,
    fmt: CsvFormat,
    destination: Destination,
    progress: bool,
) -> int:
    import psycopg
    from psycopg import sql

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

    try:
        with (
            opened(destination) as fh,
            ProgressBar(enabled=progress, total=None, desc="Exporting", rows_label="rows") as bar,
        ):
            copier = CopyOut(fh, transcode_to=fmt.encoding if native is None else None, bar=bar)
            rows = copier.run(conn, statement)
    except (psycopg.Error, ExportDataError) as exc:
        if isinstance(exc, psycopg.Error):
            diag = exc.diag
            message = "export failed: " + (diag.message_primary or str(exc)).strip()
            if diag.message_detail:
                message += f" ({diag.message_detail.strip()})"
        else:
            message = str(exc)
        if destination.is_file:
            raise ExportDataError(f"{message}; no file was written") from None
        raise ExportDataError(
            f"{message}; what was written to {destination} is incomplete"
        ) from None
    return rows
