"""Unbounded reads and waits: FIFOs, devices, oversized files and silent servers.

Every command runs in a subprocess with a generous timeout: a hang fails the test by
``subprocess.TimeoutExpired`` instead of hanging the suite. A "black hole" is a socket on
127.0.0.1 that accepts connections and never answers, the way a wedged server or a firewall
that completes the handshake behaves.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pgmonkey.config import MAX_FILE_BYTES

TYPES = ("normal", "pool", "async", "async_pool")
HANG_LIMIT = 60  # seconds: far above any timeout below; reaching it means a hang


@pytest.fixture
def black_hole() -> Iterator[int]:
    """The port of a listener on 127.0.0.1 that accepts and never sends a byte."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        server.close()
        for conn in held:
            conn.close()


def _start(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pgmonkey_cli", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    try:
        out, err = proc.communicate(timeout=HANG_LIMIT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError(f"{proc.args!r} hung for {HANG_LIMIT} s") from None
    return proc.returncode, out + err


@pytest.mark.slow
def test_silent_server_times_out_with_the_default(black_hole: int, tmp_path: Path) -> None:
    """No connect_timeout anywhere: every connecting command ends with a clear timeout."""
    cfg = {
        "connection_type": "normal",
        "connection_settings": {
            "host": "127.0.0.1",
            "port": black_hole,
            "user": "u",
            "dbname": "d",
            "password": "S3cretBlackHole",
        },
        "pool_settings": {"min_size": 1, "max_size": 2, "timeout": 3},
        "async_pool_settings": {"min_size": 1, "max_size": 2, "timeout": 3},
    }
    config = tmp_path / "hole.yaml"
    config.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n", encoding="utf-8")
    conn = ("--connconfig", str(config))
    runs: dict[str, tuple[str, ...]] = {
        f"pgconfig test {t}": ("pgconfig", "test", *conn, "--connection-type", t) for t in TYPES
    }
    runs["pgimport"] = ("pgimport", *conn, "--import-file", str(data), "--table", "t")
    runs["pgexport"] = ("pgexport", *conn, "--table", "t")
    runs["pgserverconfig --audit"] = ("pgserverconfig", *conn, "--audit")
    procs = {label: _start(*args, cwd=tmp_path) for label, args in runs.items()}
    for label, proc in procs.items():
        status, output = _finish(proc)
        assert status == 1, (label, output)
        assert "timeout expired" in output, (label, output)
        assert "connect_timeout=10s" in output, (label, output)
        assert "S3cretBlackHole" not in output
        assert "Traceback" not in output


@pytest.mark.slow
def test_explicit_connect_timeout_flag_wins(black_hole: int, tmp_path: Path) -> None:
    cfg = {"connection_settings": {"host": "127.0.0.1", "port": black_hole, "user": "u"}}
    cfg["connection_settings"]["connect_timeout"] = 30
    config = tmp_path / "hole.yaml"
    config.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    args = ("pgconfig", "test", "--connconfig", str(config), "--connect-timeout", "2")
    status, output = _finish(_start(*args, cwd=tmp_path))
    assert status == 1
    assert "connect_timeout=2s" in output, output


def test_help_states_the_default_timeout() -> None:
    for command in (
        ("pgconfig", "test"),
        ("pgimport",),
        ("pgexport",),
        ("pgserverconfig",),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "pgmonkey_cli", *command, "--help"],
            capture_output=True,
            text=True,
            timeout=HANG_LIMIT,
            env={**os.environ, "COLUMNS": "200"},
            check=False,
        )
        assert result.returncode == 0
        text = " ".join(result.stdout.split())
        assert "--connect-timeout SECONDS" in text, command
        assert "or 10 when the config sets none" in text, command


_LIBRARY_POOL = """
import sys
from pgmonkey.connections import open_pool
from pgmonkey.errors import DatabaseConnectionError
cfg = {"connection_settings": {"host": "127.0.0.1", "port": int(sys.argv[1]), "user": "u"},
       "pool_settings": {"min_size": 1, "max_size": 1, "timeout": 3}}
try:
    open_pool(cfg)
except DatabaseConnectionError as exc:
    print(exc)
"""


@pytest.mark.slow
def test_library_pool_probe_waits_at_most_the_pool_timeout(black_hole: int) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _LIBRARY_POOL, str(black_hole)],
        capture_output=True,
        text=True,
        timeout=HANG_LIMIT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "connection timeout expired (no answer within connect_timeout=3s)" in result.stdout


# ----------------------------------------------------------------------------- files


