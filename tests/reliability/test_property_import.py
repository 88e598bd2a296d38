"""Property-based round trips: any table of text values survives CSV and ``pgimport`` exactly.

Hypothesis generates tables of text (any Unicode but NUL and lone surrogates, including
delimiters, quotes, newlines, carriage returns, ``\\.``, leading and trailing blanks) and NULLs,
writes them as CSV the way docs/import-export.md defines it (NULL: an unquoted empty field;
the empty string: ``""``; other values quoted when they must be, or at random), imports the
file into a real server and reads the table back. Seeds are fixed (``derandomize``) and the
example count bounded, so a run is reproducible and short.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pgmonkey.testing import PostgresServer
from tests.reliability._cli import run_cli

pytestmark = pytest.mark.reliability

Table = list[list[str | None]]

_TEXT = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
    max_size=12,
)
_VALUE = st.one_of(
    st.none(),
    st.just(""),
    st.sampled_from([",", ";", '"', '""', "\n", "\r\n", "\r", "\\.", " x ", 'é,"\n']),
    _TEXT,
)

_counter = itertools.count()


@st.composite
def tables(draw: st.DrawFn) -> tuple[Table, list[bool]]:
    """A table (1-4 columns, 0-6 rows) and, per cell, whether to quote it when optional."""
    width = draw(st.integers(1, 4))
    rows = draw(st.lists(st.lists(_VALUE, min_size=width, max_size=width), max_size=6))
    quotes = draw(st.lists(st.booleans(), min_size=width * len(rows), max_size=width * len(rows)))
    return rows, quotes


def _field(value: str | None, delimiter: str, quote_anyway: bool) -> str:
    if value is None:
        return ""  # NULL: an unquoted empty field
    special = value == "" or any(c in value for c in (delimiter, '"', "\n", "\r"))
    if special or quote_anyway:
        return '"' + value.replace('"', '""') + '"'
    return value


def _csv(table: Table, quotes: list[bool], delimiter: str, newline: str) -> bytes:
    width = len(table[0]) if table else 1
    lines = [delimiter.join(f"c{i}" for i in range(1, width + 1))]
    flags = iter(quotes)
    for row in table:
        lines.append(delimiter.join(_field(v, delimiter, next(flags)) for v in row))
    return (newline.join(lines) + newline).encode("utf-8")


class Db:
    """The module's server and its config file."""

    def __init__(self, server: PostgresServer, config: Path) -> None:
        self.server = server
        self.config = config

    def rows(self, table: str) -> list[list[Any]]:
        from psycopg import sql

        with self.server.connect() as conn:
            query = sql.SQL("SELECT * FROM {} ORDER BY ctid").format(sql.Identifier(table))
            return [list(r) for r in conn.execute(query).fetchall()]

    def exists(self, table: str) -> bool:
        return bool(self.server.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))[0][0])


@pytest.fixture(scope="module")
def db(fault_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Db:
    config = tmp_path_factory.mktemp("property") / "conn.yaml"
    config.write_text(yaml.safe_dump(fault_server.config()), encoding="utf-8")
    return Db(fault_server, config)


PROFILE = settings(
    derandomize=True,
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@PROFILE
@given(
    data=tables(),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    newline=st.sampled_from(["\n", "\r\n"]),
)
def test_any_text_table_round_trips_exactly(
    db: Db,
    tmp_path_factory: pytest.TempPathFactory,
    data: tuple[Table, list[bool]],
    delimiter: str,
    newline: str,
) -> None:
    table, quotes = data
    path = tmp_path_factory.mktemp("rt") / "data.csv"
    path.write_bytes(_csv(table, quotes, delimiter, newline))
    name = f"rt_{next(_counter)}"
    result = run_cli(
        "pgimport", "--import_file", str(path), "--table", name, "--connconfig",
        str(db.config), "--header", "--delimiter", delimiter, "-q",
    )  # fmt: skip
    assert result.status == 0, (result.stderr, path.read_bytes())
    assert db.rows(name) == table


@PROFILE
@given(data=tables(), newline=st.sampled_from(["\n", "\r\n"]))
def test_detection_gives_the_exact_table_or_nothing(
    db: Db, tmp_path_factory: pytest.TempPathFactory, data: tuple[Table, list[bool]], newline: str
) -> None:
    # No flags at all: detection may refuse (exit 2) or the server may reject the rows it
    # split (exit 1), but what is imported is exactly the table. A leading id column gives
    # the header detection its evidence.
    text_table, quotes = data
    table: Table = [[str(i), *row] for i, row in enumerate(text_table, start=1)]
    width = len(text_table[0]) if text_table else 0
    quotes = [
        flag
        for r in range(len(text_table))
        for flag in [False, *quotes[r * width : (r + 1) * width]]
    ]
    path = tmp_path_factory.mktemp("detect") / "data.csv"
    path.write_bytes(_csv(table, quotes, ",", newline))
    name = f"dt_{next(_counter)}"
    result = run_cli(
        "pgimport", "--import_file", str(path), "--table", name, "--connconfig",
        str(db.config), "-q",
    )  # fmt: skip
    event(f"exit {result.status}")
    if result.status != 0:
        assert result.status in (1, 2), result.stderr
        assert result.stderr.startswith("pgmonkey: error: "), result.stderr
        assert not db.exists(name)
        return
    rows = db.rows(name)
    settings_file = yaml.safe_load(path.with_name("data.pgimport.yaml").read_text())
    if settings_file["header"]:
        assert rows == table
    else:  # line 1 was taken for data: it is the header line, then the table
        assert rows == [[f"c{i}" for i in range(1, len(rows[0]) + 1)], *table]
