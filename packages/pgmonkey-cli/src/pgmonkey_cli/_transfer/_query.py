"""``pgexport --query``: exactly one read-only query, checked by the server before it runs.

The query text ends up inside ``COPY (...) TO STDOUT``, so a text that closes the
parenthesis could turn the statement into something else (several statements, ``COMMIT``
and a write, ``COPY ... TO PROGRAM``). pgmonkey parses no SQL itself; the server does, and
nothing is executed until it has agreed, twice:

1. The text alone is parsed (a protocol-level ``Parse``, which runs nothing and refuses
   several statements): it must be one statement that returns rows and takes no parameters.
   A statement that parses alone is a balanced sequence of tokens, so it cannot reach past
   the parentheses that wrap it next.
2. ``SELECT * FROM (<text>) AS q`` is parsed: the grammar only lets a query through there
   (``SELECT``, ``VALUES``, ``TABLE``, ``WITH`` without data-modifying parts), so
   ``INSERT ... RETURNING``, ``SELECT ... INTO``, ``EXPLAIN``, ``SHOW`` and the like are
   refused before they run.

Then ``COPY`` runs the text, itself sent through the extended protocol (one statement at
most), in a ``READ ONLY`` transaction of a session whose ``default_transaction_read_only``
is on, and the transaction is rolled back, never committed: whatever a function called by
the query manages to change in the database (a temporary table, a large object) is undone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from pgmonkey_cli._transfer._errors import ExportDataError, TransferUsageError

if TYPE_CHECKING:
    import psycopg

__all__ = ["QueryRefusedError", "checked_query"]

_NOTHING = "Nothing was run; no file was written."
_ONE_QUERY = "--query must be exactly one SELECT, VALUES, TABLE or WITH query"
_READ_ONLY = (
    f"--query refused: not exactly one read-only query ({_ONE_QUERY} that only reads: no "
    "INSERT, UPDATE, DELETE, MERGE, SELECT INTO or data-modifying WITH){detail}. " + _NOTHING
)
_SYNTAX_ERROR = "42601"


class QueryRefusedError(ExportDataError):
    """``--query`` is not exactly one read-only query; nothing was run (exit status 1)."""


def checked_query(conn: psycopg.Connection[Any], query: str) -> Any:
    """The ``COPY`` source for ``query`` (a composed ``(query)``), once the server agreed.

    Must be called inside the export's (read-only) transaction: a refusal aborts it.

    Raises:
        TransferUsageError: the query is empty (exit 2).
        QueryRefusedError: the server's parse refused it (exit 1); nothing was run.
    """
    from psycopg import sql

    text = query.strip()
    if text.endswith(";"):  # one trailing semicolon, as psql users type it
        text = text[:-1].rstrip()
    if not text:
        raise TransferUsageError("--query is empty")
    error, columns, parameters = _parse(conn, text)
    if error is not None:
        hint = f" ({_ONE_QUERY})" if error.diag.sqlstate == _SYNTAX_ERROR else ""
        raise QueryRefusedError(
            f"--query refused by the server: {_describe(error)}{hint}. {_NOTHING}"
        )
    if parameters:
        raise QueryRefusedError(
            f"--query refused: it has {parameters} parameter(s) ($1...), which an export "
            f"cannot supply. {_NOTHING}"
        )
    if not columns:
        raise QueryRefusedError(f"--query refused: it returns no rows ({_ONE_QUERY}). {_NOTHING}")
    # Only parsed, never run; the text parsed alone, so it stays inside the parentheses.
    wrapped = f"SELECT * FROM (\n{text}\n) AS pgmonkey_query"  # noqa: S608
    error, _, _ = _parse(conn, wrapped)
    if error is not None:
        # A syntax error here points into the wrapper, not at anything the user wrote.
        detail = "" if error.diag.sqlstate == _SYNTAX_ERROR else f": {_describe(error)}"
        raise QueryRefusedError(_READ_ONLY.format(detail=detail))
    # Newlines: a trailing -- comment in the text ends before the closing parenthesis.
    # The user's own SQL, checked above and run read-only: sql.SQL is typed for literals.
    return sql.SQL("(\n{}\n)").format(sql.SQL(cast(Any, text)))


def _parse(conn: psycopg.Connection[Any], text: str) -> tuple[psycopg.Error | None, int, int]:
    """Parse ``text`` as the unnamed prepared statement: (error, columns, parameters)."""
    from psycopg import pq
    from psycopg.errors import error_from_result

    pgconn = conn.pgconn
    encoding = conn.info.encoding
    result = pgconn.prepare(b"", text.encode(encoding))
    if result.status == pq.ExecStatus.COMMAND_OK:
        result = pgconn.describe_prepared(b"")
    if result.status != pq.ExecStatus.COMMAND_OK:
        return error_from_result(result, encoding=encoding), 0, 0
    return None, result.nfields, result.nparams


def _describe(error: psycopg.Error) -> str:
    message = (error.diag.message_primary or str(error)).strip()
    position = error.diag.statement_position
    return f"{message} (at character {position})" if position else message
