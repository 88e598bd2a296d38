"""Helpers for the health endpoint tests of the three extensions.

Each module stops and restarts a server of its own (``health_server``), never the session
server the other tests share.
"""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pgmonkey.testing import PostgresServer, start_server
from tests._process import stop_cleanly

STATS = {"pool_min", "pool_max", "pool_size", "pool_available", "requests_waiting"}
"""Keys ``psycopg_pool``'s ``get_stats()`` always reports."""

Fetch = Callable[[], tuple[int, dict[str, Any]]]


@pytest.fixture(scope="module")
def health_server() -> Iterator[PostgresServer]:
    """A throwaway server for one test module, which may stop and start it."""
    with start_server() as server:
        yield server


@pytest.fixture
def running_health_server(health_server: PostgresServer) -> Iterator[PostgresServer]:
    """``health_server``, running at the start and at the end of the test."""
    if not health_server.running:
        health_server.start()
    yield health_server
    if not health_server.running:
        health_server.start()


def eventually_ready(fetch: Fetch) -> dict[str, Any]:
    """Poll readiness after a restart: a pool takes a moment to reconnect (Django: seconds)."""
    deadline = time.monotonic() + 60
    while True:
        status, body = fetch()
        if status == 200 or time.monotonic() > deadline:
            assert status == 200, body
            return body
        time.sleep(0.2)


def http_get(port: int, path: str) -> tuple[int, dict[str, Any]]:
    """``GET path`` on a local server: the status and the JSON body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def assert_outage_cycle(server: PostgresServer, fetch: Callable[[str], Fetch]) -> None:
    """Ready, then (server stopped) 503 with a reason and healthz 200, then ready again."""
    status, body = fetch("/readyz")()
    assert status == 200, body
    assert body["status"] == "ok"
    assert set(body.get("pool", STATS)) >= STATS
    server.stop()
    status, body = fetch("/readyz")()
    assert status == 503, body
    assert body["status"] == "unavailable"
    assert body["reason"]
    assert fetch("/healthz")() == (200, {"status": "ok"})
    server.start()
    assert eventually_ready(fetch("/readyz"))["status"] == "ok"


def serve_through_outage(
    server: PostgresServer,
    command: list[str],
    port: int,
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
    stop_signal: int = signal.SIGTERM,
) -> None:
    """Run ``command`` (a server of the app on ``port``) through :func:`assert_outage_cycle`.

    Waits until ``/healthz`` answers, runs the cycle over HTTP, then stops the process with
    ``stop_signal``: it must exit with status 0 and print no traceback.
    """
    proc = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                http_get(port, "/healthz")
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not answer in time"
                time.sleep(0.2)
        assert_outage_cycle(server, lambda path: lambda: http_get(port, path))
    finally:
        stop_cleanly(proc, stop_signal)
