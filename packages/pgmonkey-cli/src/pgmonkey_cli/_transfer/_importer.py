"""``pgmonkey pgimport``: one transaction, the server parses, lossless or nothing."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

from pgmonkey_cli._transfer._connect import driver_log_demoted, lookup_relation, messenger
from pgmonkey_cli._transfer._errors import (
    CommitOutcomeUnknownError,
    ImportDataError,
    TransferUsageError,
)
from pgmonkey_cli._transfer._import_format import (
    ResolvedFormat,
    decode_sample,
    resolve_format,
    save_format,
)
from pgmonkey_cli._transfer._names import (
    normalise_column_names,
    parse_table_name,
)
from pgmonkey_cli._transfer._outcome import (
    CommitOutcome,
    CommitResult,
    TransactionId,
    commit,
    status_query,
    transaction_id,
)
from pgmonkey_cli._transfer._parallel import AUTO_MIN_BYTES, MoveRejectedError
from pgmonkey_cli._transfer._progress import ProgressBar
from pgmonkey_cli._transfer._settings import CsvFormat, TransferResult
from pgmonkey_cli._transfer._split import LazyPlan
from pgmonkey_cli._transfer._stream import CopySource, record_start_line

if TYPE_CHECKING:
    import psycopg

__all__ = ["ImportRequest", "ImportResult", "run_import"]

TYPE_SAMPLE_BYTES = 1 << 20
"""How much of the file the header parse and ``--infer-types`` look at (1 MiB)."""

TYPE_SAMPLE_RECORDS = 100_000
"""At most this many records of that sample feed ``--infer-types``."""

IF_EXISTS_MODES = ("append", "truncate", "fail")

_TEMP_SCHEMA = re.compile(r"pg_temp_\d+\Z")
"""A session's temporary schema (``pg_temp`` resolves to it)."""


@dataclass
class ImportRequest:
    """What to import, and how (the parsed command line).

    Attributes:
        data_file: The CSV/text file.
        table: ``--table`` as typed (``[schema.]table``, parts may be double-quoted).
        overrides: Format flags given on the command line (``None`` values: not given).
        config_only: Stop after writing the settings file.
        infer_types: Pick column types from a sample when creating the table.
        if_exists: ``append``, ``truncate`` or ``fail``.
        quiet: Print nothing but errors.
        progress: Draw a progress bar.
        jobs: ``--jobs``: the number of COPY streams (``None``: chosen from the file's size
            and the cores, see :func:`pgmonkey_cli._transfer._parallel.auto_jobs`).
    """

    data_file: Path
    table: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    config_only: bool = False
    infer_types: bool = False
    if_exists: str = "append"
    quiet: bool = False
    progress: bool = False
    jobs: int | None = None


@dataclass
class ImportResult(TransferResult):
    """What an import did."""

    table: str = ""
    created: bool = False
    jobs: int = 1  # COPY streams used
    mechanism: str | None = None  # with jobs > 1: "two-phase" or "staging"
    warning: str | None = None  # e.g. committed, but the connection was lost during COMMIT


@dataclass
class _Sample:
    """The start of the data file, decoded; parsed only as far as it is needed."""

    text: str
    complete: bool  # the text is the whole file
    fmt: CsvFormat

    @property
    def empty(self) -> bool:
        """No data at all (0 bytes, or only a byte-order mark)."""
        return self.text == ""

    def iter_records(self) -> Iterator[list[str]]:
        """The records of the sample, lazily (blank lines are ``[]``)."""
        from pgmonkey_cli._transfer._detect import iter_records

        return iter_records(
            self.text, delimiter=self.fmt.delimiter, quote=self.fmt.quote, complete=self.complete
        )

    def first_record(self, *, skip_blank: bool = False) -> list[str] | None:
        """The first record (the first non-blank one with ``skip_blank``), if any."""
        return next((r for r in self.iter_records() if r or not skip_blank), None)

    def records(self, limit: int = TYPE_SAMPLE_RECORDS) -> list[list[str]]:
        """Up to ``limit`` records (for ``--infer-types``)."""
        return list(islice(self.iter_records(), limit))


