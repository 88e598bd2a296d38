"""pgmonkey's metrics served to Prometheus by OpenTelemetry's Prometheus exporter."""

import urllib.request
from concurrent.futures import ThreadPoolExecutor

from opentelemetry import metrics
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client import start_http_server

from pgmonkey import PGConnectionManager

# The application's choice: a Prometheus scrape endpoint. Port 0 takes a free port for this
# example; a service listens on a fixed one (9464 is the exporter's usual port).
server, _thread = start_http_server(port=0, addr="127.0.0.1")
metrics.set_meter_provider(MeterProvider(metric_readers=[PrometheusMetricReader()]))

manager = PGConnectionManager()
pool = manager.get_database_connection("config.yaml", "pool")
conn = manager.get_database_connection("config.yaml", "normal")


def work(n: int) -> int:
    with pool as c:
        return c.execute("SELECT %s::int", [n]).fetchone()[0]


with ThreadPoolExecutor(max_workers=8) as executor:
    print("sum:", sum(executor.map(work, range(100))))
with conn as c:
    c.execute("SELECT 1")

# What Prometheus scrapes: GET /metrics.
url = f"http://127.0.0.1:{server.server_port}/metrics"
with urllib.request.urlopen(url, timeout=10) as response:
    text = response.read().decode()
series = sorted({line.split("{")[0] for line in text.splitlines() if line.startswith("db_")})
print("series:", ", ".join(series))
for line in text.splitlines():
    if line.startswith("db_client_connection_wait_time_seconds_count"):
        print(line)
server.shutdown()
manager.clear_cache()
