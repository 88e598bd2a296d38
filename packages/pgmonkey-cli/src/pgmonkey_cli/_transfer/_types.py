"""``--infer-types``: a PostgreSQL type per column, from a sample of values.

Conservative on purpose: a type is chosen only when every sampled value would come back out
of the database exactly as written (``007`` stays text, ``1.50`` becomes numeric and keeps its
scale). Empty values are NULLs and do not vote. A later value the type rejects aborts the
import with its line number (nothing committed), so a wrong guess never loses data.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

__all__ = ["infer_column_types"]

_INT = re.compile(r"-?(?:0|[1-9]\d*)")
_NUMERIC = re.compile(r"-?(?:0|[1-9]\d*)\.\d+")
_BOOL = frozenset({"true", "false", "t", "f"})
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIMESTAMP = re.compile(r"(\d{4}-\d{2}-\d{2})[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?")
_TZ = re.compile(r"(?:Z|[+-]\d{2}(?::?\d{2})?)")
_INT32 = 2**31
_INT64 = 2**63


def _valid_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _kind(value: str) -> str:
    if _INT.fullmatch(value):
        n = int(value)
        if -_INT32 <= n < _INT32:
            return "integer"
        if -_INT64 <= n < _INT64:
            return "bigint"
        return "numeric"
    if _NUMERIC.fullmatch(value):
        return "numeric"
    if value.lower() in _BOOL:
        return "boolean"
    if _DATE.fullmatch(value):
        return "date" if _valid_date(value) else "text"
    match = _TIMESTAMP.match(value)
    if match and _valid_date(match.group(1)):
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


def infer_column_types(
    records: Sequence[Sequence[str]], ncolumns: int, *, null: str = ""
) -> list[str]:
    """Return one PostgreSQL type name per column for the sampled data ``records``.

    Args:
        records: Parsed data records (no header).
        ncolumns: The number of columns; short records simply do not vote for missing cells.
        null: The NULL marker; such values do not vote.
    """
    kinds: list[set[str]] = [set() for _ in range(ncolumns)]
    for record in records:
        for i, value in enumerate(record[:ncolumns]):
            if value == "" or value == null:
                continue
            kinds[i].add(_kind(value))
    return [_combine(k) for k in kinds]