def run_import(
    request: ImportRequest,
    connect: Callable[[], psycopg.Connection[Any]],
    out: TextIO,
) -> ImportResult:
    """Import ``request.data_file`` into ``request.table``.

    Args:
        request: The parsed command line.
        connect: Opens the (non-autocommit) connection; called only when there is work.
        out: Where informational messages go.

    Raises:
        TransferUsageError: bad arguments or settings (exit 2).
        ImportDataError: the import was aborted; nothing was committed (exit 1).
        CommitOutcomeUnknownError: the connection was lost during COMMIT and the server
            could not be asked whether it committed (exit 3).
    """
    path = request.data_file
    stream = _stream_kind(path)
    if stream is None:
        return _run_import(request, connect, out, settings=True)
    if request.config_only:
        raise TransferUsageError(
            f"--config-only: {stream} has no settings file beside it; give a file"
        )
    # Detection reads the start of the data and the import reads it all again, which a pipe
    # cannot do: the stream is copied to a private temporary file first (no settings file).
    with tempfile.TemporaryDirectory(prefix="pgmonkey-import-") as tmp:
        spooled = Path(tmp) / ("stdin" if str(path) == "-" else path.name)
        _spool(path, spooled)
        return _run_import(replace(request, data_file=spooled), connect, out, settings=False)


def _stream_kind(path: Path) -> str | None:
    """``"standard input"`` or ``"a FIFO"`` when ``path`` is read as a stream, else ``None``.

    Raises:
        TransferUsageError: ``path`` is missing, or neither a regular file nor a FIFO.
    """
    if str(path) == "-" and not path.exists():
        return "standard input"
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise TransferUsageError(f"import file not found: {path}") from None
    except OSError as exc:
        raise TransferUsageError(f"cannot read import file {path}: {exc.strerror}") from None
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if not stat.S_ISREG(mode):
        raise TransferUsageError(
            f"import file is not a regular file, a FIFO or - (standard input): {path}"
        )
    return None


