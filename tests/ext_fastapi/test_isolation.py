"""pgmonkey_fastapi.testing: isolation and the lifespan runner for httpx.AsyncClient."""

import asyncio
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI

from pgmonkey.errors import DatabaseConnectionError
from pgmonkey_fastapi import PGMonkeyFastAPI, PGMonkeyFastAPIError, PinnedPool, testing

from .apps import APPS
from .conftest import ClientFactory, Database, TestClient


@pytest.fixture(params=["async_pool", "pool"])
def connection_type(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_isolation_rolls_everything_back(
    db: Database, client_factory: ClientFactory, connection_type: str
) -> None:
    pg = PGMonkeyFastAPI(db.config, connection_type)
    app = APPS[connection_type](pg, init_app=True)
    with testing.isolated(pg), client_factory(app, raise_server_exceptions=False) as client:
        assert client.post("/tx/1").status_code == 200
        assert client.post("/conn/2").status_code == 200
        assert client.post("/tx/3", params={"fail": "409"}).status_code == 409  # a savepoint
        assert client.get("/items").json() == [[1, "tx"], [2, "conn"]]  # seen by later requests
        pids = client.get("/pids").json()
        assert pids["conn"] == pids["tx"] == pids["sub"]
        assert db.items() == []  # never committed
        assert db.sessions("idle in transaction") == 1  # the pinned connection
    assert db.items() == []
    assert db.sessions() == 0


def test_isolation_per_test_with_a_running_app(
    db: Database, client_factory: ClientFactory, connection_type: str
) -> None:
    """The app runs once; each isolation context is rolled back while it keeps running."""
    pg = PGMonkeyFastAPI(db.config, connection_type)
    app = APPS[connection_type](pg)
    with client_factory(app) as client:
        for i in range(2):
            with testing.isolated(pg):
                assert client.post(f"/tx/{i}").status_code == 200
                assert client.get("/items").json() == [[i, "tx"]]
            assert client.get("/items").json() == []
        assert client.post("/tx/9").status_code == 200  # no isolation: committed
        assert db.sessions("idle in transaction") == 0
    assert db.items() == [(9, "tx")]


def test_pool_dependency_under_isolation(db: Database, client_factory: ClientFactory) -> None:
    pg = PGMonkeyFastAPI(db.config)
    app = APPS["async_pool"](pg)

    @app.get("/pool-type")
    async def pool_type(pool: Annotated[Any, Depends(pg.pool)]) -> str:
        return type(pool).__name__

    with testing.isolated(pg), client_factory(app) as client:
        assert client.get("/pool-type").json() == PinnedPool.__name__
        assert client.post("/pool/5").status_code == 200
        assert client.get("/items").json() == [[5, "pool"]]
    assert db.items() == []


def test_isolation_cannot_nest(db: Database) -> None:
    pg = PGMonkeyFastAPI(db.config)
    with testing.isolated(pg), pytest.raises(PGMonkeyFastAPIError, match="already isolated"):
        with testing.isolated(pg):
            pass  # pragma: no cover


async def test_async_isolation_with_async_client(db: Database) -> None:
    pg = PGMonkeyFastAPI(db.config)
    app = APPS["async_pool"](pg, init_app=True)
    async with testing.client(app) as client:
        async with testing.isolated(pg):
            results = await asyncio.gather(*(client.post(f"/tx/{i}") for i in range(5)))
            assert {r.status_code for r in results} == {200}
            assert len((await client.get("/items")).json()) == 5
        assert (await client.get("/items")).json() == []
    assert db.items() == []
    assert db.sessions() == 0


async def test_lifespan_runner_passes_state_and_closes(db: Database) -> None:
    pg = PGMonkeyFastAPI(db.config)
    app = FastAPI(lifespan=pg.lifespan)
    async with testing.lifespan(app) as asgi:
        assert db.sessions() == 1
        assert callable(asgi)
        pool = app.state.pgmonkey["default"]
    assert pool.closed
    assert db.sessions() == 0


async def test_lifespan_runner_raises_startup_errors(db: Database) -> None:
    cfg = db.config_with()
    cfg["connection_settings"]["password"] = "wrong"
    pg = PGMonkeyFastAPI(cfg, wait=1)
    with pytest.raises(DatabaseConnectionError, match="password authentication failed"):
        async with testing.lifespan(FastAPI(lifespan=pg.lifespan)):
            pass  # pragma: no cover


def test_testclient_in_module_scope_style(db: Database) -> None:
    """The documented fixture shape: isolation around a TestClient per test."""
    pg = PGMonkeyFastAPI(db.config)
    app = APPS["async_pool"](pg)
    for _ in range(2):
        with testing.isolated(pg), TestClient(app) as client:
            assert client.post("/tx/1").status_code == 200  # no duplicate key: rolled back
    assert db.items() == []
