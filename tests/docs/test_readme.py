"""README.md's examples run as printed, and CI runs the README's test command."""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml

from pgmonkey import load_config

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_ci_runs_the_readme_test_command() -> None:
    commands = [b.strip() for b in _blocks("bash") if "nox -t ci" in b]
    assert len(commands) == 1
    ci_script = (ROOT / ".ci" / "run").read_text()
    assert commands[0] in ci_script.splitlines()


def test_readme_yaml_example_is_a_valid_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (block,) = [b for b in _blocks("yaml") if "connection_settings" in b]
    path = tmp_path / "config.yaml"
    path.write_text(block)
    monkeypatch.setenv("APP_DB_PASSWORD", "s3cret-from-env")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no unknown keys, no surprises
        cfg = load_config(path, resolve_env=True)
    assert cfg["connection_settings"]["password"] == "s3cret-from-env"
    assert cfg["connection_type"] == "pool"


@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_readme_python_example_runs(
    index: int, pg_database: dict[str, Any], tmp_path: Path
) -> None:
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(pg_database))
    code = _blocks("python")[index]
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
