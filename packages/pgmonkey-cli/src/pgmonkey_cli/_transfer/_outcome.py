"""Committing a transaction, and learning whether it committed when the connection is lost.

A connection lost while ``COMMIT`` is on its way leaves the client unable to tell what
happened: the server may have committed and lost only its reply, or never received the
command. Saying "nothing was imported" then would be a guess, and a retry after a commit
duplicates every row. So the transaction's id is read before committing, and when the
connection is lost the server is asked again, on a new connection, with
``pg_xact_status`` (``txid_status`` before PostgreSQL 13): committed, aborted, or unknown.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg
    from typing_extensions import LiteralString

__all__ = [
    "STATUS_WAIT",
    "CommitOutcome",
    "CommitResult",
    "Resolution",
    "TransactionId",
    "commit",
    "connection_lost",
    "resolve_outcome",
    "status_query",
    "transaction_id",
    "xact_status",
]

STATUS_WAIT = 10.0
"""Seconds to wait for a transaction still "in progress" after its connection was lost.

The server aborts the transaction of a vanished client when it notices the socket is gone,
usually at once; a transaction still running after that (a network partition the server has
not noticed yet) is reported as unknown.
"""

_POLL = 0.1


class CommitOutcome(enum.Enum):
    """What became of a transaction whose ``COMMIT`` lost its connection."""

    COMMITTED = "committed"
    ROLLED_BACK = "rolled back"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class TransactionId:
    """A transaction, as the server names it (64-bit, epoch included), and its server.

    Attributes:
        xid: The transaction id (``pg_current_xact_id()``).
        system_id: The cluster's ``system_identifier`` (``None`` when not readable), so
            that a reconnection that lands on another cluster is not asked about it.
        pid: The backend process id of the transaction's session.
    """

    xid: int
    system_id: str | None
    pid: int


@dataclass(frozen=True)
class Resolution:
    """The outcome and, when it is unknown, why."""

    outcome: CommitOutcome
    reason: str = ""


_SYSTEM_ID: LiteralString = (
    "CASE WHEN has_function_privilege('pg_catalog.pg_control_system()', 'execute') "
    "THEN (SELECT system_identifier FROM pg_catalog.pg_control_system())::text END"
)


def _functions(conn: psycopg.Connection[Any]) -> tuple[LiteralString, LiteralString]:
    """(current id, status) SQL for the server's version (PostgreSQL 13 renamed them)."""
    if conn.info.server_version >= 130000:
        return (
            "pg_catalog.pg_current_xact_id()::text",
            "pg_catalog.pg_xact_status(%s::text::pg_catalog.xid8)",
        )
    return "pg_catalog.txid_current()::text", "pg_catalog.txid_status(%s)"


def transaction_id(conn: psycopg.Connection[Any]) -> TransactionId:
    """The id of ``conn``'s current transaction (one is assigned if it has none yet)."""
    current, _ = _functions(conn)
    row = conn.execute(f"SELECT {current}, {_SYSTEM_ID}, pg_catalog.pg_backend_pid()").fetchone()
    assert row is not None
    return TransactionId(int(row[0]), row[1], int(row[2]))


def xact_status(conn: psycopg.Connection[Any], xid: int) -> str | None:
    """``committed``, ``aborted``, ``in progress``, or ``None`` (too old to be known)."""
    _, status_sql = _functions(conn)
    row = conn.execute(f"SELECT {status_sql}", [str(xid)]).fetchone()
    return None if row is None else row[0]


def connection_lost(conn: psycopg.Connection[Any]) -> bool:
    """Whether ``conn`` failed because the connection is gone (not because of an error reply).

    An error reply to ``COMMIT`` means the server rolled the transaction back; a lost
    connection means nobody knows yet.
    """
    return bool(conn.broken or conn.closed)


def resolve_outcome(
    txn: TransactionId,
    reconnect: Callable[[], psycopg.Connection[Any]],
    *,
    wait: float = STATUS_WAIT,
) -> Resolution:
    """Ask the server, on a new connection, what became of transaction ``txn``.

    Never raises for a database or connection problem: that makes the outcome unknown.
    """
    import psycopg

    from pgmonkey.errors import PgMonkeyError

    try:
        conn = reconnect()
    except (PgMonkeyError, psycopg.Error) as exc:
        return Resolution(CommitOutcome.UNKNOWN, f"cannot reconnect: {_one_line(exc)}")
    try:
        conn.autocommit = True
        return _poll_status(conn, txn, wait)
    except psycopg.Error as exc:
        return Resolution(CommitOutcome.UNKNOWN, f"cannot ask the server: {_one_line(exc)}")
    finally:
        conn.close()


def _poll_status(conn: psycopg.Connection[Any], txn: TransactionId, wait: float) -> Resolution:
    row = conn.execute(f"SELECT {_SYSTEM_ID}").fetchone()
    if txn.system_id is not None and row is not None and row[0] != txn.system_id:
        return Resolution(
            CommitOutcome.UNKNOWN, "the new connection reached another server (cluster)"
        )
    deadline = time.monotonic() + wait
    while True:
        value = xact_status(conn, txn.xid)
        if value == "committed":
            return Resolution(CommitOutcome.COMMITTED)
        if value == "aborted":
            return Resolution(CommitOutcome.ROLLED_BACK)
        if value is None:
            return Resolution(CommitOutcome.UNKNOWN, "the server no longer knows the transaction")
        if time.monotonic() >= deadline:
            return Resolution(
                CommitOutcome.UNKNOWN,
                f"the transaction is still in progress on the server after {wait:g} s "
                f"(backend process {txn.pid})",
            )
        time.sleep(_POLL)


def _one_line(exc: BaseException) -> str:
    from pgmonkey_cli._errors import format_error

    return " ".join(format_error(exc).split())


@dataclass(frozen=True)
class CommitResult:
    """What :func:`commit` learned.

    Attributes:
        outcome: Committed, rolled back or unknown.
        lost: The connection was lost during ``COMMIT`` (the outcome comes from asking the
            server again, or is unknown).
        error: The error the lost connection raised (``None`` when not lost).
        reason: Why the outcome is unknown.
    """

    outcome: CommitOutcome
    lost: bool = False
    error: str = ""
    reason: str = ""


def commit(
    conn: psycopg.Connection[Any],
    txn: TransactionId,
    reconnect: Callable[[], psycopg.Connection[Any]],
    *,
    wait: float = STATUS_WAIT,
) -> CommitResult:
    """Commit ``conn``'s transaction ``txn``; if the connection is lost, ask the server.

    Raises:
        psycopg.Error: the server answered ``COMMIT`` with an error: it rolled back.
    """
    import psycopg

    try:
        conn.commit()
    except psycopg.Error as exc:
        if not connection_lost(conn):
            raise
        resolution = resolve_outcome(txn, reconnect, wait=wait)
        return CommitResult(resolution.outcome, True, _one_line(exc), resolution.reason)
    return CommitResult(CommitOutcome.COMMITTED)


def status_query(txn: TransactionId) -> str:
    """The query a user runs to learn the outcome later (any supported server version)."""
    return f"SELECT txid_status({txn.xid})"
