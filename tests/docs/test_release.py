"""tools/release.py: one command bumps a distribution; the check catches what drifts apart."""

from __future__ import annotations

import datetime
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _release() -> ModuleType:
    spec = importlib.util.spec_from_file_location("release", ROOT / "tools" / "release.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of what the release tool reads and writes: pyprojects, changelogs, versions."""
    release = _release()
    for dist, package in release.PACKAGES.items():
        source = ROOT / "packages" / dist
        target = tmp_path / "packages" / dist
        (target / "src" / package).mkdir(parents=True)
        for name in ("pyproject.toml", "CHANGELOG.md"):
            shutil.copy(source / name, target / name)
        shutil.copy(source / "src" / package / "_version.py", target / "src" / package)
    return tmp_path


def test_this_repository_is_consistent() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "release.py"), "check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (proc.returncode, proc.stdout) == (0, "")


def test_every_changelog_lists_breaking_changes_with_their_migration_section() -> None:
    migration = (ROOT / "docs" / "migration.md").read_text(encoding="utf-8")
    for dist in ("pgmonkey-core", "pgmonkey-cli"):
        changelog = (ROOT / "packages" / dist / "CHANGELOG.md").read_text(encoding="utf-8")
        entries = [e for e in changelog.split("\n- ") if e.startswith("**Breaking**")]
        assert entries, dist
        for entry in entries:
            flat = " ".join(entry.split())  # an entry wraps over several lines
            section = flat.split('Migration guide: "')[1].split('"')[0]
            assert f"### {section}" in migration, (dist, section)


def test_bump_of_the_core_releases_it_and_raises_what_the_others_require(repo: Path) -> None:
    release = _release()
    release.bump(repo, "pgmonkey-core", "5.1.0", today=datetime.date(2026, 12, 6))
    assert release.read_version(repo, "pgmonkey-core") == "5.1.0"
    changelog = (repo / "packages" / "pgmonkey-core" / "CHANGELOG.md").read_text()
    assert "## [Unreleased]\n\n## [5.1.0] - 2026-12-06\n\n### Added" in changelog
    for dist in ("pgmonkey-cli", "pgmonkey-flask", "pgmonkey-fastapi", "pgmonkey-django"):
        text = (repo / "packages" / dist / "pyproject.toml").read_text()
        assert '"pgmonkey-core>=5.1,<6"' in text
    assert release.check(repo) == []


def test_check_catches_drift(repo: Path) -> None:
    release = _release()
    release.bump(repo, "pgmonkey-cli", "5.0.1", today=datetime.date(2026, 12, 6))
    changelog = repo / "packages" / "pgmonkey-cli" / "CHANGELOG.md"
    # A later release that breaks something but only raises the patch number.
    release.bump(repo, "pgmonkey-cli", "5.0.2", today=datetime.date(2026, 12, 7))
    text = changelog.read_text().replace(
        "## [5.0.2] - 2026-12-07\n", "## [5.0.2] - 2026-12-07\n\n- **Breaking**: renamed.\n"
    )
    changelog.write_text(text)
    flask = repo / "packages" / "pgmonkey-flask" / "pyproject.toml"
    flask.write_text(flask.read_text().replace('"pgmonkey-core>=5.0,<6"', '"pgmonkey-core>=5.0"'))
    version = repo / "packages" / "pgmonkey-django" / "src" / "pgmonkey_django" / "_version.py"
    release.bump(repo, "pgmonkey-django", "1.0.1", today=datetime.date(2026, 12, 6))
    version.write_text('__version__ = "1.0.2"\n')
    problems = release.check(repo)
    assert any("5.0.2 lists a **Breaking** change" in p for p in problems)
    assert any(
        "pgmonkey-flask: the pgmonkey-core requirement has no upper bound" in p for p in problems
    )
    assert any("pgmonkey-django: _version.py says 1.0.2" in p for p in problems)


def test_bump_refuses_an_older_version(repo: Path) -> None:
    with pytest.raises(SystemExit, match="is not newer than"):
        _release().bump(repo, "pgmonkey-core", "4.9.0")
