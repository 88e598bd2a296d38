"""``pgmonkey pgimport`` against a real server, driven as a subprocess."""

# ruff: noqa: RUF001 (Cyrillic, Greek and Turkish test text is meant)

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli.conftest import TransferEnv


def _import(env: TransferEnv, name: str, data: bytes, table: str, *extra: str):  # type: ignore[no-untyped-def]
    path = env.workdir / name
    path.write_bytes(data)
    return env.run(
        "pgimport", "--import_file", str(path), "--table", table,
        "--connconfig", str(env.config_path), *extra,
    )  # fmt: skip


def _table_exists(env: TransferEnv, name: str) -> bool:
    return bool(env.sql("SELECT to_regclass(%s) IS NOT NULL", [name])[0][0])


def _assert_refused(env: TransferEnv, result: Any, status: int, message: str, table: str) -> None:
    """Refused by detection: the message, no table, no settings file."""
    assert result.returncode == status, result.stderr
    assert message in result.stderr
    assert "Nothing was imported" in result.stderr
    assert not _table_exists(env, table)
    assert not list(env.workdir.glob("*.pgimport.yaml"))


def test_first_run_detects_writes_settings_and_imports(transfer_env: TransferEnv) -> None:
    data = b'id,Name,"Amount Paid"\n1,alice,"1,5"\n2,,""\n3,"multi\nline","say ""hi"""\n'
    result = _import(transfer_env, "people.csv", data, "people")
    assert result.returncode == 0, result.stderr
    settings = transfer_env.workdir / "people.pgimport.yaml"
    assert str(settings) in result.stdout or settings.name in result.stdout
    assert yaml.safe_load(settings.read_text()) == {
        "encoding": "utf-8", "delimiter": ",", "quote": '"', "header": True, "null": "",
    }  # fmt: skip
    assert "Imported 3 rows into public.people" in result.stdout
    rows = transfer_env.sql("SELECT id, name, amount_paid FROM people ORDER BY id")
    # unquoted empty -> NULL, quoted "" -> empty string
    assert rows == [("1", "alice", "1,5"), ("2", None, ""), ("3", "multi\nline", 'say "hi"')]


def test_hyphenated_flag_and_second_run_reads_settings(transfer_env: TransferEnv) -> None:
    path = transfer_env.workdir / "d.txt"
    path.write_bytes(b"a;b\n1;2\n")
    args = ["pgimport", "--import-file", str(path), "--table", "t", "--connconfig"]
    assert transfer_env.run(*args, str(transfer_env.config_path)).returncode == 0
    settings = transfer_env.workdir / "d.pgimport.yaml"
    assert yaml.safe_load(settings.read_text())["delimiter"] == ";"
    # Edit the settings file: the next run reads it (header: false imports the first line).
    text = settings.read_text().replace('"header": true', '"header": false')
    settings.write_text(text)
    result = transfer_env.run(*args, str(transfer_env.config_path), "--if-exists", "append")
    # header false + existing table (a, b): both lines go in by position
    assert result.returncode == 0, result.stderr
    assert transfer_env.sql("SELECT a, b FROM t ORDER BY a") == [
        ("1", "2"),
        ("1", "2"),
        ("a", "b"),
    ]


def test_flags_override_settings_file(transfer_env: TransferEnv) -> None:
    (transfer_env.workdir / "f.pgimport.yaml").write_text('delimiter: ";"\n')
    result = _import(
        transfer_env, "f.csv", b"a|b\n1|NA\n", "f", "--delimiter", "|", "--null", "NA"
    )
    assert result.returncode == 0, result.stderr
    assert transfer_env.sql("SELECT a, b FROM f") == [("1", None)]


def test_config_only_writes_settings_and_imports_nothing(transfer_env: TransferEnv) -> None:
    result = _import(transfer_env, "c.csv", b"x\ty\n1\t2\n", "c", "--config-only")
    assert result.returncode == 0, result.stderr
    assert (
        yaml.safe_load((transfer_env.workdir / "c.pgimport.yaml").read_text())["delimiter"] == "\t"
    )
    assert not _table_exists(transfer_env, "c")


