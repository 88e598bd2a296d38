"""Graceful drain of a FastAPI app under uvicorn and gunicorn's uvicorn worker.

See tests/_drain.py. The pools live in the lifespan: the server must let the slow request
finish before the lifespan's shutdown closes them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sys
from pathlib import Path

import pytest

from pgmonkey.testing import PostgresServer
from tests._drain import SLOW_SQL, DrainDatabase, drain, free_port

APP_MODULE = f"""
import json
import os
from typing import Annotated, Any

from fastapi import Depends, FastAPI

from pgmonkey_fastapi import PGMonkeyFastAPI

pg = PGMonkeyFastAPI(json.loads(os.environ["PGMONKEY_DRAIN_CONFIG"]))
app = FastAPI()
pg.init_app(app)


@app.get("/ready")
async def ready(conn: Annotated[Any, Depends(pg.connection)]) -> str:
    await conn.execute("SELECT 1")
    return "ok"


@app.post("/slow/{{name}}")
async def slow(name: str, conn: Annotated[Any, Depends(pg.transaction)]) -> str:
    await conn.execute("INSERT INTO drained (name) VALUES (%s)", (name,))
    await conn.execute({SLOW_SQL!r})
    return "done"
"""


def _uvicorn_worker_class() -> str:
    """The gunicorn worker class of uvicorn (the ``uvicorn-worker`` package, or uvicorn's own)."""
    if importlib.util.find_spec("uvicorn_worker") is not None:
        return "uvicorn_worker.UvicornWorker"
    if importlib.util.find_spec("uvicorn.workers") is None:
        pytest.skip("neither uvicorn-worker nor uvicorn.workers is installed")
    return "uvicorn.workers.UvicornWorker"


def _command(manager: str, port: int) -> list[str]:
    if manager == "gunicorn":
        return [
            sys.executable, "-m", "gunicorn", "--workers=2",
            f"--worker-class={_uvicorn_worker_class()}", f"--bind=127.0.0.1:{port}",
            "--graceful-timeout=60", "--log-level=info", "drainapp:app",
        ]  # fmt: skip
    workers = {"uvicorn": "1", "uvicorn-workers": "2"}[manager]
    return [
        sys.executable, "-m", "uvicorn", "drainapp:app", "--workers", workers,
        "--port", str(port),
    ]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("manager", ["uvicorn", "uvicorn-workers", "gunicorn"])
def test_sigterm_finishes_the_request_then_the_lifespan_closes_the_pools(
    drain_server: PostgresServer, tmp_path: Path, manager: str
) -> None:
    pytest.importorskip("gunicorn")
    db = DrainDatabase.create(drain_server)
    (tmp_path / "drainapp.py").write_text(APP_MODULE, encoding="utf-8")
    port = free_port()
    env = {
        **os.environ,
        "PGMONKEY_DRAIN_CONFIG": json.dumps(db.config()),
        "PYTHONPATH": str(tmp_path),
    }
    # A lone uvicorn re-raises SIGTERM once it has shut down; its supervisor and gunicorn exit 0.
    returncode = -signal.SIGTERM if manager == "uvicorn" else 0
    command = _command(manager, port)
    drained = drain(db, command, cwd=tmp_path, env=env, port=port, returncode=returncode)
    assert "Application shutdown complete" in drained.output
