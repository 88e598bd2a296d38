"""Throughput through a transaction-mode PgBouncer (``pooler: pgbouncer``) vs direct.

* a pgmonkey pool (max_size 8), 8 threads, parameterised ``SELECT`` per transaction;
* one cached ``normal`` connection, one thread, the same query.

Report only: the extra hop costs what it costs; the numbers say how much.
"""

from __future__ import annotations

import threading
from typing import Any

from _harness import Result, interleaved_median

from pgmonkey.config import load_config
from pgmonkey.connections import Connection, ConnectionPool
from pgmonkey.testing import find_pgbouncer, start_pgbouncer

THREADS = 8
OPS_PER_THREAD = 250
SINGLE_OPS = 1000
SQL = "SELECT %s::int * 2, %s::text"


def _pool_case(direct: dict[str, Any], bounced: dict[str, Any]) -> Result:
    pools = {"direct": ConnectionPool(direct), "bounced": ConnectionPool(bounced)}
    for pool in pools.values():
        pool.open()

    def workload(pool: ConnectionPool) -> None:
        def client(k: int) -> None:
            for i in range(OPS_PER_THREAD):
                with pool as c:
                    c.execute(SQL, (k * OPS_PER_THREAD + i, "x")).fetchone()

        threads = [threading.Thread(target=client, args=(k,)) for k in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    try:
        workload(pools["bounced"])  # warm up
        workload(pools["direct"])
        cand, base = interleaved_median(
            lambda: workload(pools["bounced"]), lambda: workload(pools["direct"]), repeat=5
        )
    finally:
        for pool in pools.values():
            pool.disconnect()
    ops = THREADS * OPS_PER_THREAD
    return Result(
        case=f"pool, {THREADS} threads, through PgBouncer (transaction mode)",
        metric="ops/s",
        candidate=ops / cand,
        baseline_name="the same pool connected directly",
        baseline=ops / base,
    )


def _normal_case(direct: dict[str, Any], bounced: dict[str, Any]) -> Result:
    conns = {"direct": Connection(direct), "bounced": Connection(bounced)}

    def workload(conn: Connection) -> None:
        for i in range(SINGLE_OPS):
            with conn as c:
                c.execute(SQL, (i, "x")).fetchone()

    try:
        workload(conns["bounced"])  # warm up
        workload(conns["direct"])
        cand, base = interleaved_median(
            lambda: workload(conns["bounced"]), lambda: workload(conns["direct"]), repeat=5
        )
    finally:
        for conn in conns.values():
            conn.disconnect()
    return Result(
        case="normal connection, 1 thread, through PgBouncer (transaction mode)",
        metric="ops/s",
        candidate=SINGLE_OPS / cand,
        baseline_name="the same connection made directly",
        baseline=SINGLE_OPS / base,
    )


def run(ctx: dict[str, Any]) -> list[Result]:
    """Both cases, or nothing when pgbouncer is not installed."""
    server = ctx["server"]
    if find_pgbouncer() is None:
        print("bench_pgbouncer: pgbouncer is not installed; skipped")
        return []
    sizes = {"min_size": THREADS, "max_size": THREADS, "timeout": 30}
    with start_pgbouncer(server, "transaction") as bouncer:
        direct = server.config(connection_type="pool")
        direct.update(pool_settings=sizes)
        bounced = bouncer.config(connection_type="pool")
        bounced.update(pool_settings=sizes, pooler="pgbouncer")
        direct_cfg, bounced_cfg = load_config(direct), load_config(bounced)
        return [_pool_case(direct_cfg, bounced_cfg), _normal_case(direct_cfg, bounced_cfg)]
