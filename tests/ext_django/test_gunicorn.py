"""Load: the test project under a real gunicorn (2 workers, ``--preload``), >= 2,000 requests.

The master opens a database connection while loading the app (``--preload`` with
``PGMONKEY_DJANGO_CONNECT_AT_IMPORT=1``), the trap of Django ticket #36957: the app's fork
safety makes the workers forget it. Afterwards no session may be left behind.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests._process import stop_cleanly
from tests.ext_django.conftest import (
    POOL_MAX,
    POOLING,
    ROOT,
    STATEMENT_TIMEOUT,
    Project,
    project_env,
    write_project_yaml,
)

LOAD_APP_NAME = "pgm-django-load"
WORKERS = 2
THREADS = 4
CLIENTS = 16
REQUESTS = 2000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_serving(port: int, proc: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"gunicorn exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/info/")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("gunicorn did not answer in time")


def client(port: int, count: int) -> list[tuple[int, dict[str, Any]]]:
    """``count`` keep-alive requests on one connection (reconnecting when needed)."""
    results: list[tuple[int, dict[str, Any]]] = []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for i in range(count):
            path = "/create/?name=load" if i % 4 == 0 else "/info/"
            try:
                conn.request("GET", path)
                response = conn.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request("GET", path)
                response = conn.getresponse()
            body = response.read()
            results.append((response.status, json.loads(body) if response.status == 200 else {}))
    finally:
        conn.close()
    return results


@pytest.mark.slow
def test_gunicorn_load(project: Project, tmp_path: Path) -> None:
    pytest.importorskip("gunicorn")
    yaml_dir = tmp_path / "yaml"
    yaml_dir.mkdir()
    write_project_yaml(yaml_dir, project.server, project.dbname, application_name=LOAD_APP_NAME)
    port = free_port()
    env = {
        **project_env(yaml_dir),
        "PGMONKEY_DJANGO_FORK_SAFETY": "1",
        "PGMONKEY_DJANGO_CONNECT_AT_IMPORT": "1",
        "PGMONKEY_DJANGO_MASTER_BACKEND_FILE": str(tmp_path / "master_backend"),
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--preload",
        "--workers",
        str(WORKERS),
        "--worker-class",
        "gthread",
        "--threads",
        str(THREADS),
        "--bind",
        f"127.0.0.1:{port}",
        "--graceful-timeout",
        "10",
        "--log-level",
        "warning",
        "tests.ext_django.project.wsgi:application",
    ]
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        wait_until_serving(port, proc)
        per_client = REQUESTS // CLIENTS
        with ThreadPoolExecutor(CLIENTS) as executor:
            batches = list(executor.map(lambda _: client(port, per_client), range(CLIENTS)))
        results = [r for batch in batches for r in batch]
        assert len(results) >= REQUESTS
        statuses = Counter(status for status, _ in results)
        assert statuses == {200: len(results)}, statuses
        assert {body["statement_timeout"] for _, body in results} == {STATEMENT_TIMEOUT}
        workers = {body["worker"] for _, body in results}
        assert 1 <= len(workers) <= WORKERS
        # While gunicorn still runs: only idle pooled/closed sessions, nothing in a transaction.
        sessions = project.sessions(LOAD_APP_NAME)
        assert all(state == "idle" for _, state in sessions), sessions
        # The workers never talked through the session the master opened before forking.
        master_backend = int((tmp_path / "master_backend").read_text())
        backends = {body["backend"] for _, body in results}
        assert master_backend not in backends
        worker_sessions = [pid for pid, _ in sessions if pid != master_backend]
        if POOLING:
            # The master's pool holds <= 2 more (min_size 1 + one grown for its getconn).
            assert len(worker_sessions) <= WORKERS * POOL_MAX + 1
            assert len(backends) <= WORKERS * POOL_MAX
        else:
            assert worker_sessions == []
    finally:
        stop_cleanly(proc)
    deadline = time.monotonic() + 15
    while project.sessions(LOAD_APP_NAME) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert project.sessions(LOAD_APP_NAME) == []
