"""Reading what pgmonkey reported to an OpenTelemetry SDK in-memory reader."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from opentelemetry.sdk.metrics.export import InMemoryMetricReader

NAME = "db.client.connection.pool.name"
STATE = "db.client.connection.state"


def points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    """Every data point pgmonkey's meter reported, by metric name (collects now)."""
    data = reader.get_metrics_data()
    out: dict[str, list[Any]] = {}
    if data is None:
        return out
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            assert scope.scope.name == "pgmonkey"
            for metric in scope.metrics:
                out.setdefault(metric.name, []).extend(metric.data.data_points)
    return out


def values(series: list[Any], pool: str, **extra: str) -> list[Any]:
    """The points of ``series`` whose attributes are exactly the pool name and ``extra``."""
    wanted = {NAME: pool, **extra}
    return [p for p in series if dict(p.attributes) == wanted]


def value(found: dict[str, list[Any]], metric: str, pool: str, **extra: str) -> Any:
    """The one point of ``metric`` for ``pool``: its ``value``, or its ``count`` (histograms)."""
    matching = values(found.get(metric, []), pool, **extra)
    assert len(matching) == 1, (metric, pool, extra, matching)
    point = matching[0]
    return point.count if hasattr(point, "bucket_counts") else point.value


def assert_no_secret(found: dict[str, list[Any]], *secrets: str) -> None:
    """No attribute of any point names a secret (and only the two known attributes exist)."""
    assert all(secrets)
    for series in found.values():
        for point in series:
            attributes = dict(point.attributes)
            assert set(attributes) <= {NAME, STATE}
            for text in attributes.values():
                assert not any(secret in str(text) for secret in secrets), text


def run_script(script: str, cfg: dict[str, Any]) -> str:
    """What ``script`` prints, run by a fresh interpreter with ``cfg`` as JSON in ``argv[1]``.

    For what one process can do only once (setting the global MeterProvider) or must not
    have imported.
    """
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(cfg)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def borrows(reader: InMemoryMetricReader) -> dict[str, tuple[int, int]]:
    """The timed borrows of each pool so far: ``{pool name: (wait_time, use_time) counts}``."""
    found = points(reader)
    counts: dict[str, list[int]] = {}
    for slot, metric in enumerate(("wait_time", "use_time")):
        for point in found.get(f"db.client.connection.{metric}", []):
            counts.setdefault(point.attributes[NAME], [0, 0])[slot] = point.count
    return {name: (wait, use) for name, (wait, use) in counts.items()}
