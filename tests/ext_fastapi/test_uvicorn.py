"""A real uvicorn server with two worker processes."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import Database

APP_MODULE = """
import json
import os
from typing import Annotated, Any

from fastapi import Depends, FastAPI

from pgmonkey_fastapi import PGMonkeyFastAPI

pg = PGMonkeyFastAPI(json.loads(os.environ["PGMONKEY_TEST_CONFIG"]))
app = FastAPI()
pg.init_app(app)


@app.get("/who")
async def who(conn: Annotated[Any, Depends(pg.connection)]) -> dict[str, int]:
    cur = await conn.execute("SELECT pg_backend_pid()")
    return {"worker": os.getpid(), "backend": (await cur.fetchone())[0]}


@app.post("/slow/{i}")
async def slow(i: int, conn: Annotated[Any, Depends(pg.transaction)]) -> None:
    await conn.execute("INSERT INTO items VALUES (%s, 'slow')", (i,))
    await conn.execute("SELECT pg_sleep(1)")


@app.get("/stats")
async def stats(pool: Annotated[Any, Depends(pg.pool)]) -> dict[str, int]:
    return pool.get_stats()
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(db: Database, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    (tmp_path / "fa_app.py").write_text(APP_MODULE)
    port = _free_port()
    log = tmp_path / "uvicorn.log"
    cfg = db.config_with(min_size=1, max_size=2)
    env = {**os.environ, "PGMONKEY_TEST_CONFIG": json.dumps(cfg)}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "fa_app:app", "--workers", "2",
             "--port", str(port), "--app-dir", str(tmp_path)],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while log.read_text().count("Application startup complete") < 2:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}", proc, log
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:  # pragma: no cover
                proc.kill()
                proc.wait()


def test_two_workers_each_open_and_close_their_own_pool(
    db: Database, server: tuple[str, subprocess.Popen[bytes], Path]
) -> None:
    url, proc, log = server
    assert db.sessions() == 2  # one min_size connection per worker, opened after the fork
    backends = {
        row[0]
        for row in db.query(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", [db.app_name]
        )
    }
    with httpx.Client(base_url=url) as client:
        seen: dict[int, int] = {}
        for _ in range(40):
            body = client.get("/who").json()
            seen.setdefault(body["worker"], body["backend"])
        assert set(seen.values()) <= backends
        for backend in seen.values():
            assert db.query("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [backend])
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 0, log.read_text()
    assert log.read_text().count("Application shutdown complete") == 2
    assert db.sessions() == 0  # both pools closed at shutdown


def test_client_disconnect_leaves_no_open_transaction(
    db: Database, server: tuple[str, subprocess.Popen[bytes], Path]
) -> None:
    url = server[0]
    with httpx.Client(base_url=url, timeout=0.2) as client:
        for i in range(4):
            with pytest.raises(httpx.TimeoutException):
                client.post(f"/slow/{i}")
    deadline = time.monotonic() + 15
    while db.sessions("active") or db.sessions("idle in transaction"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    with httpx.Client(base_url=url, timeout=10) as client:
        for _ in range(20):  # max_size=2 per worker: a leaked connection would time out here
            assert client.get("/who").status_code == 200
    assert db.sessions("idle in transaction") == 0
    assert db.sessions() <= 4
