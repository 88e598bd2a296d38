"""The one bounded reader: regular files only, at most MAX_FILE_BYTES, decided on the fd."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pgmonkey.config import (
    MAX_FILE_BYTES,
    load_config,
    load_config_cached,
    read_text_file,
    read_yaml_file,
)
from pgmonkey.errors import ConfigFileError, ConfigValidationError, EnvInterpolationError


def test_size_cap_is_exact(tmp_path: Path) -> None:
    at_cap = tmp_path / "at.yaml"
    at_cap.write_bytes(b"a: b\n" + b"#" * (MAX_FILE_BYTES - 6) + b"\n")
    assert len(read_text_file(at_cap)) == MAX_FILE_BYTES
    over = tmp_path / "over.yaml"
    over.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    with pytest.raises(ConfigFileError) as info:
        read_text_file(over)
    assert str(info.value) == (
        f"{over}: is too large for a configuration file ({MAX_FILE_BYTES + 1} bytes; "
        f"the limit is {MAX_FILE_BYTES} bytes)"
    )
    with pytest.raises(ConfigFileError, match="is too large for a settings file"):
        read_text_file(at_cap, what="settings file", max_bytes=10)


def test_devices_and_directories_are_refused(tmp_path: Path) -> None:
    for path, message in (
        ("/dev/zero", "is not a regular file (it is a character device)"),
        ("/dev/null", "is not a regular file (it is a character device)"),
        (str(tmp_path), "is a directory, not a configuration file"),
    ):
        with pytest.raises(ConfigFileError) as info:
            load_config(path)
        assert str(info.value).startswith(f"{path}: {message}")
        with pytest.raises(ConfigFileError, match=r"regular file|directory"):
            load_config_cached(path)


def test_symlink_to_a_regular_file_is_read(tmp_path: Path) -> None:
    target = tmp_path / "real.yaml"
    target.write_text("connection_settings:\n  host: h\n", encoding="utf-8")
    link = tmp_path / "link.yaml"
    link.symlink_to(target)
    assert load_config(link)["connection_settings"] == {"host": "h"}


def test_read_yaml_file_keeps_text_and_bounds_aliases(tmp_path: Path) -> None:
    path = tmp_path / "any.yaml"
    path.write_text("a: 0123\nb: 1:30\nc: 0x1F\nd: on\nnull: ~\ne:\n", encoding="utf-8")
    parsed = read_yaml_file(path)
    assert parsed.data == {
        "a": "0123",
        "b": "1:30",
        "c": "0x1F",
        "d": "on",
        "null": None,
        "e": None,
    }
    assert parsed.marks[("c",)] == (3, 1)
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing\n", encoding="utf-8")
    assert read_yaml_file(empty).data is None
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(
        'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n'
        + "".join(
            f"k{i}: &a{i} [" + ",".join([f"*{'a' if i == 1 else f'a{i - 1}'}"] * 10) + "]\n"
            for i in range(1, 5)
        ),
        encoding="utf-8",
    )
    with pytest.raises(ConfigValidationError, match="too many values"):
        read_yaml_file(bomb)


def test_secret_from_a_device_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "connection_settings:\n  password:\n    from_file: /dev/zero\n", encoding="utf-8"
    )
    for load in (load_config, load_config_cached):
        with pytest.raises(EnvInterpolationError) as info:
            load(config, resolve_env=True)
        assert str(info.value) == (
            f"{config}: connection_settings.password: secret file '/dev/zero' is not a regular "
            "file (it is a character device); a secret file must be a regular file "
            "(referenced by config key 'connection_settings.password' via from_file) "
            "(line 2, column 3)"
        )


def test_cache_notices_a_changed_secret(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("one\n", encoding="utf-8")
    config = tmp_path / "c.yaml"
    config.write_text(
        f"connection_settings:\n  password:\n    from_file: '{secret}'\n", encoding="utf-8"
    )
    first = load_config_cached(config, resolve_env=True)
    assert first.config["connection_settings"]["password"] == "one"
    assert load_config_cached(config, resolve_env=True) is first
    secret.write_text("two-longer\n", encoding="utf-8")
    second = load_config_cached(config, resolve_env=True)
    assert second.config["connection_settings"]["password"] == "two-longer"


_FIFO_PROGRAM = """
import os, sys
from pgmonkey.config import load_config, read_text_file
from pgmonkey.errors import ConfigError
fifo, config = sys.argv[1], sys.argv[2]
for call in (lambda: read_text_file(fifo), lambda: load_config(fifo),
             lambda: load_config(config, resolve_env=True)):
    try:
        call()
    except ConfigError as exc:
        print(exc)
"""


def test_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    config = tmp_path / "c.yaml"
    config.write_text(
        f"connection_settings:\n  password:\n    from_file: '{fifo}'\n", encoding="utf-8"
    )
    result = subprocess.run(
        [sys.executable, "-c", _FIFO_PROGRAM, str(fifo), str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert lines[0] == lines[1]
    assert lines[0] == (
        f"{fifo}: is not a regular file (it is a FIFO (named pipe)); a configuration file "
        "must be a regular file"
    )
    assert f"secret file '{fifo}' is not a regular file (it is a FIFO (named pipe))" in lines[2]