def _spool(source: Path, target: Path) -> None:
    """Copy standard input (``-``) or a FIFO to ``target`` (mode 0600)."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        if str(source) == "-" and not source.exists():
            shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
        else:
            with open(source, "rb") as fh:
                shutil.copyfileobj(fh, out, 1 << 20)


def _run_import(
    request: ImportRequest,
    connect: Callable[[], psycopg.Connection[Any]],
    out: TextIO,
    *,
    settings: bool,
) -> ImportResult:
    """:func:`run_import` once ``request.data_file`` is a regular file."""
    path = request.data_file
    schema, table = parse_table_name(request.table)
    if request.if_exists not in IF_EXISTS_MODES:
        raise TransferUsageError(f"--if-exists: expected one of {', '.join(IF_EXISTS_MODES)}")

    say = messenger(request.quiet, out)
    result = ImportResult()
    resolved = resolve_format(
        path, request.overrides, config_only=request.config_only, say=say, settings=settings
    )
    result.settings_file = resolved.settings_file
    if resolved.question is not None and request.config_only:
        raise resolved.question.refusal()
    fmt = result.format = resolved.fmt
    result.settings_written = resolved.written
    if request.config_only:
        return result

    sample = _read_sample(path, fmt)
    with driver_log_demoted():
        conn = connect()
        try:
            _clean_leftovers(conn, say)
            if resolved.question is not None:
                fmt = _header_from_table(conn, request, resolved, (schema, table), result, say)
            try:
                _import(conn, request, fmt, sample, (schema, table), result, say, connect)
            except MoveRejectedError as exc:
                # The staged rows broke a constraint of the table, where no line is known:
                # one stream's COPY names it (the table is unchanged).
                say(
                    f"The table refused the rows ({_clause(str(exc))}); importing again with "
                    "one stream to find the line."
                )
                conn.close()
                conn = connect()
                one = replace(request, jobs=1)
                _import(conn, one, fmt, sample, (schema, table), result, say, connect)
        finally:
            conn.close()
    say(
        f"Imported {result.rows:,} rows into {result.table} in {result.seconds:.2f} s "
        f"({result.rate:,.0f} rows/s)."
    )
    if result.warning:
        print(f"pgmonkey: warning: {result.warning}", file=sys.stderr, flush=True)
    return result


# -- format: settings file, detection, flags ---------------------------------------------


def _header_from_table(
    conn: psycopg.Connection[Any],
    request: ImportRequest,
    resolved: ResolvedFormat,
    name: tuple[str | None, str],
    result: ImportResult,
    say: Callable[[str], None],
) -> CsvFormat:
    """Answer the header question with the existing table's columns, or refuse.

    Line 1 is the header when every cell of it names a column (as written, or as pgimport
    would name it); it is data when no cell does. Anything else, or no table, is a refusal.
    """
    question = resolved.question
    assert question is not None
    try:
        found = lookup_relation(conn, *name)
        columns = {c.name for c in _table_columns(conn, found.oid)} if found else set()
    finally:
        conn.rollback()  # a catalog look-up only; the import runs in its own transaction
    if found is None:
        raise question.refusal(f", and there is no table {request.table} to compare it with")
    cells = [c for c in question.first if c.strip()]
    created = normalise_column_names(question.first)
    named = [c in columns or n in columns for c, n in zip(question.first, created, strict=True)]
    table = f"{found.schema}.{found.name}"
    if cells and all(named):
        header, why = True, f"line 1 names columns of {table}"
    elif not any(named):
        header, why = False, f"line 1 names no column of {table}"
    else:
        raise question.refusal(f", and only some of its cells name columns of {table}")
    fmt = replace(resolved.fmt, header=header)
    say(f"Header: {'yes' if header else 'no'} ({why})")
    save_format(resolved, fmt, data_file=request.data_file, say=say)
    result.format, result.settings_written = fmt, resolved.written
    return fmt


def _read_sample(path: Path, fmt: CsvFormat) -> _Sample:
    with open(path, "rb") as fh:
        head = fh.read(TYPE_SAMPLE_BYTES)
        complete = not fh.read(1)
    text = decode_sample(path, head, fmt.encoding, final=complete)
    return _Sample(text=text, complete=complete, fmt=fmt)


# -- the transaction ------------------------------------------------------------------------


@dataclass
class _Target:
    schema: str
    name: str
    columns: list[str]  # COPY column list, in file order
    created: bool


def _import(
    conn: psycopg.Connection[Any],
    request: ImportRequest,
    fmt: CsvFormat,
    sample: _Sample,
    name: tuple[str | None, str],
    result: ImportResult,
    say: Callable[[str], None],
    reconnect: Callable[[], psycopg.Connection[Any]],
) -> None:
    import psycopg
    from psycopg import sql

    relname = name[1]
    try:
        txn = transaction_id(conn)  # opens the transaction; asked about if COMMIT is lost
        target = _prepare_table(conn, request, fmt, sample, name, say)
        relname = target.name
        if _TEMP_SCHEMA.match(target.schema):
            raise TransferUsageError(
                f"--table {request.table!r} is a temporary table: it would vanish when "
                "pgimport's connection closes; nothing was imported"
            )
        ident = sql.Identifier(target.schema, target.name)
        result.table = f"{target.schema}.{target.name}"
        result.created = target.created
        streams = None if sample.empty else _plan_streams(conn, request, fmt, target, say)
        if streams is not None:
            started = time.perf_counter()
            result.rows, result.warning = _copy_parallel(
                conn, request, fmt, target, streams, reconnect
            )
            result.seconds = time.perf_counter() - started
            used = len(streams[0].join().chunks)
            result.jobs, result.mechanism = used, streams[1]
            reason = streams[0].join().reason
            if reason is not None:
                say(f"Imported with {used} stream{'s' if used > 1 else ''}: {reason}.")
            return
        if request.if_exists == "truncate" and not target.created:
            conn.execute(sql.SQL("TRUNCATE {}").format(ident))
        if sample.empty:
            say(f"{request.data_file} is empty: nothing to import.")
        else:
            started = time.perf_counter()
            result.rows = _copy(conn, request, fmt, target, ident)
            result.seconds = time.perf_counter() - started
    except BaseException as exc:
        # COMMIT was never sent: the server cannot have committed anything.
        with contextlib.suppress(psycopg.Error):
            conn.rollback()
        if isinstance(exc, psycopg.Error):
            raise _copy_error(exc, request, fmt, relname) from None
        raise
    try:
        committed = commit(conn, txn, reconnect)
    except psycopg.Error as exc:  # an error reply to COMMIT: the server rolled back
        raise _copy_error(exc, request, fmt, relname) from None
    _report_commit(committed, txn, request, result)


def _report_commit(
    committed: CommitResult, txn: TransactionId, request: ImportRequest, result: ImportResult
) -> None:
    """Turn a COMMIT that lost its connection into the server's answer, or an honest doubt."""
    if not committed.lost:
        return
    lost = f"the connection to the server was lost during COMMIT ({committed.error})"
    if committed.outcome is CommitOutcome.COMMITTED:
        result.warning = f"{lost}; the server confirms the import was committed"
    elif committed.outcome is CommitOutcome.ROLLED_BACK:
        raise ImportDataError(
            f"{request.data_file}: {lost}; the server confirms the transaction was rolled "
            "back. Nothing was imported."
        )
    else:
        raise CommitOutcomeUnknownError(
            f"{request.data_file}: {lost}, and whether the import was committed is unknown "
            f"({committed.reason}). Check before retrying: on the server, "
            f"{status_query(txn)} says 'committed' or 'aborted'."
        )


