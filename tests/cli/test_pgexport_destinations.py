"""Where ``pgexport`` writes: regular files replaced atomically, streams, the rest refused."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.cli.conftest import TransferEnv

EXPECTED = b'id,name\n1,ada\n2,"grace, rear admiral"\n3,\n'


@pytest.fixture
def env(transfer_env: TransferEnv) -> TransferEnv:
    transfer_env.sql("CREATE TABLE people (id int, name text)")
    transfer_env.sql("INSERT INTO people VALUES (1, 'ada'), (2, 'grace, rear admiral'), (3, NULL)")
    return transfer_env


def _export(env: TransferEnv, target: str | Path, *extra: str):  # type: ignore[no-untyped-def]
    return env.run(
        "pgexport", "--connconfig", str(env.config_path), "--table", "people",
        "--export_file", str(target), *extra,
    )  # fmt: skip


def _copy_output(env: TransferEnv) -> bytes:
    with env.connect() as conn, conn.cursor() as cur:
        data = bytearray()
        with cur.copy("COPY people TO STDOUT WITH (FORMAT csv, HEADER true)") as copy:
            for chunk in copy:
                data += chunk
    return bytes(data)


def _read_in_thread(fifo: Path) -> tuple[threading.Thread, bytearray]:
    """A started thread reading ``fifo`` to the end into the returned buffer."""
    received = bytearray()

    def read() -> None:
        with open(fifo, "rb") as fh:
            received.extend(fh.read())

    reader = threading.Thread(target=read)
    reader.start()
    return reader, received


def _listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_expected_is_what_copy_writes(env: TransferEnv) -> None:
    assert _copy_output(env) == EXPECTED


def test_stdout_gets_exactly_the_copy_output(env: TransferEnv) -> None:
    """``-``: the data on stdout byte for byte, every message on stderr, no file."""
    result = subprocess.run(
        [
            sys.executable, "-m", "pgmonkey_cli", "pgexport", "--connconfig",
            str(env.config_path), "--query", "SELECT * FROM people ORDER BY id",
            "--export_file", "-",
        ],
        cwd=env.workdir, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == EXPECTED
    assert b"Exported 3 rows from the query to standard output" in result.stderr
    assert _listing(env.workdir) == []  # no settings file, no file named "-"


def test_fifo_is_written_as_a_stream(env: TransferEnv) -> None:
    fifo = env.workdir / "pipe"
    os.mkfifo(fifo)
    reader, received = _read_in_thread(fifo)
    result = _export(env, fifo)  # no --overwrite needed: nothing is replaced
    reader.join(timeout=60)
    assert result.returncode == 0, result.stderr
    assert bytes(received) == EXPECTED
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert _listing(env.workdir) == ["pipe"]  # no temporary or settings file


def test_fifo_through_a_symlink(env: TransferEnv) -> None:
    fifo = env.workdir / "pipe"
    os.mkfifo(fifo)
    (env.workdir / "link").symlink_to(fifo)
    reader, received = _read_in_thread(fifo)
    result = _export(env, env.workdir / "link", "--overwrite")
    reader.join(timeout=60)
    assert result.returncode == 0, result.stderr
    assert bytes(received) == EXPECTED
    assert (env.workdir / "link").is_symlink()
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


@pytest.mark.parametrize("extra", [[], ["--overwrite"]], ids=["plain", "overwrite"])
def test_dev_null_stays_a_device(env: TransferEnv, extra: list[str]) -> None:
    before = os.stat(os.devnull)
    result = _export(env, os.devnull, *extra)
    assert result.returncode == 0, result.stderr
    after = os.stat(os.devnull)
    assert stat.S_ISCHR(after.st_mode)
    assert (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)
    assert not Path(os.devnull + ".pgexport.yaml").exists()
    assert not [p for p in Path(os.devnull).parent.iterdir() if p.name.startswith(".null.")]


def test_symlink_to_dev_null(env: TransferEnv) -> None:
    (env.workdir / "sink").symlink_to(os.devnull)
    result = _export(env, env.workdir / "sink", "--overwrite")
    assert result.returncode == 0, result.stderr
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    assert (env.workdir / "sink").is_symlink()


def test_other_character_device_is_refused(env: TransferEnv) -> None:
    result = _export(env, "/dev/zero", "--overwrite")
    assert result.returncode == 2
    assert "is a character device" in result.stderr
    assert stat.S_ISCHR(os.stat("/dev/zero").st_mode)


def test_directory_is_refused(env: TransferEnv) -> None:
    target = env.workdir / "dir"
    target.mkdir()
    result = _export(env, target, "--overwrite")
    assert result.returncode == 2
    assert f"export file {target} is a directory" in result.stderr
    assert target.is_dir()
    assert _listing(target) == []


def test_socket_is_refused(env: TransferEnv) -> None:
    path = env.workdir / "sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        result = _export(env, path, "--overwrite")
    assert result.returncode == 2
    assert "is a socket" in result.stderr
    assert stat.S_ISSOCK(os.stat(path).st_mode)


def test_regular_file_is_replaced_atomically(env: TransferEnv) -> None:
    target = env.workdir / "people.csv"
    target.write_bytes(b"old\n")
    old_inode = target.stat().st_ino
    result = _export(env, target, "--overwrite")
    assert result.returncode == 0, result.stderr
    assert target.read_bytes() == EXPECTED
    assert target.stat().st_ino != old_inode  # a new file renamed over the old one
    assert _listing(env.workdir) == ["people.csv", "people.pgexport.yaml"]


def test_failed_export_leaves_the_old_file_and_no_temporary(env: TransferEnv) -> None:
    target = env.workdir / "people.csv"
    target.write_bytes(b"old\n")
    result = env.run(
        "pgexport", "--connconfig", str(env.config_path), "--overwrite",
        "--query", "SELECT 1 / (n - 3000) FROM generate_series(1, 5000) n",
        "--export_file", str(target),
    )  # fmt: skip
    assert result.returncode == 1
    assert "division by zero" in result.stderr
    assert target.read_bytes() == b"old\n"
    assert _listing(env.workdir) == ["people.csv"]


def test_symlink_to_regular_file_replaces_the_target(env: TransferEnv) -> None:
    real = env.workdir / "data" / "people.csv"
    real.parent.mkdir()
    real.write_bytes(b"old\n")
    link = env.workdir / "link.csv"
    link.symlink_to(real)
    assert _export(env, link).returncode == 2  # exists: --overwrite is still needed
    result = _export(env, link, "--overwrite")
    assert result.returncode == 0, result.stderr
    assert link.is_symlink()
    assert os.readlink(link) == str(real)
    assert real.read_bytes() == EXPECTED
    assert _listing(real.parent) == ["people.csv"]  # no temporary left beside the target


def test_dangling_symlink_is_refused(env: TransferEnv) -> None:
    link = env.workdir / "link.csv"
    link.symlink_to(env.workdir / "missing.csv")
    result = _export(env, link, "--overwrite")
    assert result.returncode == 2
    assert "symbolic link to a missing file" in result.stderr
    assert not (env.workdir / "missing.csv").exists()
    assert link.is_symlink()


def _pgimport(env: TransferEnv, source: str, table: str, *extra: str, **kw: object):  # type: ignore[no-untyped-def]
    return subprocess.run(
        [sys.executable, "-m", "pgmonkey_cli", "pgimport", "--connconfig", str(env.config_path),
         "--table", table, "--import-file", source, *extra],
        cwd=env.workdir, capture_output=True, timeout=120, check=False, **kw,
    )  # type: ignore[call-overload]  # fmt: skip


def test_import_from_standard_input(env: TransferEnv) -> None:
    before = _listing(env.workdir)
    result = _pgimport(env, "-", "copied", input=EXPECTED)
    assert result.returncode == 0, result.stderr
    assert env.sql("SELECT id, name FROM copied ORDER BY id") == [  # text columns
        ("1", "ada"),
        ("2", "grace, rear admiral"),
        ("3", None),
    ]
    assert _listing(env.workdir) == before  # a stream has no settings file beside it


def test_import_from_a_fifo(env: TransferEnv) -> None:
    fifo = env.workdir / "pipe.csv"
    os.mkfifo(fifo)

    def write() -> None:
        with open(fifo, "wb") as fh:
            fh.write(EXPECTED)

    writer = threading.Thread(target=write)
    writer.start()
    result = _pgimport(env, str(fifo), "from_fifo")
    writer.join(timeout=60)
    assert result.returncode == 0, result.stderr
    assert env.sql("SELECT count(*) FROM from_fifo") == [(3,)]
    assert _listing(env.workdir) == ["pipe.csv"]


def test_export_piped_into_import(env: TransferEnv) -> None:
    # pgmonkey pgexport --export-file - | pgmonkey pgimport --import-file -
    export = subprocess.Popen(
        [sys.executable, "-m", "pgmonkey_cli", "pgexport", "--connconfig", str(env.config_path),
         "--table", "people", "--export-file", "-"],
        cwd=env.workdir, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert export.stdout is not None
    result = _pgimport(env, "-", "piped", stdin=export.stdout)
    export.stdout.close()
    assert export.wait(timeout=120) == 0
    assert result.returncode == 0, result.stderr
    assert env.sql("SELECT id::int, name FROM piped EXCEPT SELECT * FROM people") == []
    assert env.sql("SELECT count(*) FROM piped") == [(3,)]


def test_streams_that_cannot_be_imported_are_refused(env: TransferEnv) -> None:
    only_settings = _pgimport(env, "-", "x", "--config-only", input=EXPECTED)
    assert only_settings.returncode == 2
    assert b"standard input has no settings file beside it" in only_settings.stderr
    directory = _pgimport(env, str(env.workdir), "x")
    assert directory.returncode == 2
    assert b"not a regular file, a FIFO or - (standard input)" in directory.stderr
    assert env.sql("SELECT count(*) FROM pg_class WHERE relname = 'x'") == [(0,)]


def test_json_summaries(env: TransferEnv, tmp_path: Path) -> None:
    import json

    target = tmp_path / "people.csv"
    exported = _export(env, target, "--json")
    assert exported.returncode == 0, exported.stderr
    summary = json.loads(exported.stdout)
    assert summary["command"] == "pgexport"
    assert (summary["rows"], summary["export_file"]) == (3, str(target))
    assert summary["format"]["delimiter"] == ","
    imported = _pgimport(env, str(target), "again", "--json")
    assert imported.returncode == 0, imported.stderr
    summary = json.loads(imported.stdout)
    assert (summary["command"], summary["rows"], summary["created"]) == ("pgimport", 3, True)
    assert summary["settings_written"] is True
    assert summary["rows_per_second"] >= 0
    refused = _export(env, "-", "--json")
    assert refused.returncode == 2
    assert "standard output carries the data" in refused.stderr
