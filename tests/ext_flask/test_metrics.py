"""The extension's borrows are timed by the pool's metrics (pool getconn/putconn)."""

from __future__ import annotations

from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from tests._metrics_helpers import borrows
from tests.ext_flask.conftest import AppFactory, Database

REQUESTS = 3


def test_each_request_borrow_is_timed(
    db: Database, make_app: AppFactory, reader: InMemoryMetricReader
) -> None:
    app = make_app()
    client = app.test_client()
    assert client.get("/count").json == {"count": 0}  # opens the pool
    pool = app.extensions["pgmonkey"].existing_pools()["default"].name
    waits, uses = borrows(reader)[pool]
    for _ in range(REQUESTS):
        assert client.get("/count").status_code == 200
    assert client.get("/noop").status_code == 200  # borrows nothing
    assert borrows(reader)[pool] == (waits + REQUESTS, uses + REQUESTS)
