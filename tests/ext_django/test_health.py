"""``pgmonkey_django.health``: /healthz and /readyz against a server stopped and restarted.

The module runs its own throwaway server (``health_server``), reached through aliases added
while a test runs: ``health_pooled`` (Django's native pool where this Django has one) and
``health_plain`` (a persistent connection, ``CONN_MAX_AGE=60``). Under gunicorn, the test
project's ``default`` alias points to that server.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pgmonkey.testing import PostgresServer
from pgmonkey_django import database_config
from tests._health import STATS, assert_outage_cycle, serve_through_outage
from tests.ext_django.conftest import (
    POOLING,
    ROOT,
    Project,
    extra_databases,
    project_config,
    project_env,
    write_project_yaml,
)
from tests.ext_django.test_gunicorn import free_port

Fetch = Callable[[], tuple[int, dict[str, Any]]]


@pytest.fixture
def health_db(running_health_server: PostgresServer) -> Iterator[str]:
    running_health_server.create_database("health")
    try:
        yield "health"
    finally:
        if not running_health_server.running:
            running_health_server.start()
        running_health_server.drop_database("health")


@pytest.fixture
def aliases(
    project: Project, running_health_server: PostgresServer, health_db: str
) -> Iterator[None]:
    cfg = project_config(running_health_server, health_db)
    cfg["pool_settings"].update(min_size=2, max_size=2)
    entries = {
        "health_pooled": database_config(cfg),
        "health_plain": database_config(cfg, pool=False, conn_max_age=60),
    }
    with extra_databases(entries):
        yield


def fetcher(path: str) -> Fetch:
    from django.test import Client

    def get() -> tuple[int, dict[str, Any]]:
        response = Client().get(path)
        assert "no-store" in response["Cache-Control"]
        return response.status_code, json.loads(response.content)

    return get


@pytest.mark.usefixtures("aliases")
def test_healthz_touches_no_database(running_health_server: PostgresServer) -> None:
    running_health_server.stop()
    assert fetcher("/healthz")() == (200, {"status": "ok"})


@pytest.mark.usefixtures("aliases")
def test_pooled_readyz_follows_the_server(running_health_server: PostgresServer) -> None:
    status, body = fetcher("/health/pooled/readyz")()
    assert status == 200, body
    assert body["database"] == "health_pooled"
    if POOLING:
        assert set(body["pool"]) >= STATS
        assert body["pool"]["pool_max"] == 2
    else:
        assert "pool" not in body
    assert_outage_cycle(
        running_health_server,
        lambda path: fetcher("/health/pooled/readyz" if path == "/readyz" else path),
    )


@pytest.mark.usefixtures("aliases")
def test_plain_readyz_follows_the_server(running_health_server: PostgresServer) -> None:
    assert fetcher("/health/plain/readyz")() == (
        200,
        {"status": "ok", "database": "health_plain"},
    )
    running_health_server.stop()
    status, body = fetcher("/health/plain/readyz")()
    assert status == 503
    assert body == {
        "status": "unavailable",
        "database": "health_plain",
        "reason": "the database connection failed (OperationalError)",
    }
    running_health_server.start()
    # The persistent connection died with the server: readyz replaces it at once.
    assert fetcher("/health/plain/readyz")() == (
        200,
        {"status": "ok", "database": "health_plain"},
    )


def test_default_readyz_of_the_project(project: Project) -> None:
    status, body = fetcher("/readyz")()
    assert status == 200, body
    assert body["status"] == "ok"
    assert body["database"] == "default"


@pytest.mark.slow
def test_gunicorn_serves_health_through_an_outage(
    project: Project, running_health_server: PostgresServer, health_db: str, tmp_path: Path
) -> None:
    pytest.importorskip("gunicorn")
    yaml_dir = tmp_path / "yaml"
    yaml_dir.mkdir()
    write_project_yaml(yaml_dir, running_health_server, health_db)
    port = free_port()
    env = project_env(yaml_dir)
    command = [
        sys.executable, "-m", "gunicorn", "--workers", "1", "--worker-class", "gthread",
        "--threads", "2", "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
        "tests.ext_django.project.wsgi:application",
    ]  # fmt: skip
    serve_through_outage(running_health_server, command, port, cwd=ROOT, env=env)
