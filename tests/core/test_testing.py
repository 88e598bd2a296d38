"""The throwaway servers of pgmonkey.testing are real, and they go away."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from pgmonkey.testing import PostgresServer


def test_server_answers_queries_over_tcp(pg_server: PostgresServer) -> None:
    rows = pg_server.execute("SELECT current_user, inet_server_port()")
    assert rows == [("postgres", pg_server.port)]


def test_pg_database_is_fresh_and_dropped(pg_server: PostgresServer) -> None:
    names = {r[0] for r in pg_server.execute("SELECT datname FROM pg_database")}
    assert not any(n.startswith("pgmonkey_test_") for n in names)


def test_killed_process_leaves_no_server(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import os
        from pgmonkey.testing import start_server
        server = start_server()
        print(server.workdir, flush=True)
        os.kill(os.getpid(), 9)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    workdir = Path(proc.stdout.strip())
    assert workdir.name.startswith("pgmonkey-pg-")
    deadline = time.monotonic() + 30
    while workdir.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not workdir.exists()
