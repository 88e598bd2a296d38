"""The repository root is not a distribution: installing it fails with a message.

``pip install .`` at the root used to build an empty ``packages-0.0.0``. The root
``pyproject.toml`` now names an in-tree build backend (tools/build_backend) that refuses
every build and says what to install instead, while still holding the tool settings.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.install.conftest import ROOT, make_venv


def test_this_run_uses_the_root_tool_settings(request: pytest.FixtureRequest) -> None:
    assert request.config.inipath == ROOT / "pyproject.toml"
    lines = (ROOT / "pyproject.toml").read_text().splitlines()
    assert 'build-backend = "monorepo_root"' in lines
    assert {"[tool.ruff]", "[tool.mypy]", "[tool.pytest.ini_options]"} <= set(lines)
    assert "[project]" not in lines


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_installing_the_repository_root_fails_with_a_message(tmp_path: Path) -> None:
    venv = make_venv(tmp_path / "venv", seed=True)
    proc = venv.pip("install", str(ROOT))
    assert proc.returncode == 1
    output = proc.stdout + proc.stderr
    assert "pgmonkey: this repository is a monorepo, and its root is not a distribution." in output
    assert "pip install ./packages/pgmonkey-core ./packages/pgmonkey-cli" in output
    assert "python -m nox -l" in output
    listed = venv.pip("list", "--format=freeze").stdout
    assert "packages" not in listed
