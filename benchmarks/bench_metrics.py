"""The cost of OpenTelemetry metrics: a block + ``SELECT 1`` recording vs ``metrics: false``.

Like with like: each row times ONE pgmonkey object, whose rounds alternate between recording
and not recording, so both sides borrow the same connections and talk to the same server
processes. (Two objects mean two sets of server backends, and on a small shared machine the
scheduler can serve one set several times slower than the other for minutes: that, not
pgmonkey, once made a row read 0.21.) The non-recording side is exactly what
``metrics: false`` builds:

* a pool's baseline rounds run with psycopg_pool's own ``ConnectionPool`` class (the class of
  a ``metrics: false`` pool, checked below), its recording rounds with pgmonkey's timed
  subclass;
* a ``normal`` connection's baseline rounds run without its recorder (``metrics: false``
  leaves it ``None``).

Paired ABBA rounds, the median of the per-pair ratios, as in ``bench_pool``. The recording
side reports to an SDK MeterProvider with an in-memory reader, which collects once at the
end, as a scrape would: the borrows only queue their durations, and the SDK's own cost of
recording them (several µs per value) is paid at collection, by the collecting thread. The
pool row reports that cost per borrow in ``extra`` (``collect_us_per_borrow``), with the CPU
time per borrow on each side without any SQL (``cpu_us_per_borrow_on``/``_off``: the
Python-side cost, which a busy machine disturbs far less than wall-clock time). A further row,
reported only, adds the collection's cost per borrow to the recording side.

The ``normal`` rows: a block on the open connection, a whole connect + ``SELECT 1`` + close,
and a block recording to opentelemetry-api's placeholder provider (an application that never
set up a MeterProvider).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg_pool
from _harness import Result
from bench_pool import SYNC_OPS, _abba, _config, _paired
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from pgmonkey import _metrics
from pgmonkey.connections import Connection, ConnectionPool
from pgmonkey.connections._timed_pools import TimedConnectionPool

CONNECTS = 20  # connect + SELECT 1 + close, per round and side
CPU_BORROWS = 5000  # getconn/putconn per CPU-time sample
CPU_SAMPLES = 21

_T = TypeVar("_T")


def _blocks(target: Connection | ConnectionPool) -> float:
    start = time.perf_counter()
    for _ in range(SYNC_OPS):
        with target as c:
            c.execute("SELECT 1").fetchone()
    return time.perf_counter() - start


def _connects(conn: Connection) -> float:
    start = time.perf_counter()
    for _ in range(CONNECTS):
        with conn as c:
            c.execute("SELECT 1").fetchone()
        conn.disconnect()
    return time.perf_counter() - start


def _recording(make: Callable[[], _T]) -> tuple[_T, InMemoryMetricReader, MeterProvider]:
    """``make()`` reporting to an SDK MeterProvider with an in-memory reader.

    ``make`` must attach the recorder: open the pool, or create the connection object.
    """
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    _metrics.set_meter_provider(provider)
    try:
        return make(), reader, provider
    finally:
        _metrics.set_meter_provider(None)


def _pool_class(pool: ConnectionPool, recording: bool) -> Callable[[], float]:
    """A round of blocks on ``pool`` with its metrics recording or not (psycopg_pool's class)."""
    cls = TimedConnectionPool if recording else psycopg_pool.ConnectionPool

    def run() -> float:
        pool.pool.__class__ = cls
        return _blocks(pool)

    return run


def _cpu_per_borrow(pool: psycopg_pool.ConnectionPool[Any], reader: Any) -> dict[str, float]:
    """Median CPU time (µs, this thread) of a ``getconn()`` + ``putconn()``, no SQL.

    Measured with the timed class (``on``) and psycopg_pool's (``off``) alternately; the
    reader collects after each recording sample, outside the measurement.
    """
    samples: dict[str, list[float]] = {"on": [], "off": []}
    for i in range(CPU_SAMPLES * 2):
        key = "on" if i % 2 else "off"
        pool.__class__ = TimedConnectionPool if key == "on" else psycopg_pool.ConnectionPool
        get, put = pool.getconn, pool.putconn
        start = time.thread_time_ns()
        for _ in range(CPU_BORROWS):
            put(get())
        samples[key].append((time.thread_time_ns() - start) / CPU_BORROWS / 1000)
        reader.get_metrics_data()
    pool.__class__ = TimedConnectionPool
    return {f"cpu_us_per_borrow_{key}": statistics.median(v) for key, v in samples.items()}


def _pool(cfg: dict[str, Any]) -> list[Result]:
    quiet = ConnectionPool({**cfg, "pool_settings": {**cfg["pool_settings"], "metrics": False}})
    quiet.open()
    # What metrics: false builds is psycopg_pool's own class: the baseline rounds use it.
    assert type(quiet.pool) is psycopg_pool.ConnectionPool
    quiet.disconnect()

    def opened() -> ConnectionPool:
        made = ConnectionPool(cfg)
        made.open()  # the recorder attaches when the pool opens
        return made

    pool, reader, provider = _recording(opened)
    assert type(pool.pool) is TimedConnectionPool
    on, off = _pool_class(pool, True), _pool_class(pool, False)
    cand, base, extra = _paired(_abba(on, off), SYNC_OPS)
    # The durations queued by the borrows are recorded when the reader collects: report what
    # that costs per borrow (paid by the collecting thread, e.g. a Prometheus scrape).
    borrows = (3 + extra["rounds"]) * SYNC_OPS  # warm-up rounds included
    start = time.thread_time_ns()  # collecting is CPU work in this thread
    collected = reader.get_metrics_data()
    extra["collect_us_per_borrow"] = (time.thread_time_ns() - start) / borrows / 1000
    assert collected is not None, "the pool reported nothing"
    extra.update(_cpu_per_borrow(pool.pool, reader))
    pool.disconnect()
    provider.shutdown()
    baseline_name = "the same pool and connections, psycopg_pool's class (metrics: false)"
    return [
        Result(
            case="pool borrow + SELECT 1, metrics on (sync)",
            metric="µs/op",
            candidate=cand,
            baseline_name=baseline_name,
            baseline=base,
            target_ratio=1.05,
            extra=extra,
        ),
        # Reported only: the same plus the SDK's recording of the borrow's two durations,
        # which the collecting thread pays (the CPU a busy process spends per borrow).
        Result(
            case="the same + its share of the collection",
            metric="µs/op",
            candidate=cand + extra["collect_us_per_borrow"],
            baseline_name=baseline_name,
            baseline=base,
        ),
    ]


def _normal(
    cfg: dict[str, Any], case: str, timed: Callable[[Connection], float], ops: int, sdk: bool
) -> Result:
    normal = {**cfg, "connection_type": "normal"}
    reader = provider = None
    if sdk:  # the recorder attaches when the object is made
        conn, reader, provider = _recording(lambda: Connection(normal))
    else:
        conn = Connection(normal)  # opentelemetry-api's global provider: none set up
    recorder = conn._metrics
    assert recorder is not None
    assert Connection({**normal, "metrics": False})._metrics is None  # what the baseline runs

    def side(metrics: _metrics.PoolMetrics | None) -> Callable[[], float]:
        def run() -> float:
            conn._metrics = metrics
            return timed(conn)

        return run

    cand, base, extra = _paired(_abba(side(recorder), side(None)), ops)
    conn._metrics = recorder
    if reader is not None and provider is not None:
        assert reader.get_metrics_data() is not None  # collect once, as a scrape would
        provider.shutdown()
    conn.disconnect()
    return Result(
        case=case,
        metric="µs/op",
        candidate=cand,
        baseline_name="the same connection object without its recorder (metrics: false)",
        baseline=base,
        target_ratio=1.05,
        extra=extra,
    )


def run(ctx: dict[str, Any]) -> list[Result]:
    cfg = _config(ctx["server"])
    return [
        *_pool(cfg),
        _normal(cfg, "normal block + SELECT 1, metrics on", _blocks, SYNC_OPS, sdk=True),
        _normal(
            cfg, "normal connect + SELECT 1 + close, metrics on", _connects, CONNECTS, sdk=True
        ),
        _normal(
            cfg, "normal block + SELECT 1, no MeterProvider set up", _blocks, SYNC_OPS, sdk=False
        ),
    ]