TEXT = "name,city,n\nRenée,Zürich,1\nJosé,Córdoba,2\n"
RUSSIAN = (
    "имя,город,примечание,n\nИван Петров,Москва,Оплата получена,1\n"
    "Пётр Смирнов,Санкт-Петербург,Доставка задерживается,2\n"
    "Анна Кузнецова,Новосибирск,Перезвонить завтра утром,3\n"
    "Ольга Попова,Екатеринбург,Заказ отменён клиентом,4\n"
    "Сергей Васильев,Казань,Скидка для постоянного клиента,5\n"
)


@pytest.mark.parametrize(
    ("data", "expected_setting"),
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8-sig"),
        (TEXT.encode("utf-16"), "utf-16"),
        (TEXT.encode("utf-16-le"), "utf-16-le"),
        (TEXT.encode("utf-32"), "utf-32"),
        (RUSSIAN.encode("cp1251"), "cp1251"),
    ],
)
def test_encodings(transfer_env: TransferEnv, data: bytes, expected_setting: str) -> None:
    result = _import(transfer_env, "enc.csv", data, "enc")
    assert result.returncode == 0, result.stderr
    settings = yaml.safe_load((transfer_env.workdir / "enc.pgimport.yaml").read_text())
    assert settings["encoding"] == expected_setting
    text = data.decode(expected_setting)
    rows = [tuple(line.split(",")) for line in text.lstrip("\ufeff").splitlines()[1:]]
    columns = text.lstrip("\ufeff").splitlines()[0]
    assert transfer_env.sql(f"SELECT {columns} FROM enc ORDER BY n") == rows


def test_damaged_utf8_is_refused_not_read_as_cp1251(transfer_env: TransferEnv) -> None:
    # The file: once "encoding cp1251 (by chardet, confidence 0.06)", exit 0, and
    # café stored as cafГ©.
    data = b"id,name\n1,caf\xc3\xa9\n2,na\xc3\xafve \xe2\x80\x94 \xe2\x80\x9cq\xe2\x80\x9d\n"
    data += b"3,bad\xff byte\n4,Zo\xc3\xab\n"
    result = _import(transfer_env, "m.csv", data, "moj")
    _assert_refused(transfer_env, result, 1, "damaged UTF-8: line 4, byte offset 42 (ff)", "moj")


def test_stray_bytes_in_ascii_are_refused(transfer_env: TransferEnv) -> None:
    # Once read as cp1252 (or iso8859-13), exit 0.
    result = _import(transfer_env, "ff.csv", b"a,b\n1,x\n2,\xff\xfeplain\n", "ff")
    _assert_refused(transfer_env, result, 2, "line 3, byte offset 10 (ff)", "ff")
    assert "--encoding (candidates: " in result.stderr


