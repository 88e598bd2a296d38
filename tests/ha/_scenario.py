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
POOL_FOLLOW = 1.5
"""How long after the cluster is back the load's own connections may take to write: a pool's
connection attempt is retried every 0.1 s doubling to 0.5 s (+/- 10 %) while no leader is up
(:mod:`pgmonkey.connections._availability`), then the connect (a multi-host list tries the
old leader first) and the write; HAProxy adds its 300 ms health check. On 2 busy cores."""
DJANGO_POOL_LIMIT = 10.0 + POOL_FOLLOW
"""Django's own pool (``OPTIONS["pool"]``): Django passes psycopg_pool's ``check`` itself, so a
request checks the idle connections the switchover broke one by one, and psycopg_pool (3.3)
pauses 1, 2, 4, 8 s between two failed checks of a request (pgmonkey's pools discard them all
at the first failure instead). A request that started during the outage may wait its whole
``timeout`` (10 s here) and fail; the next one writes."""
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
    rep: Report, limit: float = RECOVERY_LIMIT, load_limit: float | None = None
) -> None:
    """Record ``rep`` and assert the issue's promise on it.

    Writes are possible again (a fresh connection) within ``limit`` seconds of the fault, and
    the load's own connections (pgmonkey's pools included) write again within ``limit`` too,
    at most :data:`POOL_FOLLOW` after the cluster is back; or within ``load_limit`` of the
    fault when given (Django's own pool).
    """
    FIGURES.append(rep)
    print(rep.line())
    assert rep.ready < limit, rep.line()
    if load_limit is not None:
        assert rep.recovery < load_limit, rep.line()
    else:
        assert rep.recovery < limit, rep.line()
        assert rep.recovery < rep.ready + POOL_FOLLOW, rep.line()
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
