r"""``pgimport --jobs N``: N ``COPY`` streams, one per chunk of the file, all or nothing.

One server backend parses one ``COPY`` stream, so a single stream is capped by one core of the
server. Here the file is split at record boundaries (:mod:`._split`) and each chunk goes
through its own connection, in its own thread (the threads only read the file and hand bytes
to libpq; the servers' backends do the parsing).

Two mechanisms keep the import atomic (docs/import-export.md explains the choice):

* ``two-phase`` (appending to an existing table): every stream copies into the table in its
  own transaction and ``PREPARE``\\ s it; only when all are prepared are they committed
  (``COMMIT PREPARED``). Needs ``max_prepared_transactions`` >= N on the server.
* ``staging`` (a new table, or ``--truncate``): the streams copy into one staging table
  ``pgmonkey_import_<run>`` and commit; one final transaction renames it to the new table, or
  empties the target and moves the rows in. Until then the target is untouched.

Leftovers of a crash are cleaned by the next run (:mod:`._leftovers`).
"""

from __future__ import annotations

import contextlib
import os
import random
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pgmonkey_cli._transfer._errors import CommitOutcomeUnknownError, ImportDataError
from pgmonkey_cli._transfer._leftovers import (
    RUN_LOCK_CLASS,
    STAGING_COMMENT,
    prepared_gid,
    staging_name,
)
from pgmonkey_cli._transfer._split import LazyPlan

if TYPE_CHECKING:
    import psycopg


__all__ = [
    "AUTO_MIN_BYTES",
    "MAX_JOBS",
    "MoveRejectedError",
    "StreamSpec",
    "auto_jobs",
    "mechanism_for",
    "run_parallel",
]

MAX_JOBS = 8
"""The most streams ``--jobs`` takes (the prepared transactions' ids name every stream)."""

AUTO_MIN_BYTES = 64 << 20
"""Files smaller than this are imported with one stream unless ``--jobs`` says otherwise."""

_AUTO_BYTES_PER_JOB = 32 << 20
_WATCH_INTERVAL = 0.5


