"""Shared test configuration.

The servers come from :mod:`pgmonkey.testing`, whose pytest plugin is registered by installing
pgmonkey-core (the ``pytest11`` entry point): ``pg_server`` for the session, ``pg_database``
for a fresh database.
"""

from collections.abc import Iterator
from typing import Any

import pytest

from tests._drain import drain_server  # noqa: F401  (a fixture for the drain tests)


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