def _copy_statement(
    ident: Any, columns: list[str], fmt: CsvFormat, *, header: bool, server_encoding: str
) -> Any:
    """``COPY ident (columns) FROM STDIN`` with the file's CSV format."""
    from psycopg import sql

    return sql.SQL(
        "COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv, DELIMITER {delimiter}, "
        "QUOTE {quote}, NULL {null}, HEADER {header}, ENCODING {encoding})"
    ).format(
        table=ident,
        columns=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
        delimiter=sql.Literal(fmt.delimiter),
        quote=sql.Literal(fmt.quote),
        null=sql.Literal(fmt.null),
        header=sql.SQL("true" if header else "false"),
        encoding=sql.Literal(server_encoding),
    )


def _copy(
    conn: psycopg.Connection[Any],
    request: ImportRequest,
    fmt: CsvFormat,
    target: _Target,
    ident: Any,
) -> int:
    size = request.data_file.stat().st_size
    with ProgressBar(
        enabled=request.progress, total=size, desc="Importing", rows_label="lines"
    ) as bar:
        source = CopySource(
            request.data_file, encoding=fmt.encoding, quote=fmt.quote, progress=bar.callback
        )
        statement = _copy_statement(
            ident,
            target.columns,
            fmt,
            header=fmt.header,
            server_encoding=source.server_encoding,
        )
        with conn.cursor() as cur:
            with cur.copy(statement) as copy:
                for chunk in source:
                    copy.write(chunk)
            return max(cur.rowcount, 0)


def _clean_leftovers(conn: psycopg.Connection[Any], say: Callable[[str], None]) -> None:
    """Clean what interrupted ``--jobs`` runs left (see ``_leftovers``); never fails the run."""
    import psycopg

    from pgmonkey_cli._transfer._leftovers import clean_leftovers

    try:
        clean_leftovers(conn, say=say)
    except psycopg.Error as exc:
        if conn.broken:
            raise
        say(f"Could not look for leftovers of interrupted pgimport --jobs runs: {exc}")


