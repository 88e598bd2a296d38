"""pgmonkey's pool metrics, read by the OpenTelemetry SDK the application configured."""

from concurrent.futures import ThreadPoolExecutor

from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from pgmonkey import PGConnectionManager

# The application's choice: here an in-memory reader; in production a Prometheus or OTLP one.
reader = InMemoryMetricReader()
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))

manager = PGConnectionManager()
pool = manager.get_database_connection("config.yaml", "pool")


def work(n: int) -> int:
    with pool as conn:
        return conn.execute("SELECT %s::int", [n]).fetchone()[0]


with ThreadPoolExecutor(max_workers=8) as executor:
    print("sum:", sum(executor.map(work, range(100))))

seen = {}
for resource in reader.get_metrics_data().resource_metrics:
    for scope in resource.scope_metrics:
        for metric in scope.metrics:
            for point in metric.data.data_points:
                state = point.attributes.get("db.client.connection.state")
                name = metric.name + (f"[{state}]" if state else "")
                seen[name] = getattr(point, "count", getattr(point, "value", None))
print("borrows timed:", seen["db.client.connection.wait_time"])
print("max:", seen["db.client.connection.max"])
print("metrics:", ", ".join(sorted(seen)))
manager.clear_cache()
