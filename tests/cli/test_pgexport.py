"""``pgmonkey pgexport`` against a real server, and the export -> import round trip."""

from __future__ import annotations

import pytest
import yaml

from tests.cli.conftest import TransferEnv

ROUND_TRIP_TABLE = """
CREATE TABLE {name} (
    id int PRIMARY KEY,
    t text,
    n numeric,
    ts timestamptz,
    b bytea,
    j json,
    jb jsonb,
    arr int[],
    tarr text[]
)
"""

ROUND_TRIP_ROWS = """
INSERT INTO src VALUES
 (1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (2, '', 0, '2024-02-29 23:59:59.123456+05:30', '\\x', '{}', '[]', '{}', '{}'),
 (3, 'comma, "quote", ''single'', semi; tab\t pipe|', -123456789.000000001,
     '1999-12-31 00:00:00+00', '\\x00ff0a0d22', '{"a": [1, "x,y"], "k": null}',
     '{"nested": {"q": "\\"", "nl": "a\\nb"}}', '{1,NULL,-3}', '{"a,b","","NULL",NULL}'),
 (4, e'line1\\nline2\\r\\nline3\\rend', 1e-20, '-infinity', '\\x5c2e', 'null', '"str"',
     '{{1,2},{3,4}}', '{"\\\\."}'),
 (5, 'unicode: é ü 漢字 🐒 ‮', 'NaN', 'infinity', NULL, '[1, 2.50]', '{"€": 1}', NULL, '{}'),
 (6, '\\.', 42, now(), '\\x2c', '""', '0', '{}', '{"\\\\.", ",", "\\""}'),
 (7, '"', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (8, 'NULL', NULL, NULL, NULL, NULL, NULL, NULL, NULL)
"""


def _export(env: TransferEnv, *args: str):  # type: ignore[no-untyped-def]
    return env.run("pgexport", "--connconfig", str(env.config_path), *args)


def _same_tables(env: TransferEnv, a: str, b: str) -> bool:
    """Whole rows compared in their text form (NULL vs "" and json text included)."""
    query = "SELECT string_agg(x::text, E'\\n' ORDER BY id) FROM {} x"
    left = env.sql(query.format(a))[0][0]
    right = env.sql(query.format(b))[0][0]
    assert left is not None
    assert left == right
    return True


def _round_trip_source(env: TransferEnv) -> None:
    env.sql(ROUND_TRIP_TABLE.format(name="src"))
    env.sql(ROUND_TRIP_ROWS)


