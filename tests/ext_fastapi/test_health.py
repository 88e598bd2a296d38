"""``health_router``: /healthz and /readyz against a server that is stopped and restarted.

The module runs its own throwaway server (``health_server``): readiness turns 503 with a
reason while it is down, liveness stays 200, and readiness recovers once it is back, through
both test clients (async and sync pools) and under uvicorn.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from pgmonkey.testing import PostgresServer
from pgmonkey_fastapi import PGMonkeyFastAPI, PGMonkeyFastAPIError, health_router
from tests._health import STATS, assert_outage_cycle, serve_through_outage

from .conftest import ClientFactory, TestClient
from .test_uvicorn import _free_port


@pytest.fixture
def cfg(running_health_server: PostgresServer) -> Iterator[dict[str, Any]]:
    server = running_health_server
    server.create_database("health")
    cfg = server.config(dbname="health")
    cfg["pool_settings"] = {"min_size": 2, "max_size": 2, "timeout": 5}
    cfg["async_pool_settings"] = dict(cfg["pool_settings"])
    try:
        yield cfg
    finally:
        if not server.running:
            server.start()
        server.drop_database("health")


def make_app(cfg: dict[str, Any], connection_type: str = "async_pool", **kw: Any) -> FastAPI:
    pg = PGMonkeyFastAPI(cfg, connection_type)
    app = FastAPI()
    pg.init_app(app)
    app.include_router(health_router(pg, timeout=1, **kw))
    return app


def fetcher(client: Any) -> Callable[[str], Callable[[], tuple[int, dict[str, Any]]]]:
    def fetch(path: str) -> Callable[[], tuple[int, dict[str, Any]]]:
        def get() -> tuple[int, dict[str, Any]]:
            response = client.get(path)
            assert response.headers["cache-control"] == "no-store"
            return response.status_code, response.json()

        return get

    return fetch


@pytest.mark.parametrize("connection_type", ["async_pool", "pool"])
def test_readyz_follows_the_server_and_healthz_never_does(
    cfg: dict[str, Any],
    running_health_server: PostgresServer,
    client_factory: ClientFactory,
    connection_type: str,
) -> None:
    with client_factory(make_app(cfg, connection_type, prefix="/ops")) as client:
        fetch = fetcher(client)
        status, body = fetch("/ops/readyz")()
        assert status == 200, body
        assert body["database"] == "default"
        assert body["pool"]["pool_max"] == 2
        assert set(body["pool"]) >= STATS
        assert_outage_cycle(running_health_server, lambda path: fetch("/ops" + path))
        running_health_server.stop()
        status, body = fetch("/ops/readyz")()
        text = json.dumps(body)
        for secret in (cfg["connection_settings"]["user"], "health", "127.0.0.1"):
            assert secret not in text.replace('"database": "default"', "")
        assert body["reason"].startswith(("the database connection failed", "no database conn"))
        assert set(body["pool"]) >= STATS


def test_readyz_is_503_without_open_pools(cfg: dict[str, Any]) -> None:
    pg = PGMonkeyFastAPI(cfg)
    app = FastAPI()  # no lifespan: the pools never open
    app.include_router(health_router(pg))
    client = TestClient(app)
    assert client.get("/healthz").json() == {"status": "ok"}
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "database": "default",
        "reason": "the pools are not open (the app's lifespan has not started or has ended)",
    }


def test_unknown_database_is_refused(cfg: dict[str, Any]) -> None:
    with pytest.raises(PGMonkeyFastAPIError, match="unknown database 'replica'"):
        health_router(PGMonkeyFastAPI(cfg), database="replica")


def test_health_routes_stay_out_of_the_schema(cfg: dict[str, Any]) -> None:
    assert "/readyz" not in make_app(cfg).openapi()["paths"]


APP_MODULE = """
import json
import os

from fastapi import FastAPI

from pgmonkey_fastapi import PGMonkeyFastAPI, health_router

pg = PGMonkeyFastAPI(json.loads(os.environ["PGMONKEY_TEST_CONFIG"]))
app = FastAPI()
pg.init_app(app)
app.include_router(health_router(pg, timeout=1))
"""


@pytest.mark.slow
def test_uvicorn_serves_health_through_an_outage(
    cfg: dict[str, Any], running_health_server: PostgresServer, tmp_path: Path
) -> None:
    (tmp_path / "health_app.py").write_text(APP_MODULE)
    port = _free_port()
    env = {**os.environ, "PGMONKEY_TEST_CONFIG": json.dumps(cfg)}
    command = [sys.executable, "-m", "uvicorn", "health_app:app", "--port", str(port),
               "--app-dir", str(tmp_path)]  # fmt: skip
    serve_through_outage(
        running_health_server, command, port, cwd=tmp_path, env=env, stop_signal=signal.SIGINT
    )
