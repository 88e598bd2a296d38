"""Graceful drain of a Flask app under gunicorn (sync and gthread workers): see tests/_drain.py."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest

from pgmonkey.testing import PostgresServer
from tests._drain import RUN_CHILD, SLOW_SQL, DrainDatabase, drain, drain_program, free_port

APP_MODULE = textwrap.dedent(
    f"""
    import json
    import os

    from flask import Flask

    from pgmonkey_flask import PGMonkey

    pg = PGMonkey()
    app = Flask(__name__)
    app.config["PGMONKEY_CONFIG"] = json.loads(os.environ["PGMONKEY_DRAIN_CONFIG"])
    pg.init_app(app)

    @app.get("/ready")
    def ready():
        pg.connection().execute("SELECT 1")
        return "ok"

    @app.post("/slow/<name>")
    def slow(name):
        with pg.transaction() as conn:
            conn.execute("INSERT INTO drained (name) VALUES (%s)", [name])
            conn.execute({SLOW_SQL!r})
        return "done"
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("worker_class", ["sync", "gthread"])
def test_sigterm_under_gunicorn_finishes_the_request_then_closes_the_pools(
    drain_server: PostgresServer, tmp_path: Path, worker_class: str
) -> None:
    db = DrainDatabase.create(drain_server)
    (tmp_path / "drainapp.py").write_text(APP_MODULE, encoding="utf-8")
    port = free_port()
    command = [
        sys.executable, "-m", "gunicorn", "--workers=2", f"--worker-class={worker_class}",
        "--threads=4", f"--bind=127.0.0.1:{port}", "--graceful-timeout=60",
        "--log-level=info", "drainapp:app",
    ]  # fmt: skip
    env = {**os.environ, "PGMONKEY_DRAIN_CONFIG": json.dumps(db.config())}
    drained = drain(db, command, cwd=tmp_path, env=env, port=port)
    assert len(drained.backends) >= 2  # each worker's pool (min_size 2) was closed cleanly


CHILD = (
    f"""
import json, os

from flask import Flask

from pgmonkey_flask import PGMonkey

pg = PGMonkey()
app = Flask(__name__)
app.config["PGMONKEY_CONFIG"] = json.loads(os.environ["PGMONKEY_DRAIN_CONFIG"])
pg.init_app(app)


def work():
    with app.app_context(), pg.transaction() as conn:
        conn.execute("INSERT INTO drained (name) VALUES ('drained')")
        conn.execute({SLOW_SQL!r})
"""
    + RUN_CHILD
)


@pytest.mark.slow
def test_multiprocessing_child_closes_its_pools(
    drain_server: PostgresServer, tmp_path: Path
) -> None:
    # The child ends with os._exit(): the extension's clean-up must not rely on atexit.
    db = DrainDatabase.create(drain_server)
    env = {**os.environ, "PGMONKEY_DRAIN_CONFIG": json.dumps(db.config())}
    assert drain_program(db, CHILD, cwd=tmp_path, env=env) == "child exit code 0\n"
