"""Hostile identifiers: quoted or refused, never executed, nothing half-done.

Every command that takes a table, schema, column, database or role name is run (in process,
through ``pgmonkey_cli._app.main``) with a corpus of hostile names against a real server.
After each run the catalog is compared with a snapshot: either exactly the named object was
created, with exactly the intended name, or the command was refused (exit 2: bad usage,
nothing attempted; exit 1: the server refused, nothing committed) with a message naming the
problem. A canary table must survive everything.

Where names go:

* ``pgimport --table`` and the CSV header (column names of a new table are normalised:
  lower case, words joined by ``_``; an existing table's columns are matched as written);
* ``pgexport --table`` and the default output file derived from it (percent-encoded, so
  ``../../etc/x`` or ``/`` can never leave the working directory); ``pgexport --query`` is
  SQL by design: it runs as given, in a read-only transaction;
* ``pgserverconfig``: the config's user and dbname in pg_hba.conf lines (checked by the
  server's own parser through ``pg_hba_file_rules``);
* ``sandbox start``: the config's user and dbname become a role and a database;
* ``pgconfig generate-code`` embeds only the config file's path (as a Python literal);
* the library's ``sync_settings``/``async_settings`` names (validated by the loader). The
  framework extensions take no identifiers of their own.
"""

from __future__ import annotations

import ast
import contextlib
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from psycopg import sql

from pgmonkey.config import load_config
from pgmonkey.errors import ConfigValidationError
from pgmonkey.testing import PostgresServer
from pgmonkey_cli._app import main
from tests.reliability.conftest import Figures

pytestmark = pytest.mark.reliability

DATA = "id,name\n1,alice\n2,bob\n"

Snapshot = frozenset[tuple[str, ...]]

_OUTCOMES: dict[str, int] = {}


def _count(figures: Figures, outcome: str) -> None:
    """Tally hostile names per outcome for the summary table."""
    _OUTCOMES[outcome] = _OUTCOMES.get(outcome, 0) + 1
    figures.record("identifiers", **_OUTCOMES)


class Db:
    """A database of the module's server, its config file and catalog helpers."""

    def __init__(self, server: PostgresServer, name: str, config_path: Path) -> None:
        self.server = server
        self.name = name
        self.config_path = config_path

    def execute(self, query: Any, params: Any = None) -> list[tuple[Any, ...]]:
        with self.server.connect(dbname=self.name) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description is not None else []

    def snapshot(self) -> Snapshot:
        """Schemas, relations, roles and databases (what a hostile name could create/drop)."""
        rows = self.execute(
            "SELECT 'rel', n.nspname, c.relname, c.relkind::text FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)' "
            "UNION ALL SELECT 'schema', nspname, '', '' FROM pg_namespace "
            "UNION ALL SELECT 'role', rolname, '', '' FROM pg_roles "
            "UNION ALL SELECT 'db', datname, '', '' FROM pg_database"
        )
        return frozenset(tuple(str(v) for v in r) for r in rows)

    def canary_ok(self) -> bool:
        return bool(self.execute("SELECT count(*) FROM public.canary")[0][0] == 1)

    def rows(self, schema: str, table: str) -> list[tuple[Any, ...]]:
        return self.execute(
            sql.SQL("SELECT * FROM {} ORDER BY 1").format(sql.Identifier(schema, table))
        )

    def columns(self, schema: str, table: str) -> list[str]:
        rows = self.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) "
            "AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            [sql.Identifier(schema, table).as_string(None)],
        )
        return [r[0] for r in rows]

    def drop(self, schema: str, table: str) -> None:
        self.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(schema, table)))


