"""The hostile-input corpus, run in full through ``pgmonkey pgimport`` against a real server.

``corpus/csv`` holds hostile files (damaged UTF-8, byte-order marks, UTF-16 with and without
one, NULs, mixed line endings, huge fields, unbalanced quotes, header collisions, header-less
text, legacy code pages below the threshold...), ``corpus/names`` hostile table and column
names. Each folder's ``expected.yaml`` records every file's outcome: the exit status, a
message, and on success the exact rows and columns. Every case also checks that a failure
leaves nothing behind: the catalog is unchanged and no settings file was written. The files
are written by ``corpus/make_corpus.py``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from pgmonkey.testing import PostgresServer
from tests.reliability._cli import run_cli

pytestmark = pytest.mark.reliability

CORPUS = Path(__file__).with_name("corpus")


def _manifest(folder: str) -> dict[str, dict[str, Any]]:
    data = yaml.safe_load((CORPUS / folder / "expected.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


CSV = _manifest("csv")
NAMES = _manifest("names")


@dataclass
class Db:
    """The module's server, its config file, and catalog helpers."""

    server: PostgresServer
    config: Path

    def rows(self, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        with self.server.connect() as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description is not None else []

    def relations(self) -> set[tuple[str, str]]:
        rows = self.rows(
            "SELECT n.nspname, c.relname FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'"
        )
        return {(str(s), str(n)) for s, n in rows}

    def content(self, schema: str, name: str) -> tuple[list[str], list[list[Any]]]:
        from psycopg import sql

        ident = sql.Identifier(schema, name)
        with self.server.connect() as conn:
            cur = conn.execute(sql.SQL("SELECT * FROM {} ORDER BY ctid").format(ident))
            columns = [d.name for d in cur.description or []]
            return columns, [list(r) for r in cur.fetchall()]


@pytest.fixture(scope="module")
def db(fault_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    config = tmp_path_factory.mktemp("corpus") / "conn.yaml"
    config.write_text(yaml.safe_dump(fault_server.config()), encoding="utf-8")
    fault_server.execute("CREATE TABLE canary (n int)")
    fault_server.execute("INSERT INTO canary VALUES (1)")
    yield Db(fault_server, config)
    assert fault_server.execute("SELECT n FROM canary") == [(1,)]


@pytest.mark.parametrize("folder", ["csv", "names"])
def test_every_corpus_file_has_an_expected_outcome(folder: str) -> None:
    files = {p.name for p in (CORPUS / folder).iterdir() if p.suffix == ".csv"}
    assert files == set(_manifest(folder))


def _run(db: Db, tmp_path: Path, folder: str, name: str, table: str, case: dict[str, Any]):  # type: ignore[no-untyped-def]
    data = tmp_path / name
    shutil.copyfile(CORPUS / folder / name, data)
    before = db.relations()
    result = run_cli(
        "pgimport", "--import_file", str(data), "--table", table,
        "--connconfig", str(db.config), *case.get("args", []),
    )  # fmt: skip
    assert result.status == case["exit"], result.stderr
    assert not [r for r in result.records if r.name.startswith("psycopg")]
    if case["exit"] != 0:
        assert case["message"] in result.stderr
        assert result.stderr.startswith("pgmonkey: error: ")
        assert "Traceback" not in result.stderr
        assert "WARNING" not in result.stderr
        assert not result.stderr.rstrip().endswith("..")
        assert db.relations() == before  # nothing created, nothing dropped
        # detection that refuses writes no settings; a format detected before the server
        # refused the data is kept, for the next run
        settings = data.with_name(f"{data.stem}.pgimport.yaml")
        assert settings.exists() is case.get("settings_written", False)
        return None
    assert result.stderr == ""
    assert case.get("message", "") in result.stdout
    created = db.relations() - before
    assert len(created) == 1, created
    return created.pop()


@pytest.mark.parametrize(("name", "case"), sorted(CSV.items()), ids=sorted(CSV))
def test_csv_corpus(db: Db, tmp_path: Path, name: str, case: dict[str, Any]) -> None:
    table = "csv_" + Path(name).stem
    relation = _run(db, tmp_path, "csv", name, table, case)
    if relation is None:
        return
    assert relation == ("public", table)
    columns, rows = db.content(*relation)
    if isinstance(case["rows"], int):
        assert len(rows) == case["rows"]
    else:
        assert rows == case["rows"]
    if "columns" in case:
        assert columns == case["columns"]


@pytest.mark.parametrize(("name", "case"), sorted(NAMES.items()), ids=sorted(NAMES))
def test_names_corpus(db: Db, tmp_path: Path, name: str, case: dict[str, Any]) -> None:
    relation = _run(db, tmp_path, "names", name, case["table"], case)
    if relation is None:
        return
    assert list(relation) == case["relation"]
    columns, rows = db.content(*relation)
    assert columns == case["columns"]
    assert len(rows) == 1
