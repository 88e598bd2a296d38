"""Metrics before the application sets up a MeterProvider: dormant, free, then woken.

The global MeterProvider can be set once per process, so each case runs in its own
interpreter.
"""

from __future__ import annotations

import json
from typing import Any

from tests._metrics_helpers import run_script

SCRIPT = """
import asyncio, json, sys
import psycopg_pool
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from pgmonkey.connections import AsyncConnectionPool, Connection, ConnectionPool

cfg = json.loads(sys.argv[1])
pool = ConnectionPool({**cfg, "pool_settings": {"min_size": 1, "max_size": 2, "name": "early"}})
apool = AsyncConnectionPool(
    {**cfg, "async_pool_settings": {"min_size": 1, "max_size": 2, "name": "early-async"}}
)
conn = Connection({**cfg, "connection_type": "normal"})
loop = asyncio.new_event_loop()

async def async_blocks(n):
    for _ in range(n):
        async with apool as c:
            await c.execute("SELECT 1")

def blocks(n):
    for _ in range(n):
        for target in (pool, conn):
            with target as c:
                c.execute("SELECT 1")
    pool.pool.putconn(pool.pool.getconn())  # a borrow outside pgmonkey's blocks
    loop.run_until_complete(async_blocks(n))

def queued():
    return [len(r._waits) + len(r._uses) for r in (pool._metrics, apool._metrics, conn._metrics)]

blocks(5)
out = {
    "before": [type(pool.pool).__name__, type(apool.pool).__name__],
    "live_before": [pool._metrics.live, apool._metrics.live, conn._metrics.live],
    "queued_before": queued(),
}
borrowed = pool.pool.getconn()  # lent while dormant, returned once timed: not counted
reader = InMemoryMetricReader()
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
blocks(2)  # set up, but nothing collected yet: still dormant
reader.get_metrics_data()  # the first collection wakes the recorders
pool.pool.putconn(borrowed)
out["after"] = [type(pool.pool).__name__, type(apool.pool).__name__]
blocks(3)
counts = {}
for resource in reader.get_metrics_data().resource_metrics:
    for scope in resource.scope_metrics:
        for metric in scope.metrics:
            for point in metric.data.data_points:
                name = point.attributes["db.client.connection.pool.name"]
                if metric.name.endswith(("wait_time", "use_time")):
                    counts[metric.name.rsplit(".", 1)[1] + " " + name] = point.count
out["counts"] = counts
print(json.dumps(out))
pool.disconnect()
conn.disconnect()
loop.run_until_complete(apool.disconnect())
"""


def test_recorders_made_before_a_meter_provider_cost_nothing_until_the_first_collection(
    pg_database: dict[str, Any],
) -> None:
    out = json.loads(run_script(SCRIPT, pg_database))
    # No MeterProvider: psycopg_pool's own classes, nothing timed, nothing queued.
    assert out["before"] == ["ConnectionPool", "AsyncConnectionPool"]
    assert out["live_before"] == [False, False, False]
    assert out["queued_before"] == [0, 0, 0]
    # Woken by the first collection: every borrow from then on is timed, and only those.
    assert out["after"] == ["TimedConnectionPool", "TimedAsyncConnectionPool"]
    borrows = 3 + 1  # three blocks and one getconn/putconn
    assert out["counts"] == {
        "wait_time early": borrows,
        "use_time early": borrows,
        "wait_time early-async": 3,
        "use_time early-async": 3,
        "wait_time connection-1": 3,
        "use_time connection-1": 3,
    }


def test_a_disabled_sdk_leaves_the_metrics_dormant(pg_database: dict[str, Any]) -> None:
    script = (
        "import json, os, sys\n"
        "os.environ['OTEL_SDK_DISABLED'] = 'true'\n"
        "from opentelemetry import metrics\n"
        "from opentelemetry.sdk.metrics import MeterProvider\n"
        "from pgmonkey.connections import ConnectionPool\n"
        "metrics.set_meter_provider(MeterProvider())\n"
        "pool = ConnectionPool(json.loads(sys.argv[1]))\n"
        "with pool as conn:\n"
        "    conn.execute('SELECT 1')\n"
        "print(type(pool.pool).__name__, pool._metrics.live, len(pool._metrics._waits))\n"
        "pool.disconnect()\n"
    )
    cfg = {**pg_database, "pool_settings": {"min_size": 1, "max_size": 1}}
    assert run_script(script, cfg).split() == ["ConnectionPool", "False", "0"]