def _special_files(tmp_path: Path) -> dict[str, Path]:
    """A FIFO (nobody writes to it), a link to /dev/zero and a file one byte over the cap."""
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.yaml"
    zero.symlink_to("/dev/zero")
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    return {"fifo": fifo, "zero": zero, "big": big}


def _expect_refusal(kind: str, path: Path, output: str, what: str) -> None:
    assert str(path) in output, output
    if kind == "big":
        assert f"is too large for a {what}" in output, output
        assert f"the limit is {MAX_FILE_BYTES} bytes" in output, output
    else:
        device = "FIFO (named pipe)" if kind == "fifo" else "character device"
        assert f"is not a regular file (it is a {device})" in output, output
    assert "Traceback" not in output


def test_special_connconfig_files_are_refused(tmp_path: Path) -> None:
    files = _special_files(tmp_path)
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n", encoding="utf-8")
    for kind, path in files.items():
        for args in (
            ("pgconfig", "test", "--connconfig", str(path)),
            ("pgconfig", "validate", "--connconfig", str(path)),
            ("pgimport", "--connconfig", str(path), "--import-file", str(data), "--table", "t"),
            ("pgexport", "--connconfig", str(path), "--table", "t"),
            ("pgserverconfig", "--connconfig", str(path)),
        ):
            status, output = _finish(_start(*args, cwd=tmp_path))
            assert status == 2, (args, output)
            _expect_refusal(kind, path, output, "configuration file")


def test_special_secret_files_are_refused(tmp_path: Path) -> None:
    for kind, path in _special_files(tmp_path).items():
        config = tmp_path / f"{kind}-secret.yaml"
        config.write_text(
            f"connection_settings:\n  password:\n    from_file: '{path}'\n", encoding="utf-8"
        )
        args = ("pgconfig", "test", "--connconfig", str(config), "--resolve-env")
        status, output = _finish(_start(*args, cwd=tmp_path))
        assert status == 2, output
        _expect_refusal(kind, path, output, "secret file")
        assert "via from_file" in output
        assert "connection_settings.password" in output


def test_special_import_settings_files_are_refused(transfer_env: Any) -> None:
    env = transfer_env
    env.sql("CREATE TABLE t (a text)")
    env.sql("INSERT INTO t VALUES ('kept')")
    data = env.workdir / "data.csv"
    data.write_text("a\nnew\n", encoding="utf-8")
    settings = env.workdir / "data.pgimport.yaml"
    for kind, special in _special_files(env.workdir).items():
        settings.unlink(missing_ok=True)
        os.replace(special, settings)
        args = ("pgimport", "--connconfig", str(env.config_path), "--import-file", str(data))
        status, output = _finish(_start(*args, "--table", "t", cwd=env.workdir))
        assert status == 2, output
        _expect_refusal(kind, settings, output, "settings file")
        assert env.sql("SELECT a FROM t") == [("kept",)]


@pytest.mark.ssl
@pytest.mark.parametrize("key", ["sslrootcert", "sslcert", "sslkey"])
def test_tls_file_that_is_a_fifo_is_refused_before_connecting(
    pg_ssl_server: Any, tmp_path: Path, key: str
) -> None:
    """OpenSSL would block on a FIFO inside libpq, out of connect_timeout's reach."""
    cfg = pg_ssl_server.cert_config("certuser")
    fifo = tmp_path / key
    os.mkfifo(fifo)
    cfg["connection_settings"][key] = str(fifo)
    config = tmp_path / "tls.yaml"
    config.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    procs = [
        _start(
            "pgconfig", "test", "--connconfig", str(config), "--connection-type", t, cwd=tmp_path
        )
        for t in TYPES
    ]
    for proc in procs:
        status, output = _finish(proc)
        assert status == 1, output
        assert (
            f"{fifo}: connection_settings.{key}: is not a regular file (it is a FIFO (named "
            "pipe)); libpq would wait on it without a timeout"
        ) in output


def test_special_export_settings_files_are_refused(transfer_env: Any) -> None:
    env = transfer_env
    env.sql("CREATE TABLE t (a text)")
    out = env.workdir / "out.csv"
    settings = env.workdir / "out.pgexport.yaml"
    for kind, special in _special_files(env.workdir).items():
        settings.unlink(missing_ok=True)
        os.replace(special, settings)
        args = ("pgexport", "--connconfig", str(env.config_path), "--table", "t")
        status, output = _finish(_start(*args, "--export-file", str(out), cwd=env.workdir))
        assert status == 2, output
        _expect_refusal(kind, settings, output, "settings file")
        assert not out.exists()
