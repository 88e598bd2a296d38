"""Graceful drain of a plain program: SIGTERM while a transaction runs (see tests/_drain.py).

The programs turn SIGTERM into "stop after the current unit of work" (the pattern
docs/operations.md shows); pgmonkey then closes what is still open when the process ends,
including in ``multiprocessing`` children, which end with ``os._exit()`` and never run
``atexit`` hooks.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
from pathlib import Path

import psycopg
import pytest

from pgmonkey.testing import PostgresServer
from tests._drain import RUN_CHILD, SLOW_SQL, DrainDatabase, drain_program

SYNC = textwrap.dedent(
    f"""
    import json, os, signal, threading

    from pgmonkey import PGConnectionManager

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    cfg = json.loads(os.environ["PGMONKEY_DRAIN_CONFIG"])
    conn = PGConnectionManager().get_database_connection_from_dict(cfg)
    with conn as c:
        c.execute("INSERT INTO drained (name) VALUES ('drained')")
        c.execute({SLOW_SQL!r})
    stop.wait()
    print("stopped")
    """
)

ASYNC = textwrap.dedent(
    f"""
    import asyncio, json, os, signal

    from pgmonkey import PGConnectionManager

    async def main():
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        cfg = json.loads(os.environ["PGMONKEY_DRAIN_CONFIG"])
        conn = await PGConnectionManager().get_database_connection_from_dict(cfg)
        async with conn as c:
            await c.execute("INSERT INTO drained (name) VALUES ('drained')")
            await c.execute({SLOW_SQL!r})
        await stop.wait()
        print("stopped")

    asyncio.run(main())
    """
)

CHILD = (
    textwrap.dedent(
        f"""
    import json, os

    from pgmonkey import PGConnectionManager

    def work():
        cfg = json.loads(os.environ["PGMONKEY_DRAIN_CONFIG"])
        conn = PGConnectionManager().get_database_connection_from_dict(cfg)
        with conn as c:
            c.execute("INSERT INTO drained (name) VALUES ('drained')")
            c.execute({SLOW_SQL!r})
    """
    )
    + RUN_CHILD
)


def _run(
    server: PostgresServer, tmp_path: Path, script: str, connection_type: str, **env: str
) -> str:
    db = DrainDatabase.create(server)
    config = json.dumps(db.config(connection_type))
    environ = {**os.environ, **env, "PGMONKEY_DRAIN_CONFIG": config}
    return drain_program(db, script, cwd=tmp_path, env=environ)


# psycopg before 3.1.13 raises InterruptedError from a blocking query when a Python signal
# handler runs (psycopg#667, fixed in 3.1.13); docs/operations.md tells users to upgrade.
EINTR_SAFE = tuple(int(n) for n in re.findall(r"\d+", psycopg.__version__)[:3]) >= (3, 1, 13)
needs_eintr_safe_psycopg = pytest.mark.skipif(
    not EINTR_SAFE, reason="psycopg < 3.1.13 lets a signal handler interrupt a running query"
)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("script", "connection_type"),
    [
        pytest.param(SYNC, "normal", marks=needs_eintr_safe_psycopg),
        pytest.param(SYNC, "pool", marks=needs_eintr_safe_psycopg),
        (ASYNC, "async"),
        (ASYNC, "async_pool"),
    ],
    ids=["sync-normal", "sync-pool", "asyncio-async", "asyncio-async_pool"],
)
def test_signal_handler_lets_the_transaction_finish(
    drain_server: PostgresServer, tmp_path: Path, script: str, connection_type: str
) -> None:
    assert _run(drain_server, tmp_path, script, connection_type) == "stopped\n"


@pytest.mark.slow
@pytest.mark.parametrize("start_method", ["fork", "forkserver", "spawn"])
@pytest.mark.parametrize("connection_type", ["normal", "pool"])
def test_multiprocessing_child_closes_its_connections(
    drain_server: PostgresServer, tmp_path: Path, connection_type: str, start_method: str
) -> None:
    # A fork or forkserver child ends with os._exit(): atexit hooks never run there.
    output = _run(drain_server, tmp_path, CHILD, connection_type, START_METHOD=start_method)
    assert output == "child exit code 0\n"
