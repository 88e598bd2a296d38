"""Upgrading from pgmonkey 3.4.0: its README's examples, before and after, compared.

One virtual environment gets ``pgmonkey==3.4.0`` from PyPI and runs every example of
``examples_340/`` (taken from the 3.4.0 README) against a throwaway server. Then the upgrade
is done as ``docs/migration.md`` says (its "Step 1" commands, with the local
``packages/pgmonkey-core`` and ``packages/pgmonkey-cli`` in place of the PyPI names), and every
example runs again. Each example must behave the same (exit status, the shape of its output,
rows in its tables, files written, whether it connects), or differ in a way that
``expected_differences.yaml`` lists with the ``docs/migration.md`` section explaining it. The
list cannot go stale: every listed difference must still differ, and its section must exist.

Run with ``nox -s compat`` (or ``PGMONKEY_COMPAT=1 pytest tests/compat``): it needs PyPI and
about two minutes, so the ``tests`` sessions leave it out.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.compat._examples import Example, Run, load_examples, run_example

pytestmark = [
    pytest.mark.compat,
    pytest.mark.slow,
    pytest.mark.timeout(900),
    pytest.mark.skipif(
        os.environ.get("PGMONKEY_COMPAT") != "1",
        reason="the 3.4.0 compatibility suite runs in `nox -s compat` (PGMONKEY_COMPAT=1)",
    ),
]

ROOT = Path(__file__).resolve().parents[2]
MIGRATION = ROOT / "docs" / "migration.md"
EXPECTED = Path(__file__).with_name("expected_differences.yaml")
LOCAL = {
    "pgmonkey-core": ROOT / "packages" / "pgmonkey-core",
    "pgmonkey-cli": ROOT / "packages" / "pgmonkey-cli",
}
OLD = "pgmonkey==3.4.0"
EXAMPLES = load_examples()
WORKERS = 2


# ----------------------------------------------------------------------- the environment


def _uv() -> str | None:
    candidates = [
        shutil.which("uv"),
        str(Path(sys.executable).parent / "uv"),
        str(Path(sys.base_prefix) / "bin" / "uv"),
    ]
    return next((c for c in candidates if c and Path(c).is_file()), None)


class Venv:
    """A fresh virtual environment, driven with uv when available, else venv + pip."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.bindir = path / "bin"
        self.uv = _uv()
        if self.uv:
            self._run(self.uv, "venv", "-q", "-p", sys.executable, str(path))
        else:
            self._run(sys.executable, "-m", "venv", str(path))

    @staticmethod
    def _run(*args: str) -> None:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False)
        if proc.returncode != 0:
            pytest.fail(f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")

    def pip(self, command: str, *args: str) -> None:
        """``pip install`` / ``pip uninstall`` in this environment."""
        python = str(self.bindir / "python")
        if self.uv:
            self._run(self.uv, "pip", command, "-q", "-p", python, *args)
        else:
            extra = ["-y"] if command == "uninstall" else []
            self._run(python, "-m", "pip", "-q", command, *extra, *args)

    def version(self) -> str:
        proc = subprocess.run(
            [str(self.bindir / "python"), "-m", "pip", "--version"]
            if not self.uv
            else [self.uv, "pip", "list", "-p", str(self.bindir / "python")],
            capture_output=True,
            text=True,
            check=False,
        )
        return proc.stdout


def migration_step_1() -> list[list[str]]:
    """The ``pip`` commands of docs/migration.md's "Step 1" (the upgrade, as documented)."""
    text = MIGRATION.read_text(encoding="utf-8")
    match = re.search(r"^## Step 1.*?```bash\n(.*?)```", text, flags=re.S | re.M)
    assert match, "docs/migration.md has no '## Step 1' section with a bash block"
    lines = [line.strip() for line in match.group(1).splitlines()]
    commands = [shlex.split(line) for line in lines if line and not line.startswith("#")]
    assert commands, "docs/migration.md's Step 1 has no commands"
    assert all(c[:1] == ["pip"] for c in commands), commands
    return commands


def _local(requirement: str) -> str:
    """``pgmonkey-core[binary]`` -> ``/repo/packages/pgmonkey-core[binary]``."""
    name, _, extras = requirement.partition("[")
    path = LOCAL.get(name)
    if path is None:
        pytest.fail(f"docs/migration.md installs {requirement!r}, not a local package")
    return f"{path}[{extras}" if extras else str(path)


def upgrade(venv: Venv) -> list[str]:
    """Do docs/migration.md's Step 1 in ``venv``; return the commands, as documented."""
    done = []
    for words in migration_step_1():
        command, args = words[1], [w for w in words[2:] if not w.startswith("-")]
        venv.pip(command, *(args if command == "uninstall" else map(_local, args)))
        done.append(shlex.join(words))
    return done


# ------------------------------------------------------------------------- running


def _run_all(venv: Venv, pg_server: Any, workroot: Path, label: str) -> dict[str, Run]:
    def one(index_example: tuple[int, Example]) -> tuple[str, Run]:
        index, example = index_example
        dbname = f"compat_{label}_{index}"
        pg_server.create_database(dbname)
        try:
            server = pg_server.config(dbname=dbname)["connection_settings"]
            return example.id, run_example(
                example,
                bindir=venv.bindir,
                workdir=workroot / label / example.id,
                server=server,
                sql=lambda q: pg_server.execute(q, dbname=dbname),
            )
        finally:
            pg_server.drop_database(dbname)

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return dict(pool.map(one, enumerate(EXAMPLES)))


@pytest.fixture(scope="module")
def runs(pg_server: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Run, Run]]:
    """Every example under 3.4.0, then under this repository's packages after the upgrade."""
    root = tmp_path_factory.mktemp("compat340")
    venv = Venv(root / "venv")
    venv.pip("install", OLD)
    before = _run_all(venv, pg_server, root, "old")
    upgrade(venv)
    after = _run_all(venv, pg_server, root, "new")
    report = os.environ.get("PGMONKEY_COMPAT_REPORT")
    if report:  # every outcome, for writing expected_differences.yaml
        data = {
            ex.id: {"old": before[ex.id].__dict__, "new": after[ex.id].__dict__} for ex in EXAMPLES
        }
        Path(report).write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
    return {ex.id: (before[ex.id], after[ex.id]) for ex in EXAMPLES}


