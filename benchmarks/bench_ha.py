"""Failover recovery on a real Patroni cluster: pgmonkey's pool vs psycopg_pool's defaults.

A throwaway Patroni cluster (``pgmonkey.testing.start_patroni_cluster``: one etcd, three
nodes, ttl 3 s, loop_wait 1 s) takes five faults: ``kill -9`` of the leader's PostgreSQL.
During each, two writer threads per pool insert rows through

* a pgmonkey ``pool`` configured as docs/scale-out.md recommends (every node in ``host``,
  ``target_session_attrs: read-write``, ``check_on_checkout: true``, ``connect_timeout: 2``);
* a hand-written ``psycopg_pool.ConnectionPool`` on the same multi-host conninfo, with the
  pool's default settings.

The figure is the median, over the five faults, of the time from the fault to the first write
that pool completed on a server other than the killed one (the restarted server or a
promoted replica). Report only: the cluster decides most of it. What pgmonkey adds: its pool
retries a connection attempt every 0.1-0.5 s while no leader is up (psycopg_pool alone waits
1, 2, 4 s between attempts), and a connection found broken at checkout has it discard the
other broken idle ones at once (docs/scale-out.md, "How pgmonkey's pools come back quickly").
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

from _harness import Result

from pgmonkey.config import load_config
from pgmonkey.connections import ConnectionPool
from pgmonkey.testing import find_etcd, find_patroni, start_patroni_cluster

FAULTS = 5
WRITERS = 2
INSERT = (
    "INSERT INTO bench_ha (who) VALUES (%s)"
    " RETURNING inet_server_port(), pg_postmaster_start_time()"
)
Incarnation = tuple[int, Any]
"""A server's port and the start time of its postmaster: which run of which server wrote."""


def _writer(
    run: Callable[[], Incarnation],
    done: list[tuple[float, Incarnation]],
    errors: list[float],
    stop: threading.Event,
) -> None:
    while not stop.is_set():
        try:
            served_by = run()
            done.append((time.monotonic(), served_by))  # when it was acknowledged, and by whom
        except Exception:
            errors.append(time.monotonic())
            time.sleep(0.02)
        time.sleep(0.005)


def _first_after(done: list[tuple[float, Incarnation]], moment: float, old: Incarnation) -> float:
    """Seconds from ``moment`` to the first write acknowledged by a server other than ``old``.

    Writes that backends of the killed server still completed do not count.
    """
    later = [t for t, served_by in list(done) if t > moment and served_by != old]
    return min(later) - moment if later else float("inf")


def run(ctx: dict[str, Any]) -> list[Result]:
    """Five faults; the median recovery time of each pool."""
    if find_patroni() is None or find_etcd() is None:
        raise RuntimeError(
            "the ha case needs patroni and etcd (apt-get install patroni etcd-server)"
        )
    from psycopg import conninfo as psycopg_conninfo
    from psycopg_pool import ConnectionPool as PsycopgPool

    with start_patroni_cluster() as cluster:
        cluster.execute("CREATE TABLE bench_ha (id bigserial PRIMARY KEY, who text)")
        cfg = cluster.config("read-write", connection_type="pool")
        cfg["pool_settings"] = {
            "min_size": 4,
            "max_size": 8,
            "timeout": 30,
            "check_on_checkout": True,
        }
        ours = ConnectionPool(load_config(cfg))
        ours.open()
        settings = dict(cfg["connection_settings"])
        settings.pop("connect_timeout")  # the hand-written pool keeps libpq's defaults too
        theirs: PsycopgPool[Any] = PsycopgPool(psycopg_conninfo.make_conninfo("", **settings))
        theirs.open(wait=True)

        def write_ours() -> Incarnation:
            with ours as conn:
                row = conn.execute(INSERT, ("pgmonkey",)).fetchone()
            assert row is not None
            return (row[0], row[1])

        def write_theirs() -> Incarnation:
            with theirs.connection() as conn:
                row = conn.execute(INSERT, ("psycopg_pool",)).fetchone()
            assert row is not None
            return (row[0], row[1])

        samples: dict[str, list[float]] = {"pgmonkey": [], "psycopg_pool": []}
        error_counts: dict[str, int] = {"pgmonkey": 0, "psycopg_pool": 0}
        try:
            for n in range(FAULTS):
                cluster.wait_healthy()
                stop = threading.Event()
                done: dict[str, list[tuple[float, Incarnation]]] = {
                    "pgmonkey": [],
                    "psycopg_pool": [],
                }
                errors = {"pgmonkey": [], "psycopg_pool": []}  # type: dict[str, list[float]]
                threads = [
                    threading.Thread(target=_writer, args=(fn, done[name], errors[name], stop))
                    for name, fn in (("pgmonkey", write_ours), ("psycopg_pool", write_theirs))
                    for _ in range(WRITERS)
                ]
                for thread in threads:
                    thread.start()
                time.sleep(0.5)
                leader = cluster.leader()
                old = (leader.port, leader.execute("SELECT pg_postmaster_start_time()")[0][0])
                fault_at = time.monotonic()
                leader.kill_postgres()
                deadline = fault_at + 120
                while time.monotonic() < deadline and not all(
                    _first_after(writes, fault_at, old) < float("inf") for writes in done.values()
                ):
                    time.sleep(0.05)
                stop.set()
                for thread in threads:
                    thread.join(timeout=60)
                for name in samples:
                    samples[name].append(_first_after(done[name], fault_at, old))
                    error_counts[name] += len(errors[name])
                print(
                    f"   fault {n + 1}: pgmonkey {samples['pgmonkey'][-1]:.2f} s, "
                    f"psycopg_pool {samples['psycopg_pool'][-1]:.2f} s",
                    flush=True,
                )
        finally:
            ours.disconnect()
            theirs.close()
    return [
        Result(
            case=f"ha: write recovery after kill -9 of the leader (median of {FAULTS})",
            metric="seconds",
            candidate=statistics.median(samples["pgmonkey"]),
            baseline_name="psycopg_pool, default settings",
            baseline=statistics.median(samples["psycopg_pool"]),
            extra={"samples": samples, "errors": error_counts, "timings": cluster.timings},
        ),
        Result(
            case=f"ha: failed writes during {FAULTS} faults",
            metric="errors",
            candidate=error_counts["pgmonkey"],
            baseline_name="psycopg_pool, default settings",
            baseline=error_counts["psycopg_pool"],
        ),
    ]
