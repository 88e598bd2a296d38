"""Real servers: gunicorn ``--preload`` with 2 workers, and a load test against ``max_size`` 4.

The app module is written into ``tmp_path``. While loading it, the gunicorn master borrows a
connection (so a pool exists before the fork, the ``--preload`` trap); the workers must forget
that pool and build their own, and the master's session must stay alive. Afterwards no
session may be left behind.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests._process import stop_cleanly
from tests.ext_flask.conftest import Database

APP_MODULE = textwrap.dedent(
    """
    import json
    import os
    from pathlib import Path

    from flask import Flask

    from pgmonkey_flask import PGMonkey

    HERE = Path(__file__).parent
    pg = PGMonkey()
    app = Flask(__name__)
    app.config["PGMONKEY_CONFIG"] = json.loads((HERE / "cfg.json").read_text())
    app.config["PGMONKEY_COMMIT_MODE"] = "autocommit"
    pg.init_app(app)

    # With --preload this runs in the master, before the workers are forked.
    with app.app_context():
        (MASTER_BACKEND,) = pg.connection().execute("SELECT pg_backend_pid()").fetchone()
    (HERE / "master_backend").write_text(str(MASTER_BACKEND))

    @app.get("/info")
    def info():
        conn = pg.connection()
        (backend,) = conn.execute("SELECT pg_backend_pid()").fetchone()
        return {"worker": os.getpid(), "backend": backend}

    @app.post("/hit")
    def hit():
        conn = pg.connection()
        (backend,) = conn.execute(
            "INSERT INTO items (name) VALUES (%s) RETURNING pg_backend_pid()",
            [str(os.getpid())],
        ).fetchone()
        return {"worker": os.getpid(), "backend": backend}, 201
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def gunicorn(
    db: Database, tmp_path: Path, *, workers: int, threads: int, max_size: int
) -> Iterator[tuple[int, int]]:
    """Run the app under gunicorn; yields ``(port, master_backend_pid)``."""
    (tmp_path / "cfg.json").write_text(
        json.dumps(db.config(min_size=1, max_size=max_size, timeout=20)), encoding="utf-8"
    )
    (tmp_path / "flaskapp.py").write_text(APP_MODULE, encoding="utf-8")
    port = free_port()
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        "--preload",
        f"--workers={workers}",
        "--worker-class=gthread",
        f"--threads={threads}",
        f"--bind=127.0.0.1:{port}",
        "--graceful-timeout=10",
        "--log-level=warning",
        "flaskapp:app",
    ]
    proc = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        wait_until_serving(port, proc)
        yield port, int((tmp_path / "master_backend").read_text())
    finally:
        output = stop_cleanly(proc)
    assert "rolling back returned connection" not in output, output


def wait_until_serving(port: int, proc: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"gunicorn exited with {proc.returncode}: {out}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/info")
            ok = conn.getresponse().status == 200
            conn.close()
            if ok:
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("gunicorn did not answer in time")


def client(port: int, count: int, *, keep_alive: bool) -> list[tuple[int, dict[str, Any]]]:
    """``count`` requests (one in four is a write); one TCP connection unless not keep_alive."""
    results: list[tuple[int, dict[str, Any]]] = []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        for i in range(count):
            method, path = ("POST", "/hit") if i % 4 == 0 else ("GET", "/info")
            headers = {} if keep_alive else {"Connection": "close"}
            try:
                conn.request(method, path, headers=headers)
                response = conn.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                conn.request(method, path, headers=headers)
                response = conn.getresponse()
            body = response.read()
            ok = response.status in (200, 201)
            results.append((response.status, json.loads(body) if ok else {"body": body}))
            if not keep_alive:
                conn.close()
    finally:
        conn.close()
    return results


def hammer(port: int, clients: int, requests: int, *, keep_alive: bool) -> list[dict[str, Any]]:
    per_client = requests // clients
    with ThreadPoolExecutor(clients) as pool:
        batches = list(
            pool.map(lambda _: client(port, per_client, keep_alive=keep_alive), range(clients))
        )
    results = [r for batch in batches for r in batch]
    assert len(results) == per_client * clients
    statuses = Counter(status for status, _ in results)
    assert set(statuses) <= {200, 201}, statuses
    return [body for _, body in results]


def wait_for_no_sessions(db: Database, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while db.sessions() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert db.sessions() == []


@pytest.mark.slow
def test_preload_two_workers_each_build_their_own_pool(db: Database, tmp_path: Path) -> None:
    with gunicorn(db, tmp_path, workers=2, threads=4, max_size=4) as (port, master):
        bodies = hammer(port, clients=8, requests=400, keep_alive=False)
        by_worker: dict[int, set[int]] = {}
        for body in bodies:
            by_worker.setdefault(body["worker"], set()).add(body["backend"])
        assert len(by_worker) == 2, by_worker
        first, second = by_worker.values()
        assert not first & second  # distinct backend pids per worker
        assert master not in first | second  # the master's pooled connection was not shared
        for backends in by_worker.values():
            assert len(backends) <= 4
        sessions = dict(db.sessions())
        assert sessions.get(master) == "idle"  # the parent's session is alive
        assert all(state == "idle" for state in sessions.values()), sessions
        writes = 8 * len(range(0, 400 // 8, 4))  # every 4th request of each client
        assert len(db.names()) == writes  # autocommit mode committed every 201
    wait_for_no_sessions(db)


@pytest.mark.slow
def test_load_2000_requests_16_clients_max_size_4(db: Database, tmp_path: Path) -> None:
    requests, clients, max_size = 2000, 16, 4
    with gunicorn(db, tmp_path, workers=1, threads=clients, max_size=max_size) as (port, master):
        bodies = hammer(port, clients=clients, requests=requests, keep_alive=True)
        backends = {body["backend"] for body in bodies}
        assert len(backends) <= max_size
        assert master not in backends
        sessions = db.sessions()
        # The worker's pool (<= max_size) and the master's (1); nothing left in a transaction.
        assert len(sessions) <= max_size + 1, sessions
        assert all(state == "idle" for _, state in sessions), sessions
        writes = clients * len(range(0, requests // clients, 4))
        assert len(db.names()) == writes
    wait_for_no_sessions(db)