def _plan_streams(
    conn: psycopg.Connection[Any],
    request: ImportRequest,
    fmt: CsvFormat,
    target: _Target,
    say: Callable[[str], None],
) -> tuple[LazyPlan, str, str] | None:
    """The split, the mechanism and the later chunks' codec, or ``None`` for one stream.

    Raises:
        TransferUsageError: ``--jobs N`` (N > 1) was given and no mechanism can keep the
            import atomic.
    """
    from pgmonkey_cli._transfer._parallel import auto_jobs, mechanism_for
    from pgmonkey_cli._transfer._split import LazyPlan, split_units

    size = request.data_file.stat().st_size
    if request.jobs is None:
        if size < AUTO_MIN_BYTES:
            return None
        row = conn.execute("SELECT current_setting('max_parallel_workers')::int").fetchone()
        jobs = auto_jobs(size, None if row is None else int(row[0]))
    else:
        jobs = request.jobs
    if jobs <= 1:
        return None
    mechanism, why = mechanism_for(
        conn, created=target.created, truncate=request.if_exists == "truncate", jobs=jobs
    )
    if mechanism is None:
        if request.jobs is not None:
            raise TransferUsageError(f"--jobs {jobs}: {why}. Nothing was imported.")
        say(f"Importing with one stream: {why}.")
        return None
    units = split_units(request.data_file, encoding=fmt.encoding, quote=fmt.quote)
    if isinstance(units, str):
        say(f"Importing with one stream: {units}.")
        return None
    unit, later_codec = units
    say(f"Importing with up to {jobs} streams ({why}).")
    plan = LazyPlan(
        request.data_file,
        encoding=fmt.encoding,
        quote=fmt.quote,
        jobs=jobs,
        size=size,
        unit=unit,
    )
    return plan, mechanism, later_codec


def _copy_parallel(
    conn: psycopg.Connection[Any],
    request: ImportRequest,
    fmt: CsvFormat,
    target: _Target,
    streams: tuple[LazyPlan, str, str],
    reconnect: Callable[[], psycopg.Connection[Any]],
) -> tuple[int, str | None]:
    """Run the parallel import (it commits, or leaves nothing); rows and any warning."""
    from psycopg import sql

    from pgmonkey_cli._transfer._parallel import StreamSpec, run_parallel
    from pgmonkey_cli._transfer._split import count_lines_before

    plan, mechanism, later_codec = streams
    size = request.data_file.stat().st_size
    server_encoding = CopySource(request.data_file, encoding=fmt.encoding, quote=fmt.quote)
    with ProgressBar(
        enabled=request.progress, total=size, desc="Importing", rows_label="lines"
    ) as bar:

        def source(k: int, start: int) -> CopySource:
            return CopySource(
                request.data_file,
                encoding=fmt.encoding if k == 0 else later_codec,
                quote=fmt.quote,
                progress=bar.callback,
                start=start,
                limit=lambda pos: plan.limit(k, pos),
                file_encoding=fmt.encoding,
            )

        def statement(relation: tuple[str, str], first: bool) -> Any:
            return _copy_statement(
                sql.Identifier(*relation),
                target.columns,
                fmt,
                header=fmt.header and first,
                server_encoding=server_encoding.server_encoding,
            )

        def map_error(exc: Exception, relname: str, k: int, start: int) -> ImportDataError:
            before = count_lines_before(request.data_file, codec=later_codec, offset=start)
            return _copy_error(exc, request, fmt, relname, line_offset=before if k else 0)

        return run_parallel(
            coordinator=conn,
            connect=reconnect,
            mechanism=mechanism,
            target=(target.schema, target.name),
            columns=target.columns,
            created=target.created,
            plan=plan,
            spec=StreamSpec(copy_statement=statement, source=source, map_error=map_error),
            describe_error=lambda exc: _copy_error(exc, request, fmt, target.name),
        )


@dataclass
class _Column:
    name: str
    type: str
    required: bool  # NOT NULL, no default, not identity/generated
    generated: bool


def _table_columns(conn: psycopg.Connection[Any], oid: int) -> list[_Column]:
    rows = conn.execute(
        "SELECT attname, format_type(atttypid, atttypmod), attnotnull, atthasdef, "
        "attidentity::text, attgenerated::text FROM pg_attribute "
        "WHERE attrelid = %s::oid AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        [oid],
    ).fetchall()
    return [
        _Column(
            name=r[0],
            type=r[1],
            required=bool(r[2]) and not r[3] and not r[4] and not r[5],
            generated=bool(r[5]),
        )
        for r in rows
    ]


