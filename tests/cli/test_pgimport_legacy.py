"""pgmonkey 3.x settings files next to the data (``data.yaml``): converted, never ignored."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.cli.conftest import TransferEnv

# What pgmonkey 3.4.0 wrote on its first pgimport run (yaml.dump, keys sorted), edited by the
# user to say the file has no header and uses ';'.
LEGACY_340 = """\
auto_create_table: true
delimiter: ;
encoding: utf-8
enforce_lowercase: true
has_headers: false
quotechar: '"'
"""


def _new_settings(path: Path) -> dict[str, object]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_the_340_scenario_imports_three_rows_into_column_1_column_2(
    transfer_env: TransferEnv,
) -> None:
    data = transfer_env.workdir / "data.csv"
    data.write_text("a;b\n1;2\n3;4\n", encoding="utf-8")
    legacy = transfer_env.workdir / "data.yaml"
    legacy.write_text(LEGACY_340, encoding="utf-8")
    args = ["--import_file", "data.csv", "--table", "t", "--connconfig"]
    result = transfer_env.run("pgimport", *args, str(transfer_env.config_path))
    assert result.returncode == 0, result.stderr
    # 3.4.0 result: no header, three rows, generated column names.
    assert transfer_env.sql("SELECT column_1, column_2 FROM t ORDER BY 1") == [
        ("1", "2"),
        ("3", "4"),
        ("a", "b"),
    ]
    assert "Converted the pgmonkey 3.x settings file data.yaml to data.pgimport.yaml" in (
        result.stdout
    )
    assert "has_headers -> header" in result.stdout
    assert "quotechar -> quote" in result.stdout
    assert result.stderr == ""  # every key had an equivalent: no warning
    converted = _new_settings(transfer_env.workdir / "data.pgimport.yaml")
    assert converted == {
        "encoding": "utf-8",
        "delimiter": ";",
        "quote": '"',
        "header": False,
        "null": "",
    }
    assert legacy.read_text(encoding="utf-8") == LEGACY_340  # left as it was

    # The next run reads the new file (no second note) and gives the same result.
    again = transfer_env.run("pgimport", *args, str(transfer_env.config_path), "--truncate")
    assert again.returncode == 0, again.stderr
    assert "3.x" not in again.stdout
    assert transfer_env.sql("SELECT count(*) FROM t") == [(3,)]


def test_an_existing_new_settings_file_is_never_overwritten(transfer_env: TransferEnv) -> None:
    data = transfer_env.workdir / "data.csv"
    data.write_text("a,b\n1,2\n", encoding="utf-8")
    (transfer_env.workdir / "data.yaml").write_text(LEGACY_340, encoding="utf-8")
    new = transfer_env.workdir / "data.pgimport.yaml"
    new.write_text('"header": true\n', encoding="utf-8")
    result = transfer_env.run(
        "pgimport", "--import_file", "data.csv", "--table", "t",
        "--connconfig", str(transfer_env.config_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert new.read_text(encoding="utf-8") == '"header": true\n'
    assert transfer_env.sql("SELECT a, b FROM t") == [("1", "2")]


def test_keys_without_an_equivalent_are_named(transfer_env: TransferEnv) -> None:
    data = transfer_env.workdir / "data.csv"
    data.write_text("x,y\n1,2\n", encoding="utf-8")
    (transfer_env.workdir / "data.yaml").write_text(
        "has_headers: true\nauto_create_table: false\ncolumn_mapping: {x: a}\n",
        encoding="utf-8",
    )
    result = transfer_env.run(
        "pgimport", "--import_file", "data.csv", "--table", "t",
        "--connconfig", str(transfer_env.config_path), "--config-only",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    warnings = result.stderr.splitlines()
    assert len(warnings) == 2
    assert warnings[0].startswith("pgmonkey: warning: data.yaml: 'auto_create_table' not")
    assert "create the table before importing" in warnings[0]
    assert warnings[1] == (
        "pgmonkey: warning: data.yaml: 'column_mapping' not carried over: "
        "not a pgmonkey 3.x setting"
    )
    assert _new_settings(transfer_env.workdir / "data.pgimport.yaml")["header"] is True


def test_an_invalid_legacy_value_is_an_error_naming_file_and_key(
    transfer_env: TransferEnv,
) -> None:
    (transfer_env.workdir / "data.csv").write_text("x\n1\n", encoding="utf-8")
    (transfer_env.workdir / "data.yaml").write_text("delimiter: ';;'\n", encoding="utf-8")
    result = transfer_env.run(
        "pgimport", "--import_file", "data.csv", "--table", "t",
        "--connconfig", str(transfer_env.config_path),
    )  # fmt: skip
    assert result.returncode == 2
    assert "data.yaml" in result.stderr
    assert "delimiter" in result.stderr
    assert not (transfer_env.workdir / "data.pgimport.yaml").exists()


def test_a_connection_config_next_to_the_data_is_not_taken_for_settings(
    transfer_env: TransferEnv,
) -> None:
    (transfer_env.workdir / "data.csv").write_text("x\n1\n", encoding="utf-8")
    (transfer_env.workdir / "data.yaml").write_text(
        yaml.safe_dump(transfer_env.cfg), encoding="utf-8"
    )
    result = transfer_env.run(
        "pgimport", "--import_file", "data.csv", "--table", "t",
        "--connconfig", "data.yaml",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "data.yaml is not a pgmonkey 3.x import settings file" in result.stdout
    assert transfer_env.sql("SELECT x FROM t") == [("1",)]


def test_a_340_export_settings_file_is_converted(transfer_env: TransferEnv) -> None:
    transfer_env.sql("CREATE TABLE src (a int, b text)")
    transfer_env.sql("INSERT INTO src VALUES (1, 'x;y')")
    (transfer_env.workdir / "out.yaml").write_text(
        'delimiter: ;\nencoding: utf-8\nquotechar: "\'"\n', encoding="utf-8"
    )
    result = transfer_env.run(
        "pgexport", "--table", "src", "--connconfig", str(transfer_env.config_path),
        "--export_file", "out.csv",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Converted the pgmonkey 3.x settings file out.yaml to out.pgexport.yaml" in (
        result.stdout
    )
    assert (transfer_env.workdir / "out.csv").read_text(encoding="utf-8") == "a;b\n1;'x;y'\n"
