"""A fault under write load, and the promise every HA test checks afterwards."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pgmonkey.config import load_config
from pgmonkey.connections import ConnectionPool
from pgmonkey.testing import PatroniCluster, PatroniNode
from tests.ha._load import (
    TABLE,
    Recorder,
    Report,
    Write,
    load,
    report,
    wait_for_ops,
    wait_writable_elsewhere,
)

RECOVERY_LIMIT = 5.0
SYNCHRONOUS_RECOVERY_LIMIT = 10.0
POOL_BACKOFF_STEP = 6.0
"""The longest step of psycopg_pool's reconnect backoff met here (4 s +/- 10 %), plus the
attempt that failed just before the cluster was back and the connect that then succeeds (a
multi-host list tries the old leader first): 5.01 s was seen once in CI on 2 busy cores."""
DJANGO_POOL_DELAY = 10.0
"""Django's own pool (``OPTIONS["pool"]``) took up to its checkout ``timeout`` (10 s here)."""
INSERT = f"INSERT INTO {TABLE} (id) VALUES (%s) RETURNING inet_server_port()"
READ = "SELECT inet_server_port(), pg_is_in_recovery()"

FIGURES: list[Report] = []
"""Every report of the run, printed at its end (conftest.py)."""


def pool_settings(**extra: Any) -> dict[str, Any]:
    """Pool settings for the HA tests: connections tested at checkout, patient waits."""
    return {
        "min_size": 4,
        "max_size": 8,
        "timeout": 10,
        "check_on_checkout": True,
        "reconnect_timeout": 60,
        **extra,
    }


def pool_for(cfg: dict[str, Any]) -> ConnectionPool:
    """An opened pgmonkey pool for ``cfg`` with :func:`pool_settings`."""
    cfg["pool_settings"] = pool_settings()
    pool = ConnectionPool(load_config(cfg))
    pool.open()
    return pool


def pool_writer(pool: ConnectionPool) -> Write:
    """Insert through ``pool``; the port is returned only once the COMMIT was acknowledged."""

    def write(ident: int) -> int:
        with pool as conn:
            row = conn.execute(INSERT, (ident,)).fetchone()
        assert row is not None
        return int(row[0])

    return write


def check_promise(
    rep: Report, limit: float = RECOVERY_LIMIT, pool_delay: float = POOL_BACKOFF_STEP
) -> None:
    """Record ``rep`` and assert the issue's promise on it.

    ``pool_delay``: how long after the cluster is back the load's own connections may take.
    A pgmonkey pool's connections come back at its next reconnect attempt: at most one backoff
    step (psycopg_pool waits 1, 2, 4 s between attempts, +/- 10 %).
    """
    FIGURES.append(rep)
    print(rep.line())
    assert rep.ready < limit, rep.line()
    assert rep.recovery < rep.ready + pool_delay, rep.line()
    assert rep.late_errors == [], rep.line()
    assert rep.errors == rep.in_flight_errors
    assert rep.ok_after >= 20


def switchover(cluster: PatroniCluster) -> Callable[[PatroniNode], None]:
    """A fault: ``patronictl switchover --force`` away from the given leader."""

    def fault(leader: PatroniNode) -> None:
        cluster.patronictl("switchover", cluster.scope, "--leader", leader.name, "--force")

    return fault


def fault_under_write_load(
    cluster: PatroniCluster,
    write: Write,
    scenario: str,
    fault: Callable[[PatroniNode], object],
    *,
    writers: int = 4,
    same_node_ok: bool = False,
    outage_from_old: bool = False,
) -> tuple[Report, Recorder, PatroniNode]:
    """Run ``fault`` on the leader while ``writers`` threads write; measure what they saw."""
    old = cluster.leader()
    with load(write, writers=writers) as rec:
        wait_for_ops(rec, "write", 40, after=0)
        fault_at = time.monotonic()
        fault(old)
        new, ready_at = wait_writable_elsewhere(cluster, old, same_node_ok=same_node_ok)
        wait_for_ops(rec, "write", 40, after=ready_at, port=new.port)
    rep = report(
        scenario,
        rec,
        kind="write",
        fault_at=fault_at,
        ready_at=ready_at,
        on_ports={new.port},
        old_port=old.port if outage_from_old else None,
    )
    return rep, rec, new