def _prepare_table(
    conn: psycopg.Connection[Any],
    request: ImportRequest,
    fmt: CsvFormat,
    sample: _Sample,
    name: tuple[str | None, str],
    say: Callable[[str], None],
) -> _Target:
    schema, table = name
    display = request.table
    found = lookup_relation(conn, schema, table)
    header = sample.first_record() if fmt.header else None
    if fmt.header and not sample.empty and not any(h.strip() for h in header or []):
        raise ImportDataError(
            f"{request.data_file}: line 1: the header is empty (use --no-header if the file "
            "has none)",
            line=1,
        )
    if found is not None:
        oid, real_schema, real_name, relkind = found
        if request.if_exists == "fail":
            raise ImportDataError(
                f"table {real_schema}.{real_name} already exists (--if-exists fail); "
                "nothing was imported"
            )
        if relkind not in ("r", "p"):
            kinds = {"v": "a view", "m": "a materialized view", "f": "a foreign table"}
            raise ImportDataError(
                f"{display} is {kinds.get(relkind, 'not a table')}: cannot import into it"
            )
        columns = _match_columns(request, fmt, sample, header, _table_columns(conn, oid))
        return _Target(real_schema, real_name, columns, created=False)

    if sample.empty:
        raise ImportDataError(
            f"table {display} does not exist and {request.data_file} is empty: "
            "there is nothing to create it from"
        )
    if header is not None:
        columns = normalise_column_names(header)
    else:
        first = sample.first_record(skip_blank=True)
        if first is None:
            raise ImportDataError(
                f"{request.data_file}: line 1 is blank: cannot tell how many columns to create",
                line=1,
            )
        columns = [f"column_{i}" for i in range(1, len(first) + 1)]
    if request.infer_types:
        from pgmonkey_cli._transfer._types import (
            column_values,
            confirm_round_trip,
            infer_column_types,
        )

        records = sample.records()
        data = records[1:] if header is not None else records
        proposed = infer_column_types(data, len(columns), null=fmt.null)
        values = column_values(data, len(columns), null=fmt.null)
        types = confirm_round_trip(conn, values, proposed)
    else:
        types = ["text"] * len(columns)
    _create_table(conn, schema, table, columns, types)
    created = lookup_relation(conn, schema, table)
    assert created is not None
    _, real_schema, real_name, _ = created
    described = ", ".join(f"{c} {t}" for c, t in zip(columns, types, strict=True))
    say(f"Creating table {real_schema}.{real_name} ({described})")
    return _Target(real_schema, real_name, columns, created=True)


def _create_table(
    conn: psycopg.Connection[Any],
    schema: str | None,
    table: str,
    columns: list[str],
    types: list[str],
) -> None:
    from psycopg import sql

    ident = sql.Identifier(*(p for p in (schema, table) if p is not None))
    definitions = sql.SQL(", ").join(
        # Type names are the user's or the inference's (sql.SQL is typed for literals).
        sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(cast(Any, t)))
        for c, t in zip(columns, types, strict=True)
    )
    conn.execute(sql.SQL("CREATE TABLE {} ({})").format(ident, definitions))