@pytest.fixture(scope="module")
def db(fault_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    name = f"ident_{secrets.token_hex(4)}"
    fault_server.create_database(name)
    config_path = tmp_path_factory.mktemp("ident") / "conn.yaml"
    config_path.write_text(yaml.safe_dump(fault_server.config(dbname=name)), encoding="utf-8")
    d = Db(fault_server, name, config_path)
    d.execute("CREATE TABLE public.canary (x int); INSERT INTO public.canary VALUES (1)")
    for schema in ("we.ird", 'Sch "x"', "a"):
        d.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield d
    finally:
        fault_server.drop_database(name)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``pgmonkey ARGV`` in process: (exit status, stdout, stderr); never a traceback."""
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse usage errors
        code = exc.code if isinstance(exc.code, int) else 2
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    assert "unexpected" not in err, err
    return code, out, err


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


# (--table as typed, expected (schema, table) or None, exit status, message fragment)
CREATED = [
    ("x'; DROP TABLE canary; --", ("public", "x'; DROP TABLE canary; --")),
    ('x"; DROP TABLE canary; --', ("public", 'x"; DROP TABLE canary; --')),
    ('"q""uote"', ("public", 'q"uote')),
    ('"x""; DROP TABLE canary; --"', ("public", 'x"; DROP TABLE canary; --')),
    ("t/* c */ --", ("public", "t/* c */ --")),
    ("back\\slash\\", ("public", "back\\slash\\")),
    ("tab\there", ("public", "tab\there")),
    ("ünïcødé_表", ("public", "ünïcødé_表")),
    ("🐒", ("public", "🐒")),
    ("é" * 31 + "x", ("public", "é" * 31 + "x")),  # exactly 63 bytes
    ("MixedCase", ("public", "MixedCase")),  # never case-folded
    ('"dotted.name"', ("public", "dotted.name")),
    ('"we.ird"."t.1"', ("we.ird", "t.1")),
    ('"Sch ""x"""."T; DROP TABLE canary"', ('Sch "x"', "T; DROP TABLE canary")),
    ('"a"."b"', ("a", "b")),
    ("a.b2", ("a", "b2")),
    ('"../../etc/x"', ("public", "../../etc/x")),
    ("/", ("public", "/")),
    ('"a/../../b"', ("public", "a/../../b")),
    ('".."', ("public", "..")),
    ('"a"."../../x"', ("a", "../../x")),
    ("-rf", ("public", "-rf")),
    (" lead", ("public", " lead")),
]

REFUSED = [
    ("", 2, "empty name"),
    ("   ", 2, "blank name"),
    ("\t", 2, "blank name"),
    ("nul\x00byte", 2, "NUL"),
    ("x" * 64, 2, "longer than 63 bytes"),
    ("é" * 32, 2, "longer than 63 bytes"),
    ("a.b.c", 2, "expected [schema.]table"),
    ("../../etc/x", 2, "expected [schema.]table"),
    ("..", 2, "expected [schema.]table"),
    ('"unterminated', 2, "unterminated double quote"),
    ('"a"x', 2, "expected '.' after a quoted name"),
    ("a.", 2, "empty name"),
    (".a", 2, "empty name"),
    ('"".t', 2, "empty name"),
    ("nosuchschema.t", 1, 'schema "nosuchschema" does not exist'),
    ("pg_catalog.x", 1, "permission denied"),
    ('pg_temp."x; DROP TABLE canary"', 2, "temporary"),
]


def _import(capsys: pytest.CaptureFixture[str], db: Db, data: Path, table: str) -> tuple[int, str]:
    code, _, err = run(
        capsys,
        "pgimport",
        "--connconfig",
        str(db.config_path),
        "--import_file",
        str(data),
        f"--table={table}",
        "--quiet",
    )
    return code, err


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "in" / "data.csv"
    path.parent.mkdir()
    path.write_text(DATA, encoding="utf-8")
    return path


@pytest.mark.parametrize(("table", "expected"), CREATED, ids=[repr(c[0]) for c in CREATED])
def test_import_and_export_create_exactly_the_named_table(
    figures: Figures,
    db: Db,
    data_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    table: str,
    expected: tuple[str, str],
) -> None:
    before = db.snapshot()
    code, err = _import(capsys, db, data_file, table)
    assert code == 0, err
    schema, name = expected
    assert db.snapshot() - before == {("rel", schema, name, "r")}
    assert before - db.snapshot() == set()
    assert db.rows(schema, name) == [("1", "alice"), ("2", "bob")]
    assert db.canary_ok()
    try:
        # Export back with the default file name: it lands in the working directory only.
        work = tmp_path / "a" / "b" / "work"
        work.mkdir(parents=True)
        monkeypatch.chdir(work)
        outside = files_under(tmp_path)
        code, out, err = run(
            capsys, "pgexport", "--connconfig", str(db.config_path), f"--table={table}"
        )
        assert code == 0, err
        new = files_under(tmp_path) - outside
        assert {p.parent for p in new} == {work}, new
        csv_files = [p for p in new if p.suffix == ".csv"]
        assert len(csv_files) == 1
        assert len(new) == 2  # the CSV and its .pgexport.yaml
        assert "/" not in csv_files[0].name
        assert not csv_files[0].name.startswith(".")
        assert csv_files[0].read_text(encoding="utf-8") == DATA
        assert str(csv_files[0].name) in out
        assert db.snapshot() == before | {("rel", schema, name, "r")}
        _count(figures, "created_as_named")
    finally:
        db.drop(schema, name)