def _expected() -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    data = yaml.safe_load(EXPECTED.read_text(encoding="utf-8"))
    return data.get("differences") or {}, data.get("pending") or {}


def _migration_sections() -> set[str]:
    text = MIGRATION.read_text(encoding="utf-8")
    return {m.group(1).strip() for m in re.finditer(r"^#{2,4} (.+)$", text, flags=re.M)}


def _explain(example_id: str, old: Run, new: Run) -> str:
    def dump(run: Run) -> str:
        return json.dumps({"outcome": run.outcome, "detail": run.detail}, indent=1)[:3000]

    return f"{example_id}\n--- pgmonkey 3.4.0\n{dump(old)}\n--- after the upgrade\n{dump(new)}"


# ------------------------------------------------------------------------- the tests


def test_the_list_names_real_examples_and_existing_sections() -> None:
    differences, pending = _expected()
    ids = {ex.id for ex in EXAMPLES}
    assert len(ids) == len(EXAMPLES), "duplicate example ids"
    assert not (set(differences) | set(pending)) - ids, "unknown ids in the list"
    assert not set(differences) & set(pending)
    sections = _migration_sections()
    for example_id, entry in differences.items():
        assert entry.get("reason"), f"{example_id}: no reason"
        assert entry["section"] in sections, (
            f"{example_id}: docs/migration.md has no section {entry['section']!r}"
        )


def test_the_upgrade_follows_the_migration_guide() -> None:
    commands = migration_step_1()
    assert [w for w in commands[0] if w != "-y"] == ["pip", "uninstall", "pgmonkey"]
    installed = {w.partition("[")[0] for c in commands[1:] for w in c[2:]}
    assert {"pgmonkey-core", "pgmonkey-cli"} <= installed


@pytest.mark.parametrize("example", EXAMPLES, ids=[ex.id for ex in EXAMPLES])
def test_example_behaves_the_same_or_as_documented(
    example: Example, runs: dict[str, tuple[Run, Run]]
) -> None:
    old, new = runs[example.id]
    differences, pending = _expected()
    differs = old.outcome != new.outcome
    listed = example.id in differences or example.id in pending
    if differs and not listed:
        pytest.fail(
            "differs from 3.4.0 but expected_differences.yaml does not list it:\n"
            + _explain(example.id, old, new)
        )
    if listed and not differs:
        pytest.fail(
            "listed in expected_differences.yaml but behaves as in 3.4.0 (remove it):\n"
            + _explain(example.id, old, new)
        )
