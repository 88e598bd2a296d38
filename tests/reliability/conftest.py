"""Shared fixtures of the reliability suite and its summary table.

Every test records its figures (failures per fault, recovery time, latency percentiles,
sessions after load) with the session-scoped ``figures`` fixture; at the end of the run they
are printed as a table and written to ``tests/reliability/results.json``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pgmonkey import PGConnectionManager
from pgmonkey.testing import PostgresServer, start_server

RESULTS_PATH = Path(__file__).with_name("results.json")
_FIGURES = pytest.StashKey[dict[str, dict[str, Any]]]()


class Figures:
    """Collects ``{case: {figure: value}}`` for the summary table."""

    def __init__(self, store: dict[str, dict[str, Any]]) -> None:
        self._store = store

    def record(self, case: str, **values: Any) -> None:
        """Add (or overwrite) figures of one case."""
        self._store.setdefault(case, {}).update(values)


@pytest.fixture(scope="session")
def figures(request: pytest.FixtureRequest) -> Figures:
    """The session's figure collector."""
    return Figures(request.config.stash.setdefault(_FIGURES, {}))


@pytest.fixture(scope="module")
def fault_server() -> Iterator[PostgresServer]:
    """A dedicated server per module: destructive tests may stop, restart or exhaust it."""
    with start_server(settings={"max_connections": 60}) as server:
        yield server


@pytest.fixture
def manager() -> Iterator[PGConnectionManager]:
    """A manager whose (process-wide) cache is cleared after the test."""
    mgr = PGConnectionManager()
    mgr.clear_cache()
    yield mgr
    mgr.clear_cache()


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    store = config.stash.get(_FIGURES, None)
    if not store:
        return
    RESULTS_PATH.write_text(json.dumps(store, indent=2, sort_keys=True, default=str) + "\n")
    tr = terminalreporter
    tr.write_sep("=", "pgmonkey reliability figures")
    width = max(len(case) for case in store)
    for case in sorted(store):
        values = ", ".join(f"{k}={_fmt(v)}" for k, v in sorted(store[case].items()))
        tr.write_line(f"{case.ljust(width)}  {values}")
    tr.write_line(f"figures written to {RESULTS_PATH}")
