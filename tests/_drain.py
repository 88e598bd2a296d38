"""Graceful drain under real servers and process managers: SIGTERM with a request in flight.

:func:`drain` runs an app server (gunicorn, uvicorn, or a plain script), sends it one slow
request that holds a transaction open (``pg_sleep`` inside it), waits until the server shows
that statement running, sends SIGTERM, and checks the outcome from the outside:

* the request answers 200 and its write is committed;
* the process exits with status 0 (within the process manager's graceful timeout);
* no session of the app is left in ``pg_stat_activity``;
* the server log has a clean ``disconnection`` line for every backend the app opened, and
  none of the lines a client that did not close properly leaves behind.

The server of these tests logs connections and disconnections, and each database logs at
``DEBUG1``: an idle connection that goes away without the protocol's Terminate message
(``conn.close()``) only shows as "unexpected EOF on client connection" at that level.
"""

from __future__ import annotations

import http.client
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pgmonkey.testing import PostgresServer, start_server

LOG_SETTINGS = {
    "log_connections": "on",
    "log_disconnections": "on",
    "log_line_prefix": "[%p] ",
}
BAD_LINES = (
    "unexpected EOF on client connection",
    "could not receive data from client",
    "could not send data to client",
    "terminating connection",
    "connection to client lost",
)
"""What the server logs for a client that did not close its connection properly."""

SLOW_SQL = "SELECT pg_sleep(1.5)"
"""What the slow endpoints run inside their transaction, after writing their row."""

RUN_CHILD = """
if __name__ == "__main__":
    import multiprocessing, signal, sys, threading

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    context = multiprocessing.get_context(os.environ.get("START_METHOD", "fork"))
    child = context.Process(target=work, args=tuple(sys.argv[1:]))
    child.start()
    stop.wait()
    child.join()
    print("child exit code", child.exitcode)
"""
"""The end of a program that runs its ``work(*argv)`` in a ``multiprocessing`` child.

The child runs the slow transaction and ends (with ``os._exit()`` for the fork and forkserver
start methods, ``START_METHOD`` in the environment, fork by default); the parent waits for
SIGTERM, then for the child. The program needs ``import os`` and a ``work`` function.
"""

_AUTHORIZED = re.compile(r"^\[(\d+)\] LOG:  connection authorized: .*application_name=(\S+)")
_LINE = re.compile(r"^\[(\d+)\] \w+:  (.*)$")


@pytest.fixture(scope="module")
def drain_server() -> Iterator[PostgresServer]:
    """A throwaway server that logs every connection and disconnection."""
    with start_server(settings=LOG_SETTINGS) as server:
        yield server


