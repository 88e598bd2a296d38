"""The cost of OpenTelemetry metrics: a block + ``SELECT 1`` recording vs ``metrics: false``.

Both pools are pgmonkey pools of the same size on the same server; the candidate reports to an
SDK MeterProvider with an in-memory reader (the reader collects once at the end, as a scrape
would), the baseline has ``pool_settings.metrics: false``. Paired ABBA rounds, the median of
the per-pair ratios, as in ``bench_pool``. The borrows queue their durations; recording them
into the SDK's histograms happens at collection, whose cost per borrow is reported in
``extra`` (``collect_us_per_borrow``).

The ``normal`` type gets the same comparison for a block on its open connection and for a
whole connect + ``SELECT 1`` + close, and once more with no MeterProvider configured at all
(opentelemetry-api's own no-op provider, what an application that never set one up gets).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from _harness import Result
from bench_pool import SYNC_OPS, _abba, _config, _paired
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from pgmonkey import _metrics
from pgmonkey.connections import Connection, ConnectionPool

CONNECTS = 20  # connect + SELECT 1 + close, per round and side

_T = TypeVar("_T")


def _blocks(target: Connection | ConnectionPool) -> float:
    start = time.perf_counter()
    for _ in range(SYNC_OPS):
        with target as c:
            c.execute("SELECT 1").fetchone()
    return time.perf_counter() - start


def _recording(make: Callable[[], _T]) -> tuple[_T, InMemoryMetricReader, MeterProvider]:
    """``make()`` reporting to an SDK MeterProvider with an in-memory reader."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    _metrics.set_meter_provider(provider)
    try:
        return make(), reader, provider
    finally:
        _metrics.set_meter_provider(None)


def _sync(cfg: dict[str, Any]) -> Result:
    recording, reader, provider = _recording(lambda: ConnectionPool(cfg))
    recording.open()
    quiet = ConnectionPool({**cfg, "pool_settings": {**cfg["pool_settings"], "metrics": False}})
    quiet.open()
    cand, base, extra = _paired(
        _abba(lambda: _blocks(recording), lambda: _blocks(quiet)), SYNC_OPS
    )
    # The durations queued by the borrows are recorded when the reader collects: report what
    # that costs per borrow (paid by the collecting thread, e.g. a Prometheus scrape).
    borrows = (3 + extra["rounds"]) * SYNC_OPS  # warm-up rounds included
    start = time.perf_counter()
    collected = reader.get_metrics_data()
    extra["collect_us_per_borrow"] = (time.perf_counter() - start) / borrows * 1e6
    extra["metrics_collected"] = collected is not None
    recording.disconnect()
    quiet.disconnect()
    provider.shutdown()
    return Result(
        case="pool borrow + SELECT 1, metrics on (sync)",
        metric="µs/op",
        candidate=cand,
        baseline_name="the same pool with metrics: false",
        baseline=base,
        target_ratio=1.05,
        extra=extra,
    )


def _connects(conn: Connection) -> float:
    start = time.perf_counter()
    for _ in range(CONNECTS):
        with conn as c:
            c.execute("SELECT 1").fetchone()
        conn.disconnect()
    return time.perf_counter() - start


def _normal(
    cfg: dict[str, Any], case: str, timed: Callable[[Connection], float], ops: int, sdk: bool
) -> Result:
    normal = {**cfg, "connection_type": "normal"}
    quiet = Connection({**normal, "metrics": False})
    provider = None
    if sdk:
        recording, reader, provider = _recording(lambda: Connection(normal))
    else:
        recording = Connection(normal)  # opentelemetry-api's global provider: none set up
    cand, base, extra = _paired(_abba(lambda: timed(recording), lambda: timed(quiet)), ops)
    if provider is not None:
        reader.get_metrics_data()  # collect once, as a scrape would
        provider.shutdown()
    recording.disconnect()
    quiet.disconnect()
    return Result(
        case=case,
        metric="µs/op",
        candidate=cand,
        baseline_name="the same with metrics: false",
        baseline=base,
        target_ratio=1.05,
        extra=extra,
    )


def run(ctx: dict[str, Any]) -> list[Result]:
    cfg = _config(ctx["server"])
    return [
        _sync(cfg),
        _normal(cfg, "normal block + SELECT 1, metrics on", _blocks, SYNC_OPS, sdk=True),
        _normal(
            cfg, "normal connect + SELECT 1 + close, metrics on", _connects, CONNECTS, sdk=True
        ),
        _normal(
            cfg, "normal block + SELECT 1, no MeterProvider set up", _blocks, SYNC_OPS, sdk=False
        ),
    ]
