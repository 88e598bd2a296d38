"""The cost of OpenTelemetry metrics: a pool borrow + ``SELECT 1`` recording vs ``metrics: false``.

Both pools are pgmonkey pools of the same size on the same server; the candidate reports to an
SDK MeterProvider with an in-memory reader (the reader collects once at the end, as a scrape
would), the baseline has ``pool_settings.metrics: false``. Paired ABBA rounds, the median of
the per-pair ratios, as in ``bench_pool``. The borrows queue their durations; recording them
into the SDK's histograms happens at collection, whose cost per borrow is reported in
``extra`` (``collect_us_per_borrow``).
"""

from __future__ import annotations

import time
from typing import Any

from _harness import Result
from bench_pool import SYNC_OPS, _abba, _config, _paired
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from pgmonkey import _metrics
from pgmonkey.connections import ConnectionPool


def _timed(pool: ConnectionPool) -> float:
    start = time.perf_counter()
    for _ in range(SYNC_OPS):
        with pool as c:
            c.execute("SELECT 1").fetchone()
    return time.perf_counter() - start


def _sync(cfg: dict[str, Any]) -> Result:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    _metrics.set_meter_provider(provider)
    try:
        recording = ConnectionPool(cfg)
        recording.open()
    finally:
        _metrics.set_meter_provider(None)
    quiet = ConnectionPool({**cfg, "pool_settings": {**cfg["pool_settings"], "metrics": False}})
    quiet.open()
    cand, base, extra = _paired(_abba(lambda: _timed(recording), lambda: _timed(quiet)), SYNC_OPS)
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


def run(ctx: dict[str, Any]) -> list[Result]:
    return [_sync(_config(ctx["server"]))]
