"""Plain-text tables for people: aligned columns that fit in 80 characters."""

from __future__ import annotations

from collections.abc import Collection, Sequence

__all__ = ["format_table"]

_GAP = "  "
_MIN_WIDTH = 6


def format_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    indent: int = 2,
    max_width: int = 80,
    keep: Collection[int] | bool = (),
) -> str:
    """Return ``rows`` under ``headers`` with aligned columns.

    When the table would be wider than ``max_width``, the widest columns are narrowed and
    their longest cells shortened with ``…``; the last column is never padded. Columns whose
    index is in ``keep`` (every column when ``keep`` is ``True``) are never narrowed: use it
    for values meant to be copied, such as recommended configuration lines; the table is then
    wider than ``max_width`` when it must be.
    """
    cells = [[str(c) for c in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    count = len(headers)
    widths = [max(len(row[i]) for row in cells) for i in range(count)]
    kept = set(range(count)) if keep is True else set(keep or ())
    narrowable = [i for i in range(count) if i not in kept]
    budget = max_width - indent - len(_GAP) * (count - 1)
    while narrowable and sum(widths) > budget:
        widest = max(narrowable, key=lambda i: widths[i])
        if widths[widest] <= _MIN_WIDTH:
            break
        widths[widest] -= 1
    lines = []
    for n, row in enumerate(cells):
        parts = [_fit(row[i], widths[i]) for i in range(count)]
        line = " " * indent + _GAP.join(
            p if i == count - 1 else p.ljust(widths[i]) for i, p in enumerate(parts)
        )
        lines.append(line.rstrip())
        if n == 0:
            lines.append(" " * indent + _GAP.join("-" * w for w in widths))
    return "\n".join(lines)


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