def auto_jobs(size: int, server_workers: int | None) -> int:
    """The default number of streams for a file of ``size`` bytes.

    One below :data:`AUTO_MIN_BYTES`; otherwise one per 32 MiB, at most the client's cores,
    the server's ``max_parallel_workers`` (which its administrator sizes to its cores; the
    server's core count itself cannot be asked over SQL) and 4.
    """
    if size < AUTO_MIN_BYTES:
        return 1
    cores = os.cpu_count() or 1
    limit = min(cores, 4, size // _AUTO_BYTES_PER_JOB)
    if server_workers is not None and server_workers > 0:
        limit = min(limit, server_workers)
    return max(1, limit)


def mechanism_for(
    conn: psycopg.Connection[Any], *, created: bool, truncate: bool, jobs: int
) -> tuple[str | None, str]:
    """``("staging" | "two-phase" | None, why)`` for importing with ``jobs`` streams."""
    if created:
        return "staging", "a new table is filled under a staging name, then renamed"
    if truncate:
        return "staging", "--truncate: the rows go to a staging table, then replace the table's"
    row = conn.execute("SELECT current_setting('max_prepared_transactions')::int").fetchone()
    allowed = int(row[0]) if row is not None else 0
    if allowed >= jobs:
        return "two-phase", "appending with prepared transactions (two-phase commit)"
    return None, (
        f"appending to an existing table with {jobs} streams needs two-phase commit, and the "
        f"server allows {allowed} prepared transactions (max_prepared_transactions = "
        f"{allowed}; set it to at least {jobs} and restart the server), or use --truncate, or "
        "import into a new table"
    )


@dataclass(frozen=True)
class StreamSpec:
    """What every stream needs to run its ``COPY``.

    Attributes:
        copy_statement: Builds the ``COPY`` statement for a relation (schema, name) and
            whether the chunk has the header.
        source: The bytes to send for chunk ``k`` starting at byte ``start``.
        map_error: Turns a stream's server error into the user's message, given the
            relation name the server reports, the chunk's number and its first byte.
    """

    copy_statement: Callable[[tuple[str, str], bool], Any]
    source: Callable[[int, int], Iterable[bytes]]
    map_error: Callable[[Exception, str, int, int], ImportDataError]


class MoveRejectedError(Exception):
    """``--truncate``: the table refused the staged rows (a constraint, a trigger).

    The error names no line (the rows come from the staging table, not the file); the caller
    imports again with one stream, whose ``COPY`` names it. Nothing was changed.
    """


class _Stop(Exception):
    """Another stream failed: stop sending."""


class _Run:
    """One parallel import: its run id, its streams' connections, its first failure."""

    def __init__(
        self,
        coordinator: psycopg.Connection[Any],
        connect: Callable[[], psycopg.Connection[Any]],
        spec: StreamSpec,
        plan: LazyPlan,
    ) -> None:
        self.coordinator = coordinator
        self.connect = connect
        self.spec = spec
        self.plan = plan
        self.jobs = plan.jobs
        self.starts: dict[int, int] = {}  # chunk -> its first byte, once known
        self.used = 0  # streams that had a chunk
        self.run = random.SystemRandom().randrange(1, 1 << 31)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.conns: list[psycopg.Connection[Any]] = []
        self.pids: list[int] = []
        self.conflict: dict[int, int] = {}  # stream -> the stream it waited for
        self.watch = False  # look for streams waiting for each other (two-phase only)

    def take_lock(self) -> None:
        self.coordinator.execute(
            "SELECT pg_catalog.pg_advisory_lock(%s, %s)", [RUN_LOCK_CLASS, self.run]
        )

    def open_streams(self) -> list[int]:
        """Open one connection per chunk, each in a transaction; return their xids."""
        from pgmonkey_cli._transfer._outcome import transaction_id

        xids = []
        for _ in range(self.jobs):
            conn = self.connect()
            self.conns.append(conn)
            txn = transaction_id(conn)
            xids.append(txn.xid)
            self.pids.append(txn.pid)
        return xids

    def copy_all(self, relation: tuple[str, str], *, after: Callable[[int], None]) -> int:
        """Run every chunk's ``COPY`` (``after(k)`` once stream k succeeded); total rows."""
        self.plan.start()
        with ThreadPoolExecutor(self.jobs, thread_name_prefix="pgimport") as pool:
            futures = [pool.submit(self._stream, k, relation, after) for k in range(self.jobs)]
            pending: set[Future[int]] = set(futures)
            try:
                while pending:
                    _, pending = wait(
                        pending, timeout=_WATCH_INTERVAL, return_when=FIRST_EXCEPTION
                    )
                    if any(f.done() and f.exception() is not None for f in futures):
                        self.abort()
                        wait(pending)
                        break
                    if pending:
                        self._watch()
            except BaseException:  # Ctrl-C, or the watch lost its connection: stop the streams
                self.abort()
                raise
        errors = [(k, f.exception()) for k, f in enumerate(futures) if f.exception() is not None]
        if errors:
            raise self._first_error(errors, relation)
        return sum(f.result() for f in futures)

    def _stream(self, k: int, relation: tuple[str, str], after: Callable[[int], None]) -> int:
        conn = self.conns[k]
        start = self.plan.start_of(k)
        if start is None:  # fewer split points than streams: nothing for this one
            after(k)
            return 0
        self.starts[k] = start
        statement = self.spec.copy_statement(relation, k == 0)
        with conn.cursor() as cur:
            with cur.copy(statement) as copy:
                for data in self.spec.source(k, start):
                    if self.stop.is_set():
                        raise _Stop
                    copy.write(data)
            rows = max(cur.rowcount, 0)
        after(k)
        return rows

    def _watch(self) -> None:
        """Cancel a stream that waits for another stream's transaction to end.

        With two-phase commit that wait is endless: the other stream's transaction ends only
        once every stream is done (a duplicate key across two chunks does it). Waits for
        other locks (extending the table...) end by themselves and are left alone.
        """
        if not self.watch:
            return
        rows = self.coordinator.execute(
            "SELECT pid, pg_catalog.pg_blocking_pids(pid) FROM pg_catalog.pg_stat_activity "
            "WHERE pid = ANY(%s) AND wait_event_type = 'Lock' "
            "AND wait_event IN ('transactionid', 'tuple')",
            [self.pids],
        ).fetchall()
        for pid, blockers in rows:
            ours = [b for b in blockers or [] if b in self.pids and b != pid]
            if ours:
                k = self.pids.index(pid)
                self.conflict[k] = self.pids.index(ours[0])
                self.abort()
                return

    def abort(self) -> None:
        """Stop every stream: the flag between chunks, a cancel for those waiting."""
        self.stop.set()
        import psycopg

        for conn in self.conns:
            with contextlib.suppress(psycopg.Error):  # a closed one has nothing to cancel
                conn.cancel()

    def _first_error(
        self, errors: list[tuple[int, BaseException | None]], relation: tuple[str, str]
    ) -> BaseException:
        import psycopg

        for k, other in self.conflict.items():
            exc = dict(errors).get(k)
            if isinstance(exc, psycopg.Error):
                mapped = self.spec.map_error(exc, relation[1], k, self.starts[k])
                where = f"line {mapped.line}" if mapped.line is not None else "a row"
                return ImportDataError(
                    f"{where} waits for a row another stream (stream {other + 1}) imported: "
                    "two parts of the file conflict (a duplicate key?). Run with --jobs 1 "
                    "for the server's own message. Nothing was imported.",
                    line=mapped.line,
                )
        real = [
            (k, e)
            for k, e in errors
            if not isinstance(e, _Stop)
            and not (isinstance(e, psycopg.errors.QueryCanceled) and self.stop.is_set())
        ]
        k, exc = (real or errors)[0]
        if isinstance(exc, psycopg.Error):
            return self.spec.map_error(exc, relation[1], k, self.starts[k])
        assert exc is not None
        return exc

    def close(self) -> None:
        for conn in self.conns:
            conn.close()


def run_parallel(
    *,
    coordinator: psycopg.Connection[Any],
    connect: Callable[[], psycopg.Connection[Any]],
    mechanism: str,
    target: tuple[str, str],
    columns: list[str],
    created: bool,
    plan: LazyPlan,
    spec: StreamSpec,
    describe_error: Callable[[Exception], ImportDataError],
) -> tuple[int, str | None]:
    """Import the chunks of ``plan`` with one stream each; return (rows, a warning or ``None``).

    The streams start while ``plan`` is still looking for split points (see
    :class:`~pgmonkey_cli._transfer._split.LazyPlan`).

    ``coordinator`` has a transaction open that did the table's preparation (and created it,
    if ``created``); this function ends that transaction.

    Raises:
        ImportDataError: nothing was imported (the message names the line and column).
        CommitOutcomeUnknownError: a lost connection left the outcome unknown.
    """
    run = _Run(coordinator, connect, spec, plan)
    try:
        if mechanism == "two-phase":
            coordinator.rollback()  # it only looked the table up
            coordinator.autocommit = True
            run.take_lock()
            run.watch = True
            return _two_phase(run, target), None
        return _staging(run, target, columns, created, describe_error)
    finally:
        run.close()


def _two_phase(run: _Run, target: tuple[str, str]) -> int:
    import psycopg
    from psycopg import sql

    xids = run.open_streams()
    gids = [prepared_gid(run.run, k, xids) for k in range(len(xids))]
    prepared: list[str] = []
    try:
        rows = run.copy_all(target, after=lambda k: None)
        for k, conn in enumerate(run.conns):
            conn.execute(sql.SQL("PREPARE TRANSACTION {}").format(sql.Literal(gids[k])))
            prepared.append(gids[k])
    except BaseException:
        for gid in prepared:
            # If this fails, the next run's clean-up rolls it back (no stream committed).
            with contextlib.suppress(psycopg.Error):
                run.coordinator.execute(sql.SQL("ROLLBACK PREPARED {}").format(sql.Literal(gid)))
        for conn in run.conns:
            with contextlib.suppress(psycopg.Error):
                conn.rollback()
        raise
    # Every stream succeeded: the decision is to commit. A failure from here on leaves the
    # rest prepared, and the clean-up (which sees a committed one) commits them too.
    try:
        for gid in gids:
            run.coordinator.execute(sql.SQL("COMMIT PREPARED {}").format(sql.Literal(gid)))
    except psycopg.Error as exc:
        raise CommitOutcomeUnknownError(
            f"every stream was prepared, but committing them failed ({exc}); the rest stay "
            "prepared on the server: `pgmonkey pgimport --cleanup` (or the next pgimport into "
            "this database) commits them"
        ) from None
    return rows


def _staging(
    run: _Run,
    target: tuple[str, str],
    columns: list[str],
    created: bool,
    describe_error: Callable[[Exception], ImportDataError],
) -> tuple[int, str | None]:
    import psycopg
    from psycopg import sql

    from pgmonkey_cli._transfer._outcome import (
        CommitOutcome,
        commit,
        connection_lost,
        transaction_id,
    )

    coordinator = run.coordinator
    schema, name = target
    staging = staging_name(run.run)
    staged = sql.Identifier(schema, staging)
    final = sql.Identifier(schema, name)
    run.take_lock()
    if created:
        coordinator.execute(
            sql.SQL("ALTER TABLE {} RENAME TO {}").format(final, sql.Identifier(staging))
        )
    else:
        definition = coordinator.execute(
            "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull "
            "FROM pg_catalog.pg_attribute a WHERE a.attrelid = %s::regclass AND a.attnum > 0 "
            "AND NOT a.attisdropped",
            [final.as_string(coordinator)],
        ).fetchall()
        types = {n: (t, nn) for n, t, nn in definition}
        coordinator.execute(
            sql.SQL("CREATE UNLOGGED TABLE {} ({})").format(
                staged,
                sql.SQL(", ").join(
                    sql.SQL("{} {}{}").format(
                        sql.Identifier(c),
                        sql.SQL(types[c][0]),
                        sql.SQL(" NOT NULL" if types[c][1] else ""),
                    )
                    for c in columns
                ),
            )
        )
    coordinator.execute(
        sql.SQL("COMMENT ON TABLE {} IS {}").format(
            staged, sql.Literal(f"{STAGING_COMMENT} (run {run.run:08x}); safe to drop")
        )
    )
    coordinator.commit()
    try:
        run.open_streams()

        def commit_stream(k: int) -> None:
            run.conns[k].commit()

        rows = run.copy_all((schema, staging), after=commit_stream)
        txn = transaction_id(coordinator)
        if created:
            coordinator.execute(
                sql.SQL("ALTER TABLE {} RENAME TO {}").format(staged, sql.Identifier(name))
            )
            coordinator.execute(sql.SQL("COMMENT ON TABLE {} IS NULL").format(final))
        else:
            coordinator.execute(sql.SQL("TRUNCATE {}").format(final))
            cols = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
            move = sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
                final, cols, cols, staged
            )
            try:
                coordinator.execute(move)
            except psycopg.Error as exc:
                if connection_lost(coordinator):
                    raise
                raise MoveRejectedError(str(exc)) from exc
            coordinator.execute(sql.SQL("DROP TABLE {}").format(staged))
        try:
            committed = commit(coordinator, txn, run.connect)
        except psycopg.Error as exc:
            raise describe_error(exc) from None
    except BaseException:
        _drop_staging(coordinator, run, staged)
        raise
    if committed.lost and committed.outcome is not CommitOutcome.COMMITTED:
        if committed.outcome is CommitOutcome.ROLLED_BACK:
            raise ImportDataError(
                f"the connection was lost during COMMIT ({committed.error}); the server "
                "confirms the transaction was rolled back. Nothing was imported."
            )
        raise CommitOutcomeUnknownError(
            f"the connection was lost during COMMIT ({committed.error}), and whether the "
            f"import was committed is unknown ({committed.reason})"
        )
    warning = None
    if committed.lost:
        warning = (
            f"the connection to the server was lost during COMMIT ({committed.error}); the "
            "server confirms the import was committed"
        )
    return rows, warning


def _drop_staging(coordinator: psycopg.Connection[Any], run: _Run, staged: Any) -> None:
    """Drop the staging table after a failure (the next run's clean-up does, if this can't)."""
    import psycopg
    from psycopg import sql

    run.abort()
    try:
        coordinator.rollback()
        coordinator.autocommit = True
        coordinator.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(staged))
    except psycopg.Error:
        pass  # the next run's clean-up drops it
