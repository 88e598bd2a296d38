"""What an interrupted ``pgimport --jobs`` may leave on the server, and cleaning it.

Every parallel import has a *run id*, a random 31-bit number. For its whole duration the
coordinating session holds the advisory lock ``(RUN_LOCK_CLASS, run id)``; the server
releases it when that session ends, however it ends (``kill -9`` included). Its leftovers
carry the run id in their names:

* prepared transactions ``pgmonkey_import_<run>_<k>_<n>_<xid0>-<xid1>-...`` (two-phase
  commit: stream ``k`` of ``n``, and the transaction ids of all ``n`` streams);
* staging tables ``pgmonkey_import_<run>``, with a comment starting ``pgmonkey pgimport
  staging table``.

A leftover is only touched when it belongs to the connected role and its run's advisory lock
is free (the run is over). Staging
tables are dropped. Prepared transactions are finished the way the run decided: the run
commits its prepared transactions only once all ``n`` are prepared, so if any transaction of
the run is already committed the others are committed too (the run died while committing);
otherwise they are rolled back.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pgmonkey_cli._transfer._outcome import xact_status

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "PREFIX",
    "RUN_LOCK_CLASS",
    "STAGING_COMMENT",
    "Cleanup",
    "clean_leftovers",
    "prepared_gid",
    "staging_name",
]

PREFIX = "pgmonkey_import_"
RUN_LOCK_CLASS = 0x70676D6B  # "pgmk": the first key of the run's advisory lock
STAGING_COMMENT = "pgmonkey pgimport staging table"

_GID = re.compile(r"pgmonkey_import_([0-9a-f]{8})_(\d+)_(\d+)_([0-9-]+)\Z")
_STAGING = re.compile(r"pgmonkey_import_([0-9a-f]{8})\Z")

_FIND = (
    "SELECT 'x', gid, NULL FROM pg_catalog.pg_prepared_xacts "
    "WHERE database = pg_catalog.current_database() AND owner = current_user "
    "AND gid LIKE 'pgmonkey\\_import\\_%' "
    "UNION ALL "
    "SELECT 't', n.nspname, c.relname FROM pg_catalog.pg_class c "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind = 'r' AND c.relname LIKE 'pgmonkey\\_import\\_%' "
    "AND pg_catalog.pg_get_userbyid(c.relowner) = current_user "
    "AND pg_catalog.obj_description(c.oid, 'pg_class') LIKE 'pgmonkey pgimport staging table%'"
)


def staging_name(run: int) -> str:
    """The staging table of run ``run``."""
    return f"{PREFIX}{run:08x}"


def prepared_gid(run: int, k: int, xids: list[int]) -> str:
    """The global id of stream ``k``'s prepared transaction."""
    return f"{PREFIX}{run:08x}_{k}_{len(xids)}_{'-'.join(map(str, xids))}"


@dataclass
class Cleanup:
    """What :func:`clean_leftovers` did (and what it could not do)."""

    committed: list[str] = field(default_factory=list)
    rolled_back: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def describe(self) -> list[str]:
        """One line per action, for the user."""
        lines = [f"committed prepared transaction {g}" for g in self.committed]
        lines += [f"rolled back prepared transaction {g}" for g in self.rolled_back]
        lines += [f"dropped staging table {t}" for t in self.dropped]
        lines += [f"could not clean {f}" for f in self.failed]
        return lines


def clean_leftovers(conn: psycopg.Connection[Any], *, say: Callable[[str], None]) -> Cleanup:
    """Finish the prepared transactions and drop the staging tables of finished runs.

    ``conn`` must be idle (no transaction open); it is used in autocommit mode and left as it
    was. Never raises for a leftover it cannot clean (no privilege...): that is reported.
    """
    import psycopg
    from psycopg import sql

    done = Cleanup()
    autocommit = conn.autocommit
    conn.autocommit = True
    try:
        found = conn.execute(_FIND).fetchall()
        if not found:
            return done
        runs: dict[int, tuple[list[str], list[tuple[str, str]]]] = {}
        for kind, first, second in found:
            match = (_GID if kind == "x" else _STAGING).match(first if kind == "x" else second)
            if match is None:
                continue
            gids, tables = runs.setdefault(int(match.group(1), 16), ([], []))
            if kind == "x":
                gids.append(first)
            else:
                tables.append((first, second))
        for run, (gids, tables) in runs.items():
            row = conn.execute(
                "SELECT pg_catalog.pg_try_advisory_lock(%s, %s)", [RUN_LOCK_CLASS, run]
            ).fetchone()
            if row is None or not row[0]:
                continue  # that run is still going
            try:
                if gids:
                    _finish_prepared(conn, gids, done)
                for schema, table in tables:
                    name = f"{schema}.{table}"
                    try:
                        conn.execute(
                            sql.SQL("DROP TABLE IF EXISTS {}").format(
                                sql.Identifier(schema, table)
                            )
                        )
                        done.dropped.append(name)
                    except psycopg.Error as exc:
                        done.failed.append(f"staging table {name} ({_first_line(exc)})")
            finally:
                conn.execute("SELECT pg_catalog.pg_advisory_unlock(%s, %s)", [RUN_LOCK_CLASS, run])
    finally:
        conn.autocommit = autocommit
    for line in done.describe():
        say(f"Leftover of an interrupted pgimport --jobs: {line}.")
    return done


def _finish_prepared(conn: psycopg.Connection[Any], gids: list[str], done: Cleanup) -> None:
    import psycopg
    from psycopg import sql

    first = _GID.match(gids[0])
    assert first is not None
    xids = [int(x) for x in first.group(4).split("-") if x]
    present = {int(m.group(2)) for g in gids if (m := _GID.match(g)) is not None}
    missing = [x for k, x in enumerate(xids) if k not in present]
    committing = any(xact_status(conn, x) == "committed" for x in missing)
    verb = "COMMIT PREPARED {}" if committing else "ROLLBACK PREPARED {}"
    for gid in gids:
        try:
            conn.execute(sql.SQL(verb).format(sql.Literal(gid)))
        except psycopg.Error as exc:
            done.failed.append(f"prepared transaction {gid} ({_first_line(exc)})")
            continue
        (done.committed if committing else done.rolled_back).append(gid)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
