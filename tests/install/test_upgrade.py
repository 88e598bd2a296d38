"""Upgrading from pgmonkey 3.4.0: the hazard is diagnosed and the documented fix works.

pgmonkey 3.4.0 (from PyPI) and the local pgmonkey-core/pgmonkey-cli wheels go into a fresh
environment with its own pip, in both orders. pgmonkey then names both distributions and the
fix; after ``pip uninstall pgmonkey`` (which deletes shared files and the ``pgmonkey``
script) ``python -m pgmonkey_cli`` prints the diagnosis instead of a traceback; and the fix
documented in docs/migration.md (``FIX``, with the local wheels standing in for the names of
the PyPI distributions) repairs the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from pgmonkey_cli._install import FIX
from tests.install.conftest import Venv, Wheels, make_venv

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

OLD = "pgmonkey==3.4.0"
BOTH = (
    "pgmonkey 3.4.0 (the old single distribution) is installed next to pgmonkey-core; both"
    " install the 'pgmonkey' import package, and uninstalling either one deletes files the"
    " other needs"
)
FIX_LINE = f"  fix: {FIX}"


def _install(venv: Venv, *requirements: str | Path) -> None:
    proc = venv.pip("install", "-q", *map(str, requirements))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _apply_fix(venv: Venv, wheels: Wheels) -> None:
    """Run FIX as printed, with the local wheels for the names of the distributions."""
    uninstall, install = (part.split() for part in FIX.split(" && "))
    assert uninstall[:3] == ["pip", "uninstall", "-y"]
    assert install == ["pip", "install", "pgmonkey-core", "pgmonkey-cli"]
    proc = venv.pip(*uninstall[1:])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    _install(venv, wheels.core, wheels.cli)


def _config(tmp_path: Path, cfg: dict[str, Any]) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _assert_repaired(venv: Venv, config: Path) -> None:
    version = venv.command("pgmonkey", "--version")
    assert (version.returncode, version.stderr) == (0, ""), version.stderr
    assert version.stdout.startswith("pgmonkey-core ")
    test = venv.command("pgmonkey", "pgconfig", "test", "--connconfig", str(config))
    assert test.returncode == 0, test.stdout + test.stderr
    assert "warning" not in test.stderr
    proc = venv.run("-c", "from pgmonkey import PGConnectionManager, redact_config")
    assert proc.returncode == 0, proc.stderr


def test_core_over_3x_then_uninstalling_pgmonkey(
    wheels: Wheels, pg_database: dict[str, Any], tmp_path: Path
) -> None:
    venv = make_venv(tmp_path / "venv", seed=True)
    config = _config(tmp_path, pg_database)
    _install(venv, OLD)
    _install(venv, wheels.core, wheels.cli)

    # Both installed: everything still works, and pgmonkey says what is wrong.
    version = venv.command("pgmonkey", "--version")
    assert version.returncode == 0
    assert "pgmonkey 3.4.0" in version.stdout.splitlines()
    assert version.stderr.splitlines() == [f"pgmonkey: warning: {BOTH}", FIX_LINE]
    test = venv.command("pgmonkey", "pgconfig", "test", "--connconfig", str(config))
    assert test.returncode == 0, test.stdout + test.stderr
    assert test.stderr.splitlines()[:2] == [f"pgmonkey: warning: {BOTH}", FIX_LINE]

    # `pip uninstall pgmonkey` deletes the shared files and the `pgmonkey` script.
    proc = venv.pip("uninstall", "-y", "pgmonkey")
    assert proc.returncode == 0, proc.stderr
    assert not venv.script("pgmonkey").exists()
    broken = venv.run("-c", "from pgmonkey import PGConnectionManager")
    assert "cannot import name 'PGConnectionManager' from 'pgmonkey'" in broken.stderr

    version = venv.run("-m", "pgmonkey_cli", "--version")
    assert version.returncode == 0
    first, fix = version.stderr.splitlines()
    assert first.startswith("pgmonkey: warning: pgmonkey-core 5.0.0 is damaged: pgmonkey/")
    assert first.endswith(
        " are missing (`pip uninstall pgmonkey` deletes the files the old distribution shared"
        " with it)"
    )
    assert fix == FIX_LINE
    test = venv.run("-m", "pgmonkey_cli", "pgconfig", "test", "--connconfig", str(config))
    assert test.returncode == 1
    assert test.stdout == ""
    assert test.stderr.splitlines() == [first.replace("warning", "error", 1), FIX_LINE]

    _apply_fix(venv, wheels)
    _assert_repaired(venv, config)


def test_3x_over_core(wheels: Wheels, pg_database: dict[str, Any], tmp_path: Path) -> None:
    venv = make_venv(tmp_path / "venv", seed=True)
    config = _config(tmp_path, pg_database)
    _install(venv, wheels.core, wheels.cli)
    _install(venv, OLD)  # overwrites pgmonkey/__init__.py and the `pgmonkey` script

    version = venv.run("-m", "pgmonkey_cli", "--version")
    assert version.returncode == 0
    assert version.stderr.splitlines() == [f"pgmonkey: warning: {BOTH}", FIX_LINE]

    _apply_fix(venv, wheels)
    _assert_repaired(venv, config)


def test_the_docs_give_the_repair_the_cli_prints() -> None:
    """docs/migration.md, docs/installation.md and the READMEs show FIX, the tested repair."""
    root = Path(__file__).resolve().parents[2]
    two_lines = FIX.replace(" && ", "\n")
    for page in ("docs/migration.md", "docs/installation.md"):
        assert f"```bash\n{two_lines}\n```" in (root / page).read_text(), page
    for readme in ("README.md", "packages/pgmonkey-core/README.md"):
        assert FIX in (root / readme).read_text(), readme
