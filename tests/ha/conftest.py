"""The HA suite: one Patroni cluster (``pg_patroni``) shared by every test, healthy before each.

Every test is slow (a fault, then recovery): the suite runs once, on one Python version, in
``nox -s ha``. The figures each scenario measured are printed at the end of the run.
"""

from __future__ import annotations

from typing import Any

import pytest

from pgmonkey.testing import PatroniCluster
from tests.ha._load import ensure_table
from tests.ha._scenario import FIGURES


@pytest.fixture
def cluster(pg_patroni: PatroniCluster) -> PatroniCluster:
    """``pg_patroni`` restored to three healthy nodes, synchronous mode off, ``ha_log`` empty."""
    pg_patroni.wait_healthy()
    if pg_patroni.synchronous_mode:
        pg_patroni.set_synchronous_mode(False)
    ensure_table(pg_patroni)
    return pg_patroni


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the measured figures (also when the tests pass without ``-s``)."""
    if FIGURES:
        terminalreporter.section("HA figures (Patroni, ttl 3 s, loop_wait 1 s)")
        for figure in FIGURES:
            terminalreporter.write_line(figure.line())
