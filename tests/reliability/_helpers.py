"""Small helpers shared by the reliability tests."""

from __future__ import annotations

import statistics
import time
from typing import Any

from pgmonkey.testing import PostgresServer


def sessions(
    server: PostgresServer, application_name: str, *, settle_to: int | None = None
) -> int:
    """Client backends of ``application_name`` on the server (pg_stat_activity).

    Args:
        server: The server to look at.
        application_name: The sessions' ``application_name``.
        settle_to: Poll for up to 5 s until the count is this: a backend whose client just
            closed its socket may still be exiting. A leak still shows after the wait.
    """
    deadline = time.monotonic() + 5.0
    while True:
        rows = server.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE application_name = %s AND backend_type = 'client backend'",
            (application_name,),
        )
        count = int(rows[0][0])
        if settle_to is None or count == settle_to or time.monotonic() > deadline:
            return count
        time.sleep(0.05)


def rss_kib() -> int:
    """Resident set size of this process in KiB (Linux)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def percentiles_ms(samples: list[float]) -> dict[str, float]:
    """p50/p99/max of latencies given in seconds, in milliseconds."""
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {
        "p50_ms": cuts[49] * 1000,
        "p99_ms": cuts[98] * 1000,
        "max_ms": max(samples) * 1000,
    }


def pool_config(
    server: PostgresServer, application_name: str, **pool_settings: Any
) -> dict[str, Any]:
    """A config for the server's ``postgres`` database with both pool sections set."""
    cfg = server.config(application_name=application_name)
    cfg["pool_settings"] = {"min_size": 1, "max_size": 10, "timeout": 30, **pool_settings}
    cfg["async_pool_settings"] = dict(cfg["pool_settings"])
    return cfg