@pytest.mark.parametrize(
    ("table", "status", "fragment"), REFUSED, ids=[repr(c[0]) for c in REFUSED]
)
def test_import_and_export_refuse_bad_names_cleanly(
    figures: Figures,
    db: Db,
    data_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    table: str,
    status: int,
    fragment: str,
) -> None:
    before = db.snapshot()
    code, err = _import(capsys, db, data_file, table)
    assert (code, fragment in err) == (status, True), err
    assert err.startswith("pgmonkey: error: ")
    assert db.snapshot() == before
    assert db.canary_ok()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    outside = files_under(tmp_path)
    code, _, err = run(capsys, "pgexport", "--connconfig", str(db.config_path), f"--table={table}")
    assert code in (1, 2), err
    if code == 2:  # the name itself is bad: same message as pgimport
        assert fragment in err
    else:  # a well-formed name the server does not know
        assert "does not exist" in err
    assert files_under(tmp_path) == outside
    assert db.snapshot() == before
    _count(figures, f"refused_exit_{status}")


def test_names_differing_only_by_case_are_different_tables(
    db: Db, data_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = db.snapshot()
    for table in ("casey", "Casey", "CASEY"):
        assert _import(capsys, db, data_file, table)[0] == 0
    created = db.snapshot() - before
    assert created == {("rel", "public", n, "r") for n in ("casey", "Casey", "CASEY")}
    for n in ("casey", "Casey", "CASEY"):
        assert len(db.rows("public", n)) == 2
        db.drop("public", n)


def test_dotted_name_and_schema_table_are_not_confused(
    db: Db, data_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = db.snapshot()
    assert _import(capsys, db, data_file, '"a.b3"')[0] == 0
    assert _import(capsys, db, data_file, "a.b3")[0] == 0
    assert db.snapshot() - before == {("rel", "public", "a.b3", "r"), ("rel", "a", "b3", "r")}
    # Appending to one never touches the other.
    assert _import(capsys, db, data_file, "a.b3")[0] == 0
    assert len(db.rows("a", "b3")) == 4
    assert len(db.rows("public", "a.b3")) == 2
    db.drop("public", "a.b3")
    db.drop("a", "b3")


def test_hostile_header_cells_become_safe_column_names(
    db: Db, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "hdr.csv"
    long_cell = "é" * 40  # 80 bytes
    header = [
        '"x""; DROP TABLE canary; --"',
        "a b",
        "",
        '";"',
        "Ünï",
        "1st",
        "a b",
        "/* c */",
        "back\\slash",
        long_cell,
    ]
    data.write_text(",".join(header) + "\n" + ",".join(str(i) for i in range(10)) + "\n")
    before = db.snapshot()
    code, err = _import(capsys, db, data, "hdr")
    assert code == 0, err
    assert db.snapshot() - before == {("rel", "public", "hdr", "r")}
    assert db.columns("public", "hdr") == [
        "x_drop_table_canary",
        "a_b",
        "column_3",
        "column_4",
        "ünï",
        "col_1st",
        "a_b_2",
        "c",
        "back_slash",
        "é" * 31,  # cut at 63 bytes on a character boundary
    ]
    assert db.rows("public", "hdr") == [tuple(str(i) for i in range(10))]
    assert db.canary_ok()
    db.drop("public", "hdr")


def test_existing_columns_with_hostile_names_are_matched_as_written(
    db: Db, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile = ['x"; DROP TABLE canary; --', "Mixed Case", "a,b"]
    db.execute(
        sql.SQL("CREATE TABLE public.cols ({})").format(
            sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in hostile)
        )
    )
    data = tmp_path / "cols.csv"
    data.write_text('"x""; DROP TABLE canary; --","Mixed Case","a,b"\n1,2,3\n', encoding="utf-8")
    before = db.snapshot()
    code, err = _import(capsys, db, data, "cols")
    assert code == 0, err
    assert db.snapshot() == before
    assert db.rows("public", "cols") == [("1", "2", "3")]
    # An unknown hostile header cell is named in the error; nothing is imported.
    data.write_text('"y""; DROP TABLE canary; --"\n1\n', encoding="utf-8")
    code, err = _import(capsys, db, data, "cols")
    assert code == 1
    assert "'y\"; DROP TABLE canary; --'" in err
    assert "nothing was imported" in err
    assert db.rows("public", "cols") == [("1", "2", "3")]
    assert db.canary_ok()
    db.drop("public", "cols")


def test_failed_import_into_a_hostile_new_table_leaves_nothing(
    db: Db, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "bad.csv"
    data.write_text("id,name\n1,alice\n2,bob,extra\n", encoding="utf-8")
    before = db.snapshot()
    code, err = _import(capsys, db, data, '"we.ird"."new; DROP TABLE canary"')
    assert code == 1
    assert "line 3" in err
    assert "Nothing was imported" in err
    assert db.snapshot() == before
    assert db.canary_ok()


def test_export_query_runs_as_given_read_only(
    db: Db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--query`` is SQL on purpose; it runs read-only and a failure writes no file."""
    monkeypatch.chdir(tmp_path)
    before = db.snapshot()
    for query in (
        "SELECT 1; DROP TABLE canary",
        "WITH d AS (DELETE FROM canary RETURNING *) SELECT * FROM d",
        "SELECT * FROM canary; --",
    ):
        code, _, err = run(
            capsys,
            "pgexport",
            "--connconfig",
            str(db.config_path),
            "--query",
            query,
            "--export_file",
            "out.csv",
            "--overwrite",
        )
        assert db.canary_ok(), query
        if code == 0:  # a plain read (the trailing ';' and comment are harmless)
            assert (tmp_path / "out.csv").read_text() == "x\n1\n"
        else:
            assert code == 1, err
            assert "no file was written" in err
    assert db.snapshot() == before


def test_export_help_says_query_is_sql(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "pgexport", "--help")
    assert code == 0
    text = " ".join(out.split())
    assert "exactly one SELECT, VALUES, TABLE or WITH query" in text
    assert "It is SQL: never build it from untrusted input." in text


# -- pgserverconfig: names in pg_hba.conf lines, parsed by the server itself --------------

HBA_NAMES = [
    ("app user", "my db"),
    ('o"brien', 'x"; DROP DATABASE postgres; --'),
    ("#notacomment", "db#x"),
    ("+group", "@file"),
    ("all", "replication"),
    ("sameuser", "samerole"),
    ("ünï", "表"),
    ("back\\slash", "a,b"),
]


def _hba_rules(server: PostgresServer, lines: list[str]) -> list[tuple[Any, ...]]:
    """Parse ``lines`` with the server's pg_hba.conf parser (the running config is kept)."""
    hba = server.datadir / "pg_hba.conf"
    original = hba.read_bytes()
    try:
        hba.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return server.execute(
            "SELECT database, user_name, error FROM pg_hba_file_rules ORDER BY line_number"
        )
    finally:
        hba.write_bytes(original)


@pytest.mark.parametrize(("user", "dbname"), HBA_NAMES, ids=[repr(n) for n in HBA_NAMES])
def test_pgserverconfig_quotes_names_in_pg_hba_lines(
    fault_server: PostgresServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    user: str,
    dbname: str,
) -> None:
    settings = {"host": "127.0.0.1", "user": user, "dbname": dbname, "sslmode": "disable"}
    cfg = {"connection_settings": settings}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    code, out, err = run(capsys, "pgserverconfig", "--connconfig", str(path), "--json")
    assert code == 0, err
    lines = [h["line"] for h in json.loads(out)["pg_hba_conf"]]
    assert lines
    rules = _hba_rules(fault_server, lines)
    assert len(rules) == len(lines)
    for (database, user_name, error), line in zip(rules, lines, strict=True):
        assert error is None
        assert (database, user_name) == ([dbname], [user])
        # The view cannot tell the keyword all from a role named "all": the line must quote
        # keywords and the +group / @file prefixes so they stay plain names.
        for name in (user, dbname):
            if name in ("all", "replication", "sameuser", "samerole") or name[0] in "+@":
                assert f' "{name}" ' in f" {line} "


@pytest.mark.parametrize(
    ("key", "value"),
    [("user", "x\nhost all all 0.0.0.0/0 trust"), ("dbname", "d\rhost all all ::/0 trust")],
)
def test_pgserverconfig_refuses_names_that_would_break_a_pg_hba_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str, value: str
) -> None:
    cfg = {"connection_settings": {"host": "127.0.0.1", "user": "u", key: value}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    code, out, err = run(capsys, "pgserverconfig", "--connconfig", str(path))
    assert code == 2
    assert out == ""
    assert f"connection_settings.{key}" in err
    assert "line break" in err
    assert "trust" not in out


def test_pgserverconfig_audit_refuses_a_role_name_that_would_break_a_pg_hba_line(
    db: Db, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real role whose name holds a line break: the audit connects, then refuses (exit 2)."""
    role = "x\nhost all all 0.0.0.0/0 trust"
    password = secrets.token_urlsafe(12)
    db.execute(
        sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(role), sql.Literal(password)
        )
    )
    try:
        cfg = db.server.config(dbname=db.name)
        cfg["connection_settings"].update(user=role, password=password)
        path = tmp_path / "c.yaml"
        path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
        code, out, err = run(capsys, "pgserverconfig", "--connconfig", str(path), "--audit")
        assert code == 2, err
        assert out == ""
        assert "connection_settings.user" in err
        assert "line break" in err
    finally:
        db.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


# -- sandbox: role and database names -----------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        ({"user": "pg_monkey"}, "reserved"),
        ({"user": "u" * 64}, "longer than 63 bytes"),
        ({"dbname": "é" * 32}, "longer than 63 bytes"),
        ({"user": "   "}, "blank"),
        ({"dbname": " \t"}, "blank"),
        ({"user": "nul\x00"}, "NUL"),
        ({"dbname": "d\x00; DROP DATABASE postgres"}, "NUL"),
    ],
)
def test_sandbox_refuses_names_it_could_not_create_as_written(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    settings: dict[str, str],
    fragment: str,
) -> None:
    connection = {"host": "127.0.0.1", "port": 1, "user": "app", "password": "pw", **settings}
    path = tmp_path / "sb.yaml"
    path.write_text(yaml.safe_dump({"connection_settings": connection}), encoding="utf-8")
    data_dir = tmp_path / "sandboxes"
    data_dir.mkdir()
    code, _, err = run(
        capsys, "sandbox", "start", "--data-dir", str(data_dir), "--connconfig", str(path)
    )
    assert code == 2, err
    assert fragment in err
    key = next(iter(settings))
    assert f"connection_settings.{key}" in err
    assert list(data_dir.iterdir()) == []


# -- generate-code: only the config path is embedded ---------------------------------------


@pytest.mark.parametrize("library", ["pgmonkey", "psycopg"])
def test_generate_code_embeds_a_hostile_path_as_a_literal(
    fault_server: PostgresServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    library: str,
) -> None:
    directory = tmp_path / "q'uo\"te __TYPE__ __MANAGER_ARGS__ \\n"
    directory.mkdir()
    path = directory / "c'; import os; os.system('x') #.yaml"
    path.write_text(yaml.safe_dump(fault_server.config()), encoding="utf-8")
    code, out, err = run(
        capsys, "pgconfig", "generate-code", "--connconfig", str(path), "--library", library
    )
    assert code == 0, err
    tree = ast.parse(out)
    literals = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    assert str(path) in literals
    calls = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    assert "system" not in calls


# -- the library: session setting names ---------------------------------------------------


@pytest.mark.parametrize(
    "name", ["work_mem\n", "x=1 -c y", "a b", "search_path; DROP TABLE canary", "", "é"]
)
def test_session_setting_names_are_validated_before_connecting(
    fault_server: PostgresServer, db: Db, name: str
) -> None:
    cfg = fault_server.config(dbname=db.name)
    cfg["sync_settings"] = {name: "1"}
    with pytest.raises(ConfigValidationError) as info:
        load_config(cfg)
    assert "sync_settings" in str(info.value)
    assert db.canary_ok()


def test_fixture_server_is_usable_after_hba_checks(db: Db) -> None:
    """The pg_hba.conf experiments never touched the running configuration."""
    with contextlib.closing(
        psycopg.connect(
            **{
                k: v
                for k, v in load_config(db.config_path)["connection_settings"].items()
                if k != "autocommit"
            }
        )
    ) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