@pytest.mark.parametrize(
    "options",
    [
        [],
        ["--delimiter", ";", "--quote", "'"],
        ["--delimiter", "\\t", "--null", "\\N", "--no-header"],
        ["--encoding", "utf-16"],
        ["--encoding", "utf-8-sig", "--delimiter", "|"],
    ],
    ids=["default", "semicolon-single-quote", "tab-null-noheader", "utf16", "bom-pipe"],
)
def test_round_trip_is_exact(transfer_env: TransferEnv, options: list[str]) -> None:
    _round_trip_source(transfer_env)
    transfer_env.sql(ROUND_TRIP_TABLE.format(name="dst"))
    result = _export(transfer_env, "--table", "src", "--export-file", "rt.csv", *options)
    assert result.returncode == 0, result.stderr
    assert "Exported 8 rows" in result.stdout
    imported = transfer_env.run(
        "pgimport", "--import_file", "rt.csv", "--table", "dst",
        "--connconfig", str(transfer_env.config_path), *options,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    assert "Imported 8 rows" in imported.stdout
    assert _same_tables(transfer_env, "src", "dst")


def test_round_trip_with_detection_only(transfer_env: TransferEnv) -> None:
    """No format flags on either side: the defaults and detection must agree."""
    _round_trip_source(transfer_env)
    transfer_env.sql(ROUND_TRIP_TABLE.format(name="dst"))
    assert _export(transfer_env, "--table", "public.src").returncode == 0
    assert (transfer_env.workdir / "src.csv").exists()
    imported = transfer_env.run(
        "pgimport", "--import_file", "src.csv", "--table", "dst",
        "--connconfig", str(transfer_env.config_path),
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    assert _same_tables(transfer_env, "src", "dst")


def test_null_and_empty_string_in_file(transfer_env: TransferEnv) -> None:
    transfer_env.sql("CREATE TABLE ne (id int, v text)")
    transfer_env.sql("INSERT INTO ne VALUES (1, NULL), (2, ''), (3, 'x')")
    assert _export(transfer_env, "--table", "ne").returncode == 0
    assert (transfer_env.workdir / "ne.csv").read_bytes() == b'id,v\n1,\n2,""\n3,x\n'


def test_default_names_never_collide_and_settings_written(transfer_env: TransferEnv) -> None:
    transfer_env.sql("CREATE SCHEMA sales")
    transfer_env.sql("CREATE TABLE public.people (n int)")
    transfer_env.sql("CREATE TABLE sales.people (n int)")
    transfer_env.sql('CREATE TABLE public."sales.people" (n int)')
    transfer_env.sql("INSERT INTO public.people VALUES (1)")
    transfer_env.sql("INSERT INTO sales.people VALUES (2)")
    transfer_env.sql('INSERT INTO public."sales.people" VALUES (3)')
    for table in ["public.people", "sales.people", 'public."sales.people"']:
        result = _export(transfer_env, "--table", table)
        assert result.returncode == 0, result.stderr
    files = {p.name: p.read_text() for p in transfer_env.workdir.glob("*.csv")}
    assert files == {
        "people.csv": "n\n1\n", "sales.people.csv": "n\n2\n", "sales%2Epeople.csv": "n\n3\n",
    }  # fmt: skip
    settings = yaml.safe_load((transfer_env.workdir / "people.pgexport.yaml").read_text())
    assert settings == {
        "encoding": "utf-8", "delimiter": ",", "quote": '"', "header": True, "null": "",
    }  # fmt: skip


def test_refuses_to_overwrite(transfer_env: TransferEnv) -> None:
    transfer_env.sql("CREATE TABLE o (n int)")
    (transfer_env.workdir / "o.csv").write_text("precious\n")
    result = _export(transfer_env, "--table", "o")
    assert result.returncode == 2
    assert "--overwrite" in result.stderr
    assert (transfer_env.workdir / "o.csv").read_text() == "precious\n"
    result = _export(transfer_env, "--table", "o", "--overwrite")
    assert result.returncode == 0, result.stderr
    assert (transfer_env.workdir / "o.csv").read_text() == "n\n"


def test_views_materialized_views_and_queries(transfer_env: TransferEnv) -> None:
    transfer_env.sql("CREATE TABLE base (n int)")
    transfer_env.sql("INSERT INTO base SELECT generate_series(1, 5)")
    transfer_env.sql("CREATE VIEW v AS SELECT n FROM base WHERE n > 3")
    transfer_env.sql("CREATE MATERIALIZED VIEW mv AS SELECT n * 10 AS m FROM base WHERE n < 3")
    assert _export(transfer_env, "--table", "v").returncode == 0
    assert _export(transfer_env, "--table", "mv").returncode == 0
    result = _export(
        transfer_env, "--query", "SELECT n, n * n AS sq FROM base WHERE n = 2;",
        "--export_file", "q.csv",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (transfer_env.workdir / "v.csv").read_text() == "n\n4\n5\n"
    assert (transfer_env.workdir / "mv.csv").read_text() == "m\n10\n20\n"
    assert (transfer_env.workdir / "q.csv").read_text() == "n,sq\n2,4\n"


def test_query_export_is_read_only(transfer_env: TransferEnv) -> None:
    transfer_env.sql("CREATE TABLE keep (n int)")
    result = _export(
        transfer_env, "--query", "DELETE FROM keep RETURNING *", "--export_file", "d.csv"
    )
    assert result.returncode == 1
    assert "read-only" in result.stderr


def test_failures_leave_no_file(transfer_env: TransferEnv) -> None:
    result = _export(transfer_env, "--table", "nosuch")
    assert result.returncode == 1
    assert "does not exist" in result.stderr
    result = _export(
        transfer_env, "--query", "SELECT 1 / (n - 3000) FROM generate_series(1, 5000) n",
        "--export_file", "z.csv",
    )  # fmt: skip
    assert result.returncode == 1
    assert "division by zero" in result.stderr
    assert sorted(p.name for p in transfer_env.workdir.iterdir()) == []


def test_query_needs_export_file(transfer_env: TransferEnv) -> None:
    result = _export(transfer_env, "--query", "SELECT 1")
    assert result.returncode == 2
    assert "--export_file" in result.stderr


def test_unencodable_character_fails_cleanly(transfer_env: TransferEnv) -> None:
    transfer_env.sql("CREATE TABLE u (t text)")
    transfer_env.sql("INSERT INTO u VALUES ('漢')")
    result = _export(transfer_env, "--table", "u", "--encoding", "latin-1")
    assert result.returncode == 1
    assert not (transfer_env.workdir / "u.csv").exists()


AWKWARD_TABLE = """
CREATE TABLE awkward (
    id int,
    t text,
    twice int GENERATED ALWAYS AS (id * 2) STORED,
    gone int,
    ts timestamptz
);
ALTER TABLE awkward DROP COLUMN gone;
INSERT INTO awkward (id, t, ts)
SELECT i, CASE WHEN i % 7 = 0 THEN NULL WHEN i % 11 = 0 THEN '' ELSE repeat('x,"y"', 3) END,
       '2024-01-01 00:00:00+00'::timestamptz + i * interval '1 minute'
FROM generate_series(1, 3000) AS i;
DELETE FROM awkward WHERE id % 5 = 0;
UPDATE awkward SET t = 'updated' WHERE id % 13 = 0;
CREATE TABLE awkward_child (extra int) INHERITS (awkward);
INSERT INTO awkward_child (id, t) VALUES (-1, 'only in the child: COPY awkward TO leaves it out');
"""


def test_table_export_writes_exactly_what_copy_writes(transfer_env: TransferEnv) -> None:
    """Generated and dropped columns, dead rows and a child table: byte for byte ``COPY``."""
    transfer_env.sql(AWKWARD_TABLE)
    with transfer_env.connect() as conn, conn.cursor() as cur:
        expected = bytearray()
        with cur.copy("COPY awkward TO STDOUT WITH (FORMAT csv, HEADER true)") as copy:
            for data in copy:
                expected += data
    result = _export(transfer_env, "--table", "awkward")
    assert result.returncode == 0, result.stderr
    written = (transfer_env.workdir / "awkward.csv").read_bytes()
    assert written == bytes(expected)
    assert written.startswith(b"id,t,ts\n")  # generated and dropped columns left out
    assert b"only in the child" not in written
    assert "Exported 2,400 rows" in result.stdout
