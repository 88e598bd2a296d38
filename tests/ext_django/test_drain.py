"""Graceful drain of the test project under gunicorn: Django's pool and persistent connections.

See tests/_drain.py. ``default`` goes through Django's pool (where this Django has one),
``persistent`` keeps one connection per thread (``CONN_MAX_AGE``); neither may be left for
the operating system to drop when a worker exits.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pgmonkey.testing import PostgresServer
from tests._drain import RUN_CHILD, SLOW_SQL, DrainDatabase, drain, drain_program, free_port
from tests.ext_django.conftest import Project, project_env, write_project_yaml


@pytest.mark.slow
@pytest.mark.parametrize("alias", ["default", "persistent"])
@pytest.mark.parametrize("worker_class", ["sync", "gthread"])
def test_sigterm_under_gunicorn_finishes_the_request_then_closes_connections(
    drain_server: PostgresServer, tmp_path: Path, worker_class: str, alias: str
) -> None:
    pytest.importorskip("gunicorn")
    db = DrainDatabase.create(drain_server)
    write_project_yaml(tmp_path, drain_server, db.dbname, application_name=db.application_name)
    port = free_port()
    env = project_env(tmp_path)
    command = [
        sys.executable, "-m", "gunicorn", "--workers=2", f"--worker-class={worker_class}",
        "--threads=4", f"--bind=127.0.0.1:{port}", "--graceful-timeout=60",
        "--log-level=info", "tests.ext_django.project.wsgi:application",
    ]  # fmt: skip
    drain(
        db,
        command,
        cwd=tmp_path,
        env=env,
        port=port,
        ready_path=f"/drain/ready/?db={alias}",
        slow_path=f"/drain/slow/drained/?db={alias}",
    )


CHILD = (
    f"""
import os

import django

django.setup()
from django.db import connections, transaction


def work(alias):
    with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        cursor.execute("INSERT INTO drained (name) VALUES ('drained')")
        cursor.execute({SLOW_SQL!r})
"""
    + RUN_CHILD
)


@pytest.mark.slow
@pytest.mark.parametrize("alias", ["default", "persistent"])
def test_multiprocessing_child_closes_its_connections(
    drain_server: PostgresServer, tmp_path: Path, alias: str
) -> None:
    # The child ends with os._exit(): neither atexit nor garbage collection closes anything.
    db = DrainDatabase.create(drain_server)
    write_project_yaml(tmp_path, drain_server, db.dbname, application_name=db.application_name)
    output = drain_program(db, CHILD, alias, cwd=tmp_path, env=project_env(tmp_path))
    assert output == "child exit code 0\n"


def test_close_opened_connections_reaches_every_thread(project: Project) -> None:
    from django.db import connections

    from pgmonkey_django import close_opened_connections

    def query() -> int:
        with connections["persistent"].cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid: int = cursor.fetchone()[0]
        return pid

    with ThreadPoolExecutor(2) as executor:  # the threads end; their connections stay open
        pids = set(executor.map(lambda _: query(), range(8)))
    opened = {pid for pid, _ in project.sessions()}
    assert pids <= opened
    close_opened_connections()
    assert not pids & {pid for pid, _ in project.sessions(settle_to=len(opened - pids))}
