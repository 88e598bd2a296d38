"""The extension's borrows are timed by the pool's metrics (pool getconn/putconn)."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from pgmonkey_fastapi import PGMonkeyFastAPI
from tests._metrics_helpers import borrows

from .apps import APPS
from .conftest import ClientFactory, Database

REQUESTS = 3


@pytest.mark.parametrize("connection_type", ["async_pool", "pool"])
def test_each_request_borrow_is_timed(
    db: Database,
    client_factory: ClientFactory,
    reader: InMemoryMetricReader,
    connection_type: str,
) -> None:
    pg = PGMonkeyFastAPI(db.config, connection_type)
    with client_factory(APPS[connection_type](pg)) as client:
        assert client.get("/items").json() == []  # the pool is open and has lent once
        [(pool, (waits, uses))] = borrows(reader).items()
        for _ in range(REQUESTS):
            assert client.get("/items").status_code == 200
        assert borrows(reader) == {pool: (waits + REQUESTS, uses + REQUESTS)}
