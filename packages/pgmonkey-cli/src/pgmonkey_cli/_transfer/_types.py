"""``--infer-types``: a PostgreSQL type per column, from a sample of values.

A type is chosen only when every sampled value comes back out of the database exactly as
written: ``007`` stays text (it would come back as ``7``), ``1.50`` becomes numeric (which
keeps its scale), ``true`` stays text (a boolean comes back as ``t``), and so do ``-0``,
``2024-01-01T10:00`` and ``24:00:00``. Two steps make sure of it:

1. :func:`infer_column_types` proposes a type from the shape of the values, accepting only
   PostgreSQL's own output forms;
2. :func:`confirm_round_trip` asks the server, in the import's own session (its DateStyle,
   TimeZone...), whether every sampled value cast to the type and back is the same text; if
   not, the column is text.

Empty values are NULLs and do not vote. A later value the type rejects aborts the import with
its line number (nothing committed), so a wrong guess never loses data.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import psycopg

__all__ = ["column_values", "confirm_round_trip", "infer_column_types"]

_INT = re.compile(r"-?(?:0|[1-9]\d*)")
_NUMERIC = re.compile(r"-?(?:0|[1-9]\d*)\.(\d+)")
_BOOL = frozenset({"t", "f"})  # what PostgreSQL writes; "true" would come back as "t"
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIMESTAMP = re.compile(r"(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d{0,5}[1-9])?")
_TZ = re.compile(r"[+-]\d{2}(?::\d{2})?")
_INT32_DIGITS = 10
_INT64_DIGITS = 19
_NUMERIC_MAX_INT_DIGITS = 131072
_NUMERIC_MAX_SCALE = 16383


def _valid_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _valid_time(text: str) -> bool:
    try:
        dt.time.fromisoformat(text)  # 24:00:00 and :60 are refused (PostgreSQL rolls them)
    except ValueError:
        return False
    return True


def _integer_kind(value: str) -> str:
    digits = value.lstrip("-")
    if len(digits) <= _INT32_DIGITS and -(2**31) <= int(value) < 2**31:
        return "integer"
    if len(digits) <= _INT64_DIGITS and -(2**63) <= int(value) < 2**63:
        return "bigint"
    # long values never go through int(): Python limits int(str) to 4300 digits
    return "numeric" if len(digits) <= _NUMERIC_MAX_INT_DIGITS else "text"


def _kind(value: str) -> str:
    if _INT.fullmatch(value):
        return "text" if value == "-0" else _integer_kind(value)  # -0 comes back as 0
    match = _NUMERIC.fullmatch(value)
    if match:
        whole = value.lstrip("-").split(".")[0]
        if value.startswith("-") and not value.strip("-0."):
            return "text"  # -0.0 comes back as 0.0
        if len(whole) > _NUMERIC_MAX_INT_DIGITS or len(match.group(1)) > _NUMERIC_MAX_SCALE:
            return "text"
        return "numeric"
    if value in _BOOL:
        return "boolean"
    if _DATE.fullmatch(value):
        return "date" if _valid_date(value) else "text"
    match = _TIMESTAMP.match(value)
    if match and _valid_date(match.group(1)) and _valid_time(match.group(2)):
        rest = value[match.end() :]
        if not rest:
            return "timestamp"
        if _TZ.fullmatch(rest):
            return "timestamptz"
    return "text"


_WIDENING = {
    frozenset({"integer", "bigint"}): "bigint",
    frozenset({"integer", "numeric"}): "numeric",
    frozenset({"bigint", "numeric"}): "numeric",
    frozenset({"integer", "bigint", "numeric"}): "numeric",
}


def _combine(kinds: set[str]) -> str:
    if not kinds:
        return "text"
    if len(kinds) == 1:
        return next(iter(kinds))
    return _WIDENING.get(frozenset(kinds), "text")


def column_values(
    records: Sequence[Sequence[str]], ncolumns: int, *, null: str = ""
) -> list[list[str]]:
    """The non-NULL sampled values of each column (short records do not vote)."""
    values: list[list[str]] = [[] for _ in range(ncolumns)]
    for record in records:
        for i, value in enumerate(record[:ncolumns]):
            if value != "" and value != null:
                values[i].append(value)
    return values


def infer_column_types(
    records: Sequence[Sequence[str]], ncolumns: int, *, null: str = ""
) -> list[str]:
    """Return one proposed PostgreSQL type name per column for the sampled data ``records``.

    Args:
        records: Parsed data records (no header).
        ncolumns: The number of columns; short records simply do not vote for missing cells.
        null: The NULL marker; such values do not vote.
    """
    return [
        _combine({_kind(v) for v in values})
        for values in column_values(records, ncolumns, null=null)
    ]


def confirm_round_trip(
    conn: psycopg.Connection[Any], values: list[list[str]], types: list[str]
) -> list[str]:
    """Keep each proposed type only if the server gives every value back unchanged.

    Runs in the caller's transaction, each check in a savepoint (a value the type rejects
    rolls back only its check). Returns the confirmed types (``text`` where not).
    """
    import psycopg
    from psycopg import sql

    confirmed: list[str] = []
    for column, type_name in zip(values, types, strict=True):
        if type_name == "text" or not column:
            confirmed.append(type_name)
            continue
        query = sql.SQL(
            # format() writes with the type's output function, as COPY does (a boolean's
            # ::text cast says 'true' where COPY writes 't')
            "SELECT coalesce(bool_and(format('%%s', v::{type}) = v), true) "
            "FROM unnest(%s::text[]) v"
        ).format(type=sql.SQL(cast(Any, type_name)))  # one of _kind()'s type names
        try:
            with conn.transaction():
                row = conn.execute(query, [sorted(set(column))]).fetchone()
        except psycopg.DataError:
            row = None
        confirmed.append(type_name if row is not None and row[0] else "text")
    return confirmed
