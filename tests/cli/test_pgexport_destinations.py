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


def test_import_from_a_fifo_or_stdin_is_refused_clearly(env: TransferEnv) -> None:
    fifo = env.workdir / "pipe.csv"
    os.mkfifo(fifo)
    for source, expected in [(str(fifo), "not a regular file"), ("-", "standard input")]:
        result = env.run(
            "pgimport", "--connconfig", str(env.config_path), "--table", "people",
            "--import_file", source,
        )  # fmt: skip
        assert result.returncode == 2
        assert expected in result.stderr
        assert "save the data to a file first" in result.stderr
    assert env.sql("SELECT count(*) FROM people") == [(3,)]