def test_western_code_page_needs_encoding(transfer_env: TransferEnv) -> None:
    data = (TEXT + "Euro,€ “quoted”,3\n").encode("cp1252")
    result = _import(transfer_env, "w.csv", data, "w")
    _assert_refused(transfer_env, result, 2, "below 0.4", "w")
    assert "cp1252" in result.stderr.split("candidates:")[1]
    result = _import(transfer_env, "w.csv", data, "w", "--encoding", "cp1252")
    assert result.returncode == 0, result.stderr
    assert transfer_env.sql("SELECT name, city FROM w ORDER BY n") == [
        ("Renée", "Zürich"), ("José", "Córdoba"), ("Euro", "€ “quoted”"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("data", "encoding", "where"),
    [
        (b"v\nok\n\xe7a\n", "utf-8", "line 3, byte offset 5 (e7)"),  # in the sample
        ("v\nok\n".encode("utf-16-le"), "utf-16", "line 1, byte offset 0"),  # no BOM
        (b"v\n\x81\n", "cp1252", "line 2, byte offset 2 (81)"),  # undefined in cp1252
        ("v\n".encode("utf-16") + b"\x00\xd8a\x00", "utf-16", "line 2, byte offset 6"),
    ],
)
def test_explicit_encoding_errors_name_line_and_offset(
    transfer_env: TransferEnv, data: bytes, encoding: str, where: str
) -> None:
    result = _import(transfer_env, "x.csv", data, "x", "--encoding", encoding, "--header")
    assert result.returncode == 1, result.stderr
    assert where in result.stderr
    assert "unexpected" not in result.stderr
    assert not _table_exists(transfer_env, "x")


def test_explicit_encoding_flag_latin1(transfer_env: TransferEnv) -> None:
    result = _import(
        transfer_env, "l.csv", "v\nçà\n".encode("latin-1"), "l", "--encoding", "LATIN1",
        "--header",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert transfer_env.sql("SELECT v FROM l") == [("çà",)]


def test_invalid_bytes_after_sample_abort_with_line(transfer_env: TransferEnv) -> None:
    lines = [b"id,v"] + [b"%d,plain ascii value" % i for i in range(5000)]
    lines.insert(4001, b"4000,caf\xe9")  # latin-1 byte, far past the detection sample
    result = _import(transfer_env, "bad.csv", b"\n".join(lines) + b"\n", "bad")
    assert result.returncode == 1
    assert "line 4002, byte offset 90903 (e9): not valid utf-8" in result.stderr
    assert "--encoding" in result.stderr
    assert not _table_exists(transfer_env, "bad")  # CREATE TABLE rolled back too


def test_invalid_utf16_bytes_abort_with_line(transfer_env: TransferEnv) -> None:
    data = "a\nok\nok\n".encode("utf-16") + b"\x00\xd8\x41\x00\n\x00"  # lone surrogate, line 4
    result = _import(transfer_env, "u16.csv", data, "u16")
    assert result.returncode == 1
    assert "line 4" in result.stderr
    assert "utf-16" in result.stderr
    assert not _table_exists(transfer_env, "u16")


def _rows(n: int) -> list[bytes]:
    return [b"%d,name %d" % (i, i) for i in range(1, n + 1)]


@pytest.mark.parametrize("position", ["start", "middle", "end"])
@pytest.mark.parametrize(("bad", "problem"), [(b"7,x,extra", "too many"), (b"7", "too few")])
def test_malformed_row_aborts_everything(
    transfer_env: TransferEnv, position: str, bad: bytes, problem: str
) -> None:
    transfer_env.sql("CREATE TABLE m (id int, name text)")
    transfer_env.sql("INSERT INTO m VALUES (0, 'kept')")
    rows = _rows(300)
    index = {"start": 0, "middle": 150, "end": 300}[position]
    rows.insert(index, bad)
    data = b"id,name\n" + b"\n".join(rows) + b"\n"
    result = _import(transfer_env, "m.csv", data, "m")
    assert result.returncode == 1
    assert f"line {index + 2}:" in result.stderr
    assert problem in result.stderr
    assert "Nothing was imported" in result.stderr
    assert transfer_env.sql("SELECT id, name FROM m") == [(0, "kept")]


def test_ragged_row_is_not_imported_as_one_column(transfer_env: TransferEnv) -> None:
    # docs/examples/import-export/malformed.csv: once detected as delimiter ';' and imported
    # silently as a single "id_name_email" column.
    data = (
        b"id,name,email\n1,Ada Lovelace,ada@example.com\n"
        b"2,Grace Hopper,grace@example.com,extra\n3,Alan Turing,alan@example.com\n"
    )
    result = _import(transfer_env, "malformed.csv", data, "malformed")
    assert result.returncode == 1, result.stderr
    assert "delimiter ','" in result.stdout + result.stderr
    assert "line 3:" in result.stderr
    assert "too many" in result.stderr
    assert "Nothing was imported" in result.stderr
    assert not _table_exists(transfer_env, "malformed")


def test_type_rejection_names_line_and_column(transfer_env: TransferEnv) -> None:
    transfer_env.sql("CREATE TABLE typed (id int, amount numeric)")
    data = b'amount,id\n1.5,1\n"2.5\n",2\nabc,3\n'
    result = _import(transfer_env, "typed.csv", data, "typed")
    assert result.returncode == 1
    # the bad value is on physical line 5 (line 3-4 hold one record with a newline inside)
    assert 'line 5, column amount: invalid input syntax for type numeric: "abc"' in result.stderr
    assert transfer_env.sql("SELECT count(*) FROM typed") == [(0,)]


def test_error_in_multiline_record_reports_its_first_line(transfer_env: TransferEnv) -> None:
    transfer_env.sql("CREATE TABLE ml (n int, t text)")
    data = b'n,t\n1,a\nx,"b\nc\nd"\n'
    result = _import(transfer_env, "ml.csv", data, "ml")
    assert result.returncode == 1
    assert "line 3, column n" in result.stderr, result.stderr


def test_unterminated_quote(transfer_env: TransferEnv) -> None:
    result = _import(transfer_env, "uq.csv", b'a,b\n1,2\n3,"open\n4,5\n', "uq")
    assert result.returncode == 1
    assert "line 3" in result.stderr
    assert "unterminated" in result.stderr


def test_two_column_file_with_quoted_comma(transfer_env: TransferEnv) -> None:
    data = b'name,address\nBob,"12 Main St, Springfield"\nAmy,"PO Box 1, ""Z"""\n'
    result = _import(transfer_env, "two.csv", data, "two", "--header")
    assert result.returncode == 0, result.stderr
    assert transfer_env.sql("SELECT * FROM two") == [
        ("Bob", "12 Main St, Springfield"), ("Amy", 'PO Box 1, "Z"'),
    ]  # fmt: skip


def test_single_column_file_keeps_every_value(transfer_env: TransferEnv) -> None:
    # `\.` alone on a line is PostgreSQL's end-of-data marker: it must not cut the import
    data = b'word\nalpha\n\\.\n"a, b"\n\nomega\n'
    result = _import(transfer_env, "one.csv", data, "one", "--header")
    assert result.returncode == 0, result.stderr
    assert "Imported 5 rows" in result.stdout
    rows = transfer_env.sql("SELECT word FROM one")
    assert rows == [("alpha",), ("\\.",), ("a, b",), (None,), ("omega",)]


def test_header_only_file_creates_empty_table(transfer_env: TransferEnv) -> None:
    result = _import(transfer_env, "h.csv", b"a,b,c\n", "h", "--header")
    assert result.returncode == 0, result.stderr
    assert transfer_env.sql("SELECT count(*) FROM h") == [(0,)]
    cols = transfer_env.sql(
        "SELECT attname FROM pg_attribute WHERE attrelid = 'h'::regclass AND attnum > 0 "
        "ORDER BY attnum"
    )
    assert cols == [("a",), ("b",), ("c",)]


def test_empty_file(transfer_env: TransferEnv) -> None:
    result = _import(transfer_env, "e.csv", b"", "e")
    assert result.returncode == 1
    assert "does not exist" in result.stderr
    assert "empty" in result.stderr
    transfer_env.sql("CREATE TABLE e2 (a text)")
    transfer_env.sql("INSERT INTO e2 VALUES ('old')")
    result = _import(transfer_env, "e2.csv", b"", "e2", "--truncate")
    assert result.returncode == 0, result.stderr
    assert transfer_env.sql("SELECT count(*) FROM e2") == [(0,)]


def test_hostile_table_name_and_header(transfer_env: TransferEnv) -> None:
    transfer_env.sql("CREATE TABLE victim (a int)")
    hostile = 'x"; DROP TABLE victim; --'
    table = 'public."' + hostile.replace('"', '""') + '"'
    data = b'"a""); DROP TABLE victim; --",b\n1,2\n'
    result = _import(transfer_env, "h.csv", data, table)
    assert result.returncode == 0, result.stderr
    assert _table_exists(transfer_env, "victim")
    cols = transfer_env.sql(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 "
        "ORDER BY attnum",
        [table],
    )
    assert cols == [("a_drop_table_victim",), ("b",)]
    assert transfer_env.sql(f"SELECT * FROM {table}") == [("1", "2")]


def test_bad_table_names_are_usage_errors(transfer_env: TransferEnv) -> None:
    for table in ["a.b.c", '"unterminated', "", "s."]:
        result = _import(transfer_env, "x.csv", b"a\n1\n", table)
        assert result.returncode == 2, (table, result.stderr)
        assert "--table" in result.stderr


def test_existing_table_subset_any_order_with_serial(transfer_env: TransferEnv) -> None:
    transfer_env.sql(
        "CREATE TABLE s (id serial PRIMARY KEY, name text NOT NULL, note text, "
        "created date DEFAULT '2020-01-01')"
    )
    result = _import(transfer_env, "s.csv", b"Note,name\nn1,a\n,b\n", "s")
    assert result.returncode == 0, result.stderr
    assert transfer_env.sql("SELECT id, name, note, created::text FROM s ORDER BY id") == [
        (1, "a", "n1", "2020-01-01"), (2, "b", None, "2020-01-01"),
    ]  # fmt: skip


def test_unknown_and_missing_columns_are_reported(transfer_env: TransferEnv) -> None:
    transfer_env.sql("CREATE TABLE k (id int NOT NULL, name text)")
    result = _import(transfer_env, "k.csv", b"id,nmae\n1,a\n", "k")
    assert result.returncode == 1
    assert "'nmae'" in result.stderr
    assert "id, name" in result.stderr
    result = _import(transfer_env, "k2.csv", b"name\na\n", "k")
    assert result.returncode == 1
    assert "required column(s) id" in result.stderr


def test_truncate_is_atomic(transfer_env: TransferEnv) -> None:
    transfer_env.sql("CREATE TABLE tr (n int)")
    transfer_env.sql("INSERT INTO tr VALUES (1), (2)")
    result = _import(transfer_env, "tr.csv", b"n\n5\noops\n", "tr", "--truncate")
    assert result.returncode == 1
    assert transfer_env.sql("SELECT n FROM tr ORDER BY n") == [(1,), (2,)]
    result = _import(transfer_env, "tr2.csv", b"n\n5\n6\n", "tr", "--if-exists", "truncate")
    assert result.returncode == 0, result.stderr
    assert transfer_env.sql("SELECT n FROM tr ORDER BY n") == [(5,), (6,)]


def test_if_exists_fail(transfer_env: TransferEnv) -> None:
    transfer_env.sql("CREATE TABLE f (n int)")
    result = _import(transfer_env, "f.csv", b"n\n1\n", "f", "--if-exists", "fail")
    assert result.returncode == 1
    assert "already exists" in result.stderr
    assert transfer_env.sql("SELECT count(*) FROM f") == [(0,)]


def test_infer_types(transfer_env: TransferEnv) -> None:
    # timestamptz text depends on the session's TimeZone: take the server's own spelling
    tstz = [
        transfer_env.sql("SELECT format('%%s', %s::timestamptz)", [v])[0][0]
        for v in ("2024-01-01 10:00:00+02", "2024-01-01 10:00:00.25Z")
    ]
    data = (
        b"i,big,num,flag,day,ts,tstz,zip,txt\n"
        b"1,9000000000,1.50,t,2024-02-29,2024-01-01 10:00:00,%s,007,a\n"
        b",1,2.25,f,2024-03-01,2024-01-02 11:30:00.5,%s,123,\n"
    ) % (tstz[0].encode(), tstz[1].encode())
    result = _import(transfer_env, "types.csv", data, "types", "--infer-types")
    assert result.returncode == 0, result.stderr
    types = transfer_env.sql(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = 'types'::regclass AND attnum > 0 ORDER BY attnum"
    )
    assert dict(types) == {
        "i": "integer", "big": "bigint", "num": "numeric", "flag": "boolean", "day": "date",
        "ts": "timestamp without time zone", "tstz": "timestamp with time zone",
        "zip": "text", "txt": "text",
    }  # fmt: skip
    assert transfer_env.sql("SELECT zip, num::text FROM types ORDER BY zip") == [
        ("007", "1.50"), ("123", "2.25"),
    ]  # fmt: skip
    _assert_exports_as_written(transfer_env, "types", data)


def _assert_exports_as_written(env: TransferEnv, table: str, data: bytes) -> None:
    out = env.workdir / f"{table}-out.csv"
    result = env.run(
        "pgexport", "--table", table, "--connconfig", str(env.config_path),
        "--export_file", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == data


def test_infer_types_keeps_only_types_that_give_the_text_back(transfer_env: TransferEnv) -> None:
    # Each of these once got a type and came back changed: TRUE -> t, T10:00 -> " 10:00:00",
    # 24:00:00 -> the next day, -0 -> 0, a 5000-digit number crashed inference.
    data = (
        b"b,iso,midnight,zero,nzero,frac,zipcode,huge,real_bool\n"
        b"TRUE,2024-01-01T10:00,2024-01-01 24:00:00,-0,-0.0,2024-01-01 10:00:00.50,007,"
        + b"9"
        * 5000
        + b",t\n"
        b"false,2024-01-02T11:00,2024-01-02 10:00:00,1,1.5,2024-01-01 10:00:00.25,1,1,f\n"
    )
    result = _import(transfer_env, "rt.csv", data, "rt", "--infer-types")
    assert result.returncode == 0, result.stderr
    types = dict(
        transfer_env.sql(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'rt'::regclass AND attnum > 0 ORDER BY attnum"
        )
    )
    assert types == {
        "b": "text", "iso": "text", "midnight": "text", "zero": "text", "nzero": "text",
        "frac": "text", "zipcode": "text", "huge": "numeric", "real_bool": "boolean",
    }  # fmt: skip
    _assert_exports_as_written(transfer_env, "rt", data)


def test_no_header_new_table(transfer_env: TransferEnv) -> None:
    result = _import(transfer_env, "nh.csv", b"1,2\n3,4\n", "nh")
    assert result.returncode == 0, result.stderr  # numeric first row: detected as no header
    assert transfer_env.sql("SELECT column_1, column_2 FROM nh ORDER BY 1") == [
        ("1", "2"), ("3", "4"),
    ]  # fmt: skip


@pytest.mark.parametrize("delimiter", [b",", b";", b"\t", b"|"])
def test_delimiter_detection(transfer_env: TransferEnv, delimiter: bytes) -> None:
    data = b"a%(d)sb%(d)sc\n1%(d)s2%(d)s3\n" % {b"d": delimiter}
    result = _import(transfer_env, "dd.csv", data, "dd")
    assert result.returncode == 0, result.stderr
    assert transfer_env.sql("SELECT a, b, c FROM dd") == [("1", "2", "3")]


def test_usage_errors_exit_2(transfer_env: TransferEnv) -> None:
    missing = transfer_env.run(
        "pgimport", "--import_file", "nope.csv", "--table", "t",
        "--connconfig", str(transfer_env.config_path),
    )  # fmt: skip
    assert missing.returncode == 2
    assert "nope.csv" in missing.stderr
    (transfer_env.workdir / "d.csv").write_text("a\n1\n")
    no_config = transfer_env.run(
        "pgimport", "--import_file", "d.csv", "--table", "t", "--connconfig", "missing.yaml"
    )
    assert no_config.returncode == 2
    assert "missing.yaml" in no_config.stderr
    assert not (transfer_env.workdir / "d.pgimport.yaml").exists()
    (transfer_env.workdir / "d.pgimport.yaml").write_text('delimiter: ","\nbogus: 1\n')
    bad = transfer_env.run(
        "pgimport", "--import_file", "d.csv", "--table", "t",
        "--connconfig", str(transfer_env.config_path),
    )  # fmt: skip
    assert bad.returncode == 2
    assert "d.pgimport.yaml" in bad.stderr
    assert "bogus" in bad.stderr
    same = transfer_env.run(
        "pgimport", "--import_file", "d.csv", "--table", "t", "--delimiter", '"',
        "--connconfig", str(transfer_env.config_path),
    )  # fmt: skip
    assert same.returncode == 2


def test_quiet(transfer_env: TransferEnv) -> None:
    result = _import(transfer_env, "q.csv", b"a\n1\n", "q", "--quiet")
    assert result.returncode == 0
    assert result.stdout == ""
    assert result.stderr == ""


def test_settings_file_name_never_collides(tmp_path: Path) -> None:
    from pgmonkey_cli._transfer._names import settings_path

    assert settings_path(tmp_path / "data.csv", "pgimport").name == "data.pgimport.yaml"
    assert settings_path(tmp_path / "conn.yaml", "pgimport").name == "conn.pgimport.yaml"
    assert settings_path(tmp_path / "noext", "pgexport").name == "noext.pgexport.yaml"


def _columns(env: TransferEnv, table: str) -> list[str]:
    rows = env.sql(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 "
        "ORDER BY attnum",
        [table],
    )
    return [r[0] for r in rows]


def test_reimport_into_the_table_created_from_the_same_file(transfer_env: TransferEnv) -> None:
    # Once: "two header columns map to column 'a_b'" on the second run.
    long_a, long_b = "x" * 70 + "a", "x" * 70 + "b"  # the same once cut to 63 bytes
    header = f'a b,A_B,Name,name,,column_5,{long_a},{long_b},"a-b"'
    data = (header + "\n1,2,3,4,5,6,7,8,9\n").encode()
    first = _import(transfer_env, "c.csv", data, "coll")
    assert first.returncode == 0, first.stderr
    created = _columns(transfer_env, "coll")
    assert created == [
        "a_b", "a_b_2", "name", "name_2", "column_5", "column_5_2", "x" * 63,
        "x" * 61 + "_2", "a_b_3",
    ]  # fmt: skip
    second = _import(transfer_env, "c.csv", data, "coll")
    assert second.returncode == 0, second.stderr
    assert transfer_env.sql("SELECT count(*), count(DISTINCT a_b_3) FROM coll") == [(2, 1)]
    assert _columns(transfer_env, "coll") == created


def test_error_messages_end_with_one_period(transfer_env: TransferEnv) -> None:
    transfer_env.sql("CREATE TABLE rx (a text)")
    transfer_env.sql(
        "CREATE FUNCTION rx() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'Bad value.'; END $$"
    )
    transfer_env.sql("CREATE TRIGGER rx BEFORE INSERT ON rx FOR EACH ROW EXECUTE FUNCTION rx()")
    result = _import(transfer_env, "rx.csv", b"a\n1\n", "rx")
    assert result.returncode == 1
    assert result.stderr == (
        f"pgmonkey: error: {transfer_env.workdir / 'rx.csv'}: line 2: Bad value. "
        "Nothing was imported.\n"
    )


def test_lost_connection_gives_one_clean_error(transfer_env: TransferEnv) -> None:
    # Once: "pgmonkey: WARNING: psycopg: error ignored terminating <psycopg.Copy ...>" and
    # "... processing the request.. Nothing was imported."
    transfer_env.sql("CREATE TABLE kill (a text)")
    transfer_env.sql(
        "CREATE FUNCTION kill() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$"
    )
    transfer_env.sql(
        "CREATE TRIGGER kill BEFORE INSERT ON kill FOR EACH ROW EXECUTE FUNCTION kill()"
    )
    result = _import(transfer_env, "k.csv", b"a\n" + b"1\n" * 5_000_000, "kill")
    assert result.returncode == 1
    assert result.stderr.startswith("pgmonkey: error: "), result.stderr
    assert result.stderr.count("pgmonkey:") == 1, result.stderr
    assert ".." not in result.stderr
    assert "WARNING" not in result.stderr
    assert transfer_env.sql("SELECT count(*) FROM kill") == [(0,)]


def test_headerless_all_text_file_is_not_turned_into_column_names(
    transfer_env: TransferEnv,
) -> None:
    # Once: table (alice, london) created and the first row lost into the column names.
    data = b"alice,london\nbob,paris\n"
    result = _import(transfer_env, "p.csv", data, "p")
    _assert_refused(
        transfer_env, result, 2, "cannot tell whether line 1 ('alice,london') is a header", "p"
    )
    assert "--header or --no-header" in result.stderr
    result = _import(transfer_env, "p.csv", data, "p", "--no-header")
    assert result.returncode == 0, result.stderr
    assert "header no (--no-header)" in result.stdout
    assert transfer_env.sql("SELECT column_1, column_2 FROM p ORDER BY 1") == [
        ("alice", "london"), ("bob", "paris"),
    ]  # fmt: skip


def test_header_evidence_is_printed(transfer_env: TransferEnv) -> None:
    result = _import(transfer_env, "e.csv", b"name,born\nada,1815-12-10\n", "ev")
    assert result.returncode == 0, result.stderr
    assert "header yes (line 1 is text, 'born' holds dates below)" in result.stdout
    result = _import(transfer_env, "e2.csv", b"ada,1815\n", "ev2")
    assert result.returncode == 0, result.stderr
    assert "header no (line 1 holds '1815' in column 2, a value)" in result.stdout


@pytest.mark.parametrize(
    ("columns", "header"), [("name text, city text", True), ("a text, b text", False)]
)
def test_existing_table_answers_the_header_question(
    transfer_env: TransferEnv, columns: str, header: bool
) -> None:
    transfer_env.sql(f"CREATE TABLE t ({columns})")
    result = _import(transfer_env, "t.csv", b"name,city\nbob,paris\n", "t")
    assert result.returncode == 0, result.stderr
    assert f"Header: {'yes' if header else 'no'} (line 1 names" in result.stdout
    count = 1 if header else 2
    assert transfer_env.sql("SELECT count(*) FROM t") == [(count,)]
    settings = yaml.safe_load((transfer_env.workdir / "t.pgimport.yaml").read_text())
    assert settings["header"] is header


def test_existing_table_partly_named_by_line_1_is_refused(transfer_env: TransferEnv) -> None:
    transfer_env.sql("CREATE TABLE t (name text, town text)")
    result = _import(transfer_env, "t.csv", b"name,city\nbob,paris\n", "t")
    assert result.returncode == 2
    assert "only some of its cells name columns of public.t" in result.stderr
    assert transfer_env.sql("SELECT count(*) FROM t") == [(0,)]


def test_settings_file_encoding_errors_name_line_and_offset(transfer_env: TransferEnv) -> None:
    # The settings file's encoding bypasses detection, and still never replaces a bad byte.
    (transfer_env.workdir / "s.pgimport.yaml").write_text('"encoding": "cp1252"\n')
    result = _import(transfer_env, "s.csv", b"n,v\n1,ok\n2,\x81\n", "s")
    assert result.returncode == 1, result.stderr
    assert "line 3, byte offset 11 (81): not valid cp1252" in result.stderr
    assert not _table_exists(transfer_env, "s")