@dataclass
class DrainDatabase:
    """A fresh database with a table ``drained (name text)`` and its own application name."""

    server: PostgresServer
    dbname: str
    application_name: str = field(default_factory=lambda: f"pgm-drain-{secrets.token_hex(4)}")
    log_offset: int = 0

    @classmethod
    def create(cls, server: PostgresServer) -> DrainDatabase:
        """Create the database; the server log is read from this point on."""
        db = cls(server, f"drain_{secrets.token_hex(4)}")
        server.create_database(db.dbname)
        server.execute(f"ALTER DATABASE {db.dbname} SET log_min_messages = debug1")
        server.execute("CREATE TABLE drained (name text NOT NULL)", dbname=db.dbname)
        db.log_offset = server.logfile.stat().st_size
        return db

    def config(self, connection_type: str = "pool", **pool_settings: Any) -> dict[str, Any]:
        """A pgmonkey configuration for this database and application name."""
        cfg = self.server.config(
            dbname=self.dbname,
            connection_type=connection_type,
            application_name=self.application_name,
        )
        settings = {"min_size": 2, "max_size": 4, "timeout": 10, **pool_settings}
        cfg["pool_settings"] = settings
        cfg["async_pool_settings"] = dict(settings)
        return cfg

    def names(self) -> list[str]:
        """The ``name`` of every committed row of ``drained``."""
        rows = self.server.execute("SELECT name FROM drained ORDER BY name", dbname=self.dbname)
        return [name for (name,) in rows]

    def sessions(self) -> list[tuple[int, str, str]]:
        """``(pid, state, query)`` of the app's sessions."""
        rows = self.server.execute(
            "SELECT pid, state, query FROM pg_stat_activity WHERE application_name = %s",
            [self.application_name],
        )
        return [(int(pid), str(state), str(query)) for pid, state, query in rows]

    def wait_for_slow_statement(self, proc: subprocess.Popen[Any], log: Path) -> None:
        """Return once a session of the app runs :data:`SLOW_SQL`."""
        deadline = time.monotonic() + 60
        while not any(s == "active" and q == SLOW_SQL for _, s, q in self.sessions()):
            assert proc.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "the slow request never reached the server"
            time.sleep(0.02)

    def wait_for_no_sessions(self) -> None:
        """Wait (bounded) until the app has no session left, then assert it."""
        deadline = time.monotonic() + 15
        while self.sessions() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert self.sessions() == []

    def server_log(self) -> list[str]:
        """The server log lines written since :meth:`create`."""
        with self.server.logfile.open("rb") as fh:
            fh.seek(self.log_offset)
            return fh.read().decode(errors="replace").splitlines()

    def assert_clean_disconnections(self) -> set[int]:
        """Every backend of the app logged a clean disconnection and no bad line.

        Returns:
            The pids of the app's backends (at least one).
        """
        lines = self.server_log()
        backends = {
            int(m[1]) for m in map(_AUTHORIZED.match, lines) if m and m[2] == self.application_name
        }
        assert backends, "\n".join(lines)
        by_pid: dict[int, list[str]] = {}
        for m in map(_LINE.match, lines):
            if m:
                by_pid.setdefault(int(m[1]), []).append(m[2])
        for pid in backends:
            messages = by_pid.get(pid, [])
            bad = [msg for msg in messages if msg.startswith(BAD_LINES)]
            assert not bad, f"backend {pid}: {bad}"
            assert any(msg.startswith("disconnection:") for msg in messages), (pid, messages)
        return backends


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def default_signals() -> None:
    """``preexec_fn``: default SIGTERM and SIGINT, whatever the test process inherited."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def request(port: int, method: str, path: str) -> tuple[int, str]:
    """``method path`` on a local server: the status and the body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def wait_until_serving(port: int, path: str, proc: subprocess.Popen[Any], log: Path) -> None:
    """Return once ``GET path`` answers 200; fail if the process exits first."""
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, log.read_text(errors="replace")
        try:
            if request(port, "GET", path)[0] == 200:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, "the server did not answer in time"
        time.sleep(0.1)


@dataclass
class Drained:
    """What :func:`drain` observed."""

    status: int
    body: str
    output: str
    backends: set[int]


def drain(
    db: DrainDatabase,
    command: list[str],
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
    port: int | None = None,
    ready_path: str = "/ready",
    slow_path: str = "/slow/drained",
    written: str = "drained",
    returncode: int = 0,
) -> Drained:
    """SIGTERM ``command`` while a slow request is in flight; check the outcome.

    Args:
        db: The database the app uses (with ``db.application_name``).
        command: Starts the server; with ``port=None`` it is a script that runs its slow
            transaction itself (no HTTP) and writes ``ready`` to stdout when it is serving.
        cwd: Working directory; the process log is written there.
        env: Environment of the process.
        port: The port the server listens on (``None``: no HTTP, see ``command``).
        ready_path: Answers 200 once the app is serving.
        slow_path: ``POST`` here writes the row ``written`` then runs :data:`SLOW_SQL` in
            the same transaction.
        written: The row the slow request commits.
        returncode: The exit status of a clean stop (uvicorn re-raises SIGTERM once it has
            shut down: ``-SIGTERM``).
    """
    log = cwd / f"server-{secrets.token_hex(3)}.log"
    result: dict[str, Any] = {}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=default_signals,
        )
    client: threading.Thread | None = None
    try:
        if port is not None:
            wait_until_serving(port, ready_path, proc, log)

            def slow() -> None:
                try:
                    result["response"] = request(port, "POST", slow_path)
                except Exception as exc:  # reported by the assertion below
                    result["response"] = (0, repr(exc))

            client = threading.Thread(target=slow)
            client.start()
        db.wait_for_slow_statement(proc, log)
        proc.send_signal(signal.SIGTERM)
        if client is not None:
            client.join(90)
        exit_status = proc.wait(90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if client is not None:
            client.join(90)
    output = log.read_text(errors="replace")
    status, body = result.get("response", (200, ""))
    assert status == 200, (body, output)
    assert exit_status == returncode, output
    assert "Traceback" not in output, output
    assert written in db.names(), output
    db.wait_for_no_sessions()
    backends = db.assert_clean_disconnections()
    return Drained(status, body, output, backends)


def drain_program(
    db: DrainDatabase, script: str, *args: str, cwd: Path, env: dict[str, str]
) -> str:
    """:func:`drain` a plain program (``script``, run with ``-W error``); returns its output."""
    (cwd / "program.py").write_text(script, encoding="utf-8")
    command = [sys.executable, "-W", "error", "program.py", *args]
    return drain(db, command, cwd=cwd, env=env).output
