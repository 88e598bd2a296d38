"""Configuration bombs (``corpus/yaml/bomb_*.yaml``, manifest ``expected_bombs.yaml``).

Each file must be refused by :func:`pgmonkey.config.load_config`, by ``find_problems`` and
by ``pgmonkey pgconfig validate`` with the listed error and message, in a subprocess that
cannot hang the suite. Oversized and non-regular configuration files are made here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from pgmonkey import errors
from pgmonkey.config import MAX_FILE_BYTES, find_problems, load_config

CORPUS = Path(__file__).with_name("corpus") / "yaml"
CASES: list[dict[str, Any]] = yaml.safe_load(
    (CORPUS / "expected_bombs.yaml").read_text(encoding="utf-8")
)


def test_manifest_covers_every_bomb() -> None:
    assert {c["file"] for c in CASES} == {p.name for p in CORPUS.glob("bomb_*")}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["file"])
def test_bomb_is_refused(case: dict[str, Any]) -> None:
    path = CORPUS / case["file"]
    error_type = getattr(errors, case["error"])
    assert issubclass(error_type, errors.ConfigError)
    with pytest.raises(error_type) as info:
        load_config(path)
    assert case["contains"][0] in str(info.value)
    assert str(path) in str(info.value)
    problems = find_problems(path)
    assert len(problems) == 1
    assert type(problems[0]) is error_type


def test_bombs_through_the_cli_do_not_hang(tmp_path: Path) -> None:
    oversized = tmp_path / "oversized.yaml"
    oversized.write_bytes(b"connection_settings:\n  host: '" + b"h" * MAX_FILE_BYTES + b"'\n")
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    expected = {str(CORPUS / c["file"]): c["contains"][0] for c in CASES}
    expected[str(oversized)] = f"the limit is {MAX_FILE_BYTES} bytes"
    expected[str(fifo)] = "is not a regular file (it is a FIFO (named pipe))"
    expected["/dev/zero"] = "is not a regular file (it is a character device)"
    for path, message in expected.items():
        result = subprocess.run(
            [sys.executable, "-m", "pgmonkey_cli", "pgconfig", "validate", "--connconfig", path],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2, (path, result.stdout, result.stderr)
        output = result.stdout + result.stderr
        assert message in output, (path, output)
        assert "Traceback" not in output
