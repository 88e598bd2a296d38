"""Patroni failover under load: what pgmonkey's pool sees, measured.

Writers insert ids through a ``pool`` configuration that lists the three nodes with
``target_session_attrs: read-write`` and ``check_on_checkout: true``; each acknowledged commit
is recorded. For each fault the tests assert the issue's promise:

* the first successful write comes less than 5 s after the fault (ttl 3 s, loop_wait 1 s);
* errors only for operations that started before the new leader accepted writes, none after;
* with Patroni's ``synchronous_mode`` on, no acknowledged commit is missing on the new leader
  (with it off the number lost is measured and printed, not asserted).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from pgmonkey.connections import ConnectionPool
from pgmonkey.testing import PatroniCluster
from tests.ha._load import Report, acknowledged, load, lost_commits, report, wait_for_ops
from tests.ha._scenario import (
    FIGURES,
    READ,
    RECOVERY_LIMIT,
    SYNCHRONOUS_RECOVERY_LIMIT,
    check_promise,
    fault_under_write_load,
    pool_for,
    pool_writer,
    switchover,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def writer_pool(cluster: PatroniCluster) -> Iterator[ConnectionPool]:
    pool = pool_for(cluster.config("read-write", connection_type="pool"))
    yield pool
    pool.disconnect()


def with_lost(rep: Report, lost: int) -> Report:
    return Report(**{**rep.__dict__, "lost": lost})


def test_leader_postgres_killed(cluster: PatroniCluster, writer_pool: ConnectionPool) -> None:
    """kill -9 of the leader's postmaster: Patroni restarts it (or fails over) within seconds."""
    rep, rec, new = fault_under_write_load(
        cluster,
        pool_writer(writer_pool),
        "leader postgres kill -9",
        lambda n: n.kill_postgres(),
        same_node_ok=True,
    )
    rep = with_lost(rep, lost_commits(new, acknowledged(rec)))
    check_promise(rep)
    assert rep.lost == 0  # the same node came back, or a replica with everything replayed


@pytest.mark.parametrize("synchronous", [False, True], ids=["async", "synchronous_mode"])
def test_leader_node_lost(
    cluster: PatroniCluster, writer_pool: ConnectionPool, synchronous: bool
) -> None:
    """Patroni and PostgreSQL killed on the leader (a lost machine): a replica takes over."""
    if synchronous:
        cluster.set_synchronous_mode(True)
    rep, rec, new = fault_under_write_load(
        cluster,
        pool_writer(writer_pool),
        f"leader node lost ({'synchronous_mode' if synchronous else 'asynchronous'})",
        lambda n: n.lose(),
    )
    rep = with_lost(rep, lost_commits(new, acknowledged(rec)))
    # With synchronous_mode a commit also waits for a standby: the surviving replica must
    # follow the new leader first, which costs about one more ttl.
    check_promise(rep, SYNCHRONOUS_RECOVERY_LIMIT if synchronous else RECOVERY_LIMIT)
    if synchronous:
        assert rep.lost == 0, rep.line()


def test_switchover(cluster: PatroniCluster, writer_pool: ConnectionPool) -> None:
    """``patronictl switchover`` under load."""

    rep, rec, new = fault_under_write_load(
        cluster,
        pool_writer(writer_pool),
        "patronictl switchover",
        switchover(cluster),
        outage_from_old=True,
    )
    rep = with_lost(rep, lost_commits(new, acknowledged(rec)))
    check_promise(rep)
    assert rep.lost == 0  # a switchover waits for the candidate to catch up


def test_replica_lost_under_read_load(
    cluster: PatroniCluster, writer_pool: ConnectionPool
) -> None:
    """A replica's machine is lost while readers use ``target_session_attrs: standby``."""
    cfg = cluster.config("standby", connection_type="pool")
    reader_pool = pool_for(cfg)

    def read() -> int:
        with reader_pool as conn:
            row = conn.execute(READ).fetchone()
        assert row is not None
        assert row[1] is True  # always a standby
        return int(row[0])

    lost = cluster.replicas()[0]
    try:
        with load(pool_writer(writer_pool), read, writers=2, readers=4) as rec:
            wait_for_ops(rec, "read", 100, after=0, port=lost.port)
            fault_at = time.monotonic()
            lost.lose()
            ready_at = time.monotonic()
            wait_for_ops(rec, "read", 200, after=ready_at)
            wait_for_ops(rec, "write", 50, after=ready_at)
    finally:
        reader_pool.disconnect()
    reads = report("replica lost (reads)", rec, kind="read", fault_at=fault_at, ready_at=ready_at)
    writes = report(
        "replica lost (writes)", rec, kind="write", fault_at=fault_at, ready_at=ready_at
    )
    check_promise(reads)
    FIGURES.append(writes)
    assert writes.errors == 0, writes.line()
    assert lost.port not in {o.port for o in rec.snapshot() if o.started > ready_at}
