"""Fixtures of the core tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def reader() -> Iterator[Any]:
    """An OpenTelemetry SDK in-memory reader that the connections opened in the test report to."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from pgmonkey import _metrics

    memory = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[memory])
    _metrics.set_meter_provider(provider)
    try:
        yield memory
    finally:
        _metrics.set_meter_provider(None)
        provider.shutdown()
