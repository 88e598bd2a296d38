"""CI is the README's test command and nothing more: what it checks, a developer's run checks."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_ci_script_sets_no_test_switches() -> None:
    # Variables that change what the tests do belong in the noxfile, where the README's
    # command picks them up too; .ci/run only installs system packages and runs that command.
    script = (ROOT / ".ci" / "run").read_text()
    assert re.findall(r"^\s*(?:export\s+)?(PGMONKEY_\w+)=", script, flags=re.MULTILINE) == []


@pytest.mark.skipif(
    "NOX_CURRENT_SESSION" not in os.environ or not os.environ.get("CI"),
    reason="checks the README's command as CI runs it",
)
@pytest.mark.parametrize(
    "variable", ["PGMONKEY_REQUIRE_SSL", "PGMONKEY_REQUIRE_PGBOUNCER", "PGMONKEY_REQUIRE_PATRONI"]
)
def test_nox_runs_require_every_component(variable: str) -> None:
    # The noxfile, not .ci/run, turns a missing SSL-capable server, PgBouncer or Patroni into a
    # failure.
    assert os.environ.get(variable) == "1"