def _match_columns(
    request: ImportRequest,
    fmt: CsvFormat,
    sample: _Sample,
    header: list[str] | None,
    table_columns: list[_Column],
) -> list[str]:
    by_name = {c.name: c for c in table_columns}
    where = f"table {request.table}"
    if header is None:
        insertable = [c for c in table_columns if not c.generated]
        first = sample.first_record(skip_blank=True)
        if first is not None and len(first) != len(insertable):
            raise ImportDataError(
                f"{request.data_file}: line 1 has {len(first)} fields but {where} has "
                f"{len(insertable)} columns ({', '.join(c.name for c in insertable)}); "
                "add a header row naming the columns to import"
            )
        return [c.name for c in insertable]
    if sample.empty:
        return [c.name for c in table_columns if not c.generated]
    # The names pgimport gives these header cells when it creates a table: a table created
    # from this file (or one like it) is matched exactly as it was created, collisions
    # ("a b" and "A_B" -> a_b, a_b_2) included. Otherwise each cell matches a column named
    # exactly like it, or its created name.
    created = normalise_column_names(header)
    if all(name in by_name for name in created):
        mapped = list(created)
        unknown: list[str] = []
    else:
        mapped, unknown = [], []
        for raw, name in zip(header, created, strict=True):
            if raw in by_name:
                mapped.append(raw)
            elif name in by_name:
                mapped.append(name)
            else:
                unknown.append(raw)
                mapped.append("")
    if unknown:
        raise ImportDataError(
            f"{request.data_file}: header column(s) {', '.join(map(repr, unknown))} not in "
            f"{where} (its columns: {', '.join(by_name)}); nothing was imported"
        )
    seen: set[str] = set()
    for column in mapped:
        if column in seen:
            raise ImportDataError(
                f"{request.data_file}: two header columns map to column {column!r} of {where}"
            )
        seen.add(column)
    generated = [c for c in mapped if by_name[c].generated]
    if generated:
        raise ImportDataError(
            f"{request.data_file}: column(s) {', '.join(generated)} of {where} are generated "
            "and cannot be imported into"
        )
    missing = [c.name for c in table_columns if c.required and c.name not in seen]
    if missing:
        raise ImportDataError(
            f"{request.data_file}: required column(s) {', '.join(missing)} of {where} "
            "(NOT NULL, no default) are missing from the file"
        )
    return mapped


# -- mapping server errors back to the file -------------------------------------------------


def _clause(text: str) -> str:
    """A message as one clause: lines joined, no final period (the caller adds its own)."""
    return " ".join(part.strip() for part in text.splitlines() if part.strip()).rstrip(" .")


_LINE = re.compile(r"(\d+)")


def _copy_error(
    exc: Exception,
    request: ImportRequest,
    fmt: CsvFormat,
    relname: str,
    *,
    line_offset: int = 0,
) -> ImportDataError:
    diag = getattr(exc, "diag", None)
    primary = (getattr(diag, "message_primary", None) or str(exc)).strip()
    detail = getattr(diag, "message_detail", None)
    context = getattr(diag, "context", None) or ""
    sqlstate = getattr(diag, "sqlstate", None) or ""
    line: int | None = None
    column: str | None = None
    prefix = f"COPY {relname}, line "
    for ctx_line in context.splitlines():
        if not ctx_line.startswith(prefix):
            continue
        rest = ctx_line[len(prefix) :]
        match = _LINE.match(rest)
        if match is None:
            continue
        line = int(match.group(1)) + line_offset
        rest = rest[match.end() :]
        if rest.startswith(", column "):
            rest = rest[len(", column ") :]
            column = rest.split(":", 1)[0] if ":" in rest else rest
        break
    message = _clause(primary)
    if detail:
        message += f" ({_clause(detail)})"
    if sqlstate in ("22021", "22P05"):
        from pgmonkey_cli._transfer._badbytes import scan_file

        bad = scan_file(request.data_file, fmt.encoding)
        if bad is not None:
            return ImportDataError(
                f"{request.data_file}: {bad.describe(fmt.encoding)}; the file is read as "
                f"{fmt.encoding}: set the right encoding with --encoding or in the settings "
                "file. Nothing was imported.",
                line=bad.line,
            )
        message += (
            f"; the file is read as {fmt.encoding}: set the right encoding with --encoding "
            "or in the settings file"
        )
    if sqlstate == "22P04" and "extra data" in primary:
        message = "too many fields: " + message
    if sqlstate == "22P04" and "missing data" in primary:
        message = "too few fields: " + message
    if line is None:
        return ImportDataError(
            f"{request.data_file}: import aborted: {message}. Nothing was imported."
        )
    start = record_start_line(request.data_file, encoding=fmt.encoding, quote=fmt.quote, line=line)
    where = f"line {start}"
    if column is not None:
        where += f", column {column}"
    return ImportDataError(
        f"{request.data_file}: {where}: {message}. Nothing was imported.",
        line=start,
        column=column,
    )
