"""Fork safety (Django ticket #36957): a connection or pool opened before ``fork()``.

Each case runs ``forkcheck.py`` in a fresh interpreter (an at-fork hook cannot be
removed once registered): the parent opens a connection through Django (and, where
Django pools, its pool), forks, and both processes query.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.ext_django.conftest import Project

ROOT = Path(__file__).resolve().parents[2]


def run_forkcheck(project: Project, *, fork_safety: bool) -> dict[str, Any]:
    env = {
        **os.environ,
        "PGMONKEY_DJANGO_YAML_DIR": str(project.yaml_dir),
        "PGMONKEY_DJANGO_FORK_SAFETY": "1" if fork_safety else "0",
        "DJANGO_SETTINGS_MODULE": "tests.ext_django.project.settings",
        "PYTHONPATH": str(ROOT),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "tests.ext_django.forkcheck"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    assert result["fork_safety"] is fork_safety
    return result


def test_with_fork_safety_the_child_opens_its_own_connection(project: Project) -> None:
    result = run_forkcheck(project, fork_safety=True)
    child = result["child"]
    assert "error" not in child, child
    assert child["backend"] != result["before"]  # a new session, not the parent's socket
    assert child["second_backend"] != result["before"]
    assert result["after"] == result["before"]  # the parent's session survived the child
    assert project.sessions(settle_to=0) == []  # nothing left open by either process


def test_without_fork_safety_the_child_shares_the_parents_session(project: Project) -> None:
    """The failure fork safety prevents: the child talks on the parent's socket."""
    result = run_forkcheck(project, fork_safety=False)
    child = result["child"]
    assert child.get("backend") == result["before"], result
