"""Commit timing, rollbacks and one connection per request, async and sync flavours."""

import asyncio
import inspect
import time
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, HTTPException, WebSocket

from pgmonkey_fastapi import PGMonkeyFastAPI, PGMonkeyFastAPIError, testing

from .apps import APPS, SUPPORTS_SCOPE, plain_exit_before_response
from .conftest import ClientFactory, Database


@pytest.fixture(params=["async_pool", "pool"])
def connection_type(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_transaction_commits(
    db: Database, client_factory: ClientFactory, connection_type: str
) -> None:
    pg = PGMonkeyFastAPI(db.config, connection_type)
    with client_factory(APPS[connection_type](pg)) as client:
        assert client.post("/tx/1").json() == {"id": 1}
        assert client.post("/plain/2").status_code == 200
        assert client.post("/conn/3").status_code == 200
        assert client.get("/items").json() == [[1, "tx"], [2, "plain"], [3, "conn"]]
        assert db.sessions("idle in transaction") == 0
    assert db.items() == [(1, "tx"), (2, "plain"), (3, "conn")]


@pytest.mark.skipif(not SUPPORTS_SCOPE, reason="Depends(scope=...) needs FastAPI >= 0.121")
def test_failing_commit_is_a_500_with_scope_function(
    db: Database, client_factory: ClientFactory, connection_type: str
) -> None:
    pg = PGMonkeyFastAPI(db.config, connection_type)
    with client_factory(APPS[connection_type](pg), raise_server_exceptions=False) as client:
        assert client.post("/deferred/tx").status_code == 500
        assert db.sessions("idle in transaction") == 0
    assert db.query("SELECT count(*) FROM deferred") == [(0,)]


def test_failing_commit_is_a_500_with_init_app(
    db: Database, client_factory: ClientFactory, connection_type: str
) -> None:
    """On every FastAPI version, even with a plain ``Depends(pg.transaction)``."""
    pg = PGMonkeyFastAPI(db.config, connection_type)
    app = APPS[connection_type](pg, init_app=True)
    with client_factory(app, raise_server_exceptions=False) as client:
        assert client.post("/deferred/plain").status_code == 500
        assert client.post("/deferred/tx").status_code == 500
        assert client.post("/plain/5").status_code == 200  # the connection is still good
        assert db.sessions("idle in transaction") == 0
    assert db.query("SELECT count(*) FROM deferred") == [(0,)]
    assert db.items() == [(5, "plain")]


def test_failing_commit_of_a_connection_gives_it_back(
    db: Database, client_factory: ClientFactory, connection_type: str
) -> None:
    """``pg.connection`` commits on its own exit; when that COMMIT fails, nothing is kept.

    A pool of one connection: had the failed exit not returned it, the next request would wait
    for it until the pool's timeout and fail.
    """
    pg = PGMonkeyFastAPI(db.config_with(min_size=1, max_size=1, timeout=5), connection_type)
    app = APPS[connection_type](pg)
    with client_factory(app, raise_server_exceptions=False) as client:
        client.post("/deferred/conn")  # 200 or 500: the commit may run after the response
        assert client.post("/conn/5").status_code == 200
        stats = app.state.pgmonkey["default"].get_stats()
        assert stats["pool_size"] - stats["pool_available"] == 0  # nothing still lent out
        assert db.sessions("idle in transaction") == 0
    assert db.query("SELECT count(*) FROM deferred") == [(0,)]
    assert db.items() == [(5, "conn")]


def test_plain_transaction_commit_timing_per_version(
    db: Database, client_factory: ClientFactory, connection_type: str
) -> None:
    """Documents what a plain ``Depends(pg.transaction)`` does without ``init_app``.

    FastAPI 0.106-0.117 exits ``yield`` dependencies before the response (500); earlier and
    later versions exit after it, so the client sees 200 although nothing was committed.
    """
    pg = PGMonkeyFastAPI(db.config, connection_type)
    with client_factory(APPS[connection_type](pg), raise_server_exceptions=False) as client:
        status = client.post("/deferred/plain").status_code
    assert status == (500 if plain_exit_before_response() else 200)
    assert db.query("SELECT count(*) FROM deferred") == [(0,)]
    assert db.sessions() == 0


@pytest.mark.parametrize("route", ["tx", "conn"])
@pytest.mark.parametrize(("how", "status"), [("409", 409), ("crash", 500)])
def test_errors_roll_back(
    db: Database,
    client_factory: ClientFactory,
    connection_type: str,
    route: str,
    how: str,
    status: int,
) -> None:
    pg = PGMonkeyFastAPI(db.config, connection_type)
    with client_factory(APPS[connection_type](pg), raise_server_exceptions=False) as client:
        assert client.post(f"/{route}/1", params={"fail": how}).status_code == status
        assert db.sessions("idle in transaction") == 0
        assert db.sessions() == 1  # returned to the pool, not leaked
        assert client.post(f"/{route}/2").status_code == 200
    assert db.items() == [(2, route)]


def test_one_connection_per_request(
    db: Database, client_factory: ClientFactory, connection_type: str
) -> None:
    pg = PGMonkeyFastAPI(db.config_with(min_size=1, max_size=1, timeout=3), connection_type)
    app = APPS[connection_type](pg)
    with client_factory(app) as client:
        for _ in range(3):  # max_size=1: a second borrow would wait and time out
            pids = client.get("/pids").json()
            assert pids["conn"] == pids["tx"] == pids["sub"]
        assert app.state.pgmonkey["default"].max_size == 1


def _check_one_borrow_per_request(
    db: Database, client_factory: ClientFactory, app: FastAPI
) -> None:
    """`/both/{i}` (pool `max_size=1`): one connection per request; a 409 rolls both back."""
    with client_factory(app) as client:
        for i in (1, 2):  # max_size=1: a second borrow would wait and time out
            pids = client.post(f"/both/{i}").json()
            assert len(pids) == 2
            assert pids[0] == pids[1]
        assert client.post("/both/3", params={"fail": True}).status_code == 409
    assert db.items() == [(1, "tx"), (2, "tx"), (101, "conn"), (102, "conn")]
    assert db.sessions("idle in transaction") == 0


def test_transaction_first_shares_its_connection(
    db: Database, client_factory: ClientFactory
) -> None:
    """A transaction resolved before ``pg.connection`` lends its connection to it."""
    pg = PGMonkeyFastAPI(db.config_with(min_size=1, max_size=1, timeout=3))
    app = FastAPI()
    pg.init_app(app)

    @app.post("/both/{i}")
    async def both(
        i: int,
        tx: Annotated[Any, pg.depends_transaction()],
        conn: Annotated[Any, Depends(pg.connection)],
        fail: bool = False,
    ) -> list[int]:
        await tx.execute("INSERT INTO items VALUES (%s, 'tx')", (i,))
        await conn.execute("INSERT INTO items VALUES (%s, 'conn')", (i + 100,))
        if fail:
            raise HTTPException(status_code=409)
        pids = [await (await c.execute("SELECT pg_backend_pid()")).fetchone() for c in (tx, conn)]
        return [row[0] for row in pids if row is not None]

    _check_one_borrow_per_request(db, client_factory, app)


def test_override_with_parameters_is_refused_clearly(
    db: Database, client_factory: ClientFactory
) -> None:
    """pg.transaction runs an override of pg.connection itself: one with parameters is refused."""
    pg = PGMonkeyFastAPI(db.config)
    app = APPS["async_pool"](pg)

    async def needs_a_header(x_token: str) -> Any:
        yield None

    app.dependency_overrides[pg.connection] = needs_a_header
    with client_factory(app) as client:
        with pytest.raises(PGMonkeyFastAPIError, match=r"needs_a_header.*takes parameters"):
            client.post("/plain/1")
    assert db.items() == []


def test_autocommit_connection_still_gets_a_transaction(
    db: Database, client_factory: ClientFactory, connection_type: str
) -> None:
    cfg = db.config_with()
    cfg["connection_settings"]["autocommit"] = True
    pg = PGMonkeyFastAPI(cfg, connection_type)
    app = APPS[connection_type](pg, init_app=True)
    with client_factory(app, raise_server_exceptions=False) as client:
        assert client.post("/tx/1", params={"fail": "409"}).status_code == 409
        assert client.post("/deferred/plain").status_code == 500
        assert client.post("/tx/2").status_code == 200
    assert db.items() == [(2, "tx")]
    assert db.query("SELECT count(*) FROM deferred") == [(0,)]


def test_dependency_overrides(db: Database, client_factory: ClientFactory) -> None:
    """Overriding ``pg.connection`` also feeds ``pg.transaction`` (it builds on it)."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    pg = PGMonkeyFastAPI(db.config)
    app = APPS["async_pool"](pg)
    seen: list[str] = []
    settings = {**db.config["connection_settings"], "application_name": "override"}

    async def own_connection() -> Any:
        async with await psycopg.AsyncConnection.connect(make_conninfo("", **settings)) as conn:
            seen.append("borrowed")
            yield conn

    app.dependency_overrides[pg.connection_for("default")] = own_connection
    with client_factory(app) as client:
        assert client.post("/conn/1").status_code == 200
        assert client.post("/plain/2").status_code == 200
        lingering = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'override'"
        deadline = time.monotonic() + 5  # a just-closed backend takes a moment to exit
        while db.query(lingering) != [(0,)] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert db.query(lingering) == [(0,)]
    assert seen == ["borrowed", "borrowed"]
    assert db.items() == [(1, "conn"), (2, "plain")]


@pytest.mark.parametrize("kind", ["generator", "async generator"])
def test_dependency_overrides_sync(db: Database, client_factory: ClientFactory, kind: str) -> None:
    """``connection_type="pool"``: an override of ``pg.connection`` feeds the transaction too.

    The sync transaction is one dependency (not built on ``pg.connection``, which would cost
    two more thread hand-offs per request), so it runs the override itself: a sync one in its
    worker thread, an async one on the app's event loop.
    """
    import psycopg
    from psycopg.conninfo import make_conninfo

    pg: PGMonkeyFastAPI[Any] = PGMonkeyFastAPI(db.config, "pool")
    app = APPS["pool"](pg)
    seen: list[str] = []
    conninfo = make_conninfo("", **{**db.config["connection_settings"], "application_name": "ov"})

    def own_connection() -> Any:
        with psycopg.Connection.connect(conninfo) as conn:
            seen.append("borrowed")
            yield conn

    async def own_connection_async() -> Any:
        with psycopg.Connection.connect(conninfo) as conn:
            seen.append("borrowed")
            yield conn

    override = own_connection if kind == "generator" else own_connection_async
    app.dependency_overrides[pg.connection_for("default")] = override
    with client_factory(app, raise_server_exceptions=False) as client:
        assert client.post("/conn/1").status_code == 200
        assert client.post("/plain/2").status_code == 200
        assert client.post("/tx/4", params={"fail": "409"}).status_code == 409
        assert db.sessions("idle in transaction") == 0
    assert seen == ["borrowed"] * 3
    assert db.items() == [(1, "conn"), (2, "plain")]


def test_sync_transaction_first_shares_its_connection(
    db: Database, client_factory: ClientFactory
) -> None:
    """Sync flavour: one borrow per request whichever dependency runs first."""
    pg = PGMonkeyFastAPI(db.config_with(min_size=1, max_size=1, timeout=3), "pool")
    app = FastAPI()
    pg.init_app(app)
    # One dependency each: the transaction does not depend on pg.connection.
    assert list(inspect.signature(pg.transaction).parameters) == ["request"]

    @app.post("/both/{i}")
    def both(
        i: int,
        tx: Annotated[Any, pg.depends_transaction()],
        conn: Annotated[Any, Depends(pg.connection)],
        fail: bool = False,
    ) -> list[int]:
        tx.execute("INSERT INTO items VALUES (%s, 'tx')", (i,))
        conn.execute("INSERT INTO items VALUES (%s, 'conn')", (i + 100,))
        if fail:
            raise HTTPException(status_code=409)
        return [c.execute("SELECT pg_backend_pid()").fetchone()[0] for c in (tx, conn)]

    _check_one_borrow_per_request(db, client_factory, app)


def test_pool_dependency(db: Database, client_factory: ClientFactory) -> None:
    pg = PGMonkeyFastAPI(db.config)
    with client_factory(APPS["async_pool"](pg)) as client:
        assert client.post("/pool/4").status_code == 200
    assert db.items() == [(4, "pool")]


def test_websocket_routes_use_the_same_dependencies(db: Database) -> None:
    from .conftest import TestClient

    pg = PGMonkeyFastAPI(db.config)
    app = FastAPI(lifespan=pg.lifespan)

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, conn: Annotated[Any, Depends(pg.transaction)]) -> None:
        await websocket.accept()
        ident = int(await websocket.receive_text())
        await conn.execute("INSERT INTO items VALUES (%s, 'ws')", (ident,))
        cur = await conn.execute("SELECT count(*) FROM items")
        await websocket.send_text(str((await cur.fetchone())[0]))
        await websocket.close()

    with TestClient(app) as client, client.websocket_connect("/ws") as socket:
        socket.send_text("9")
        assert socket.receive_text() == "1"
    assert db.items() == [(9, "ws")]
    assert db.sessions() == 0


async def test_cancelled_request_rolls_back(db: Database) -> None:
    """A request task cancelled mid-query (client gone) leaves no open transaction."""
    pg = PGMonkeyFastAPI(db.config_with(min_size=1, max_size=2))
    app = FastAPI(lifespan=pg.lifespan)
    started = asyncio.Event()

    @app.post("/slow")
    async def slow(conn: Annotated[Any, pg.depends_transaction()]) -> None:
        await conn.execute("INSERT INTO items VALUES (1, 'slow')")
        started.set()
        await conn.execute("SELECT pg_sleep(30)")

    async with testing.client(app) as client:
        task = asyncio.ensure_future(client.post("/slow"))
        await asyncio.wait_for(started.wait(), 10)
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        pool = app.state.pgmonkey["default"]
        for _ in range(50):
            if db.sessions("idle in transaction") == 0 and db.sessions("active") == 0:
                break
            await asyncio.sleep(0.1)
        assert db.sessions("idle in transaction") == 0
        assert db.sessions("active") == 0
        stats = pool.get_stats()
        assert stats["pool_size"] - stats["pool_available"] == 0  # nothing still lent out
        assert (await client.get("/openapi.json")).status_code == 200
    assert db.items() == []
    assert db.sessions() == 0


async def test_async_client_directly(db: Database) -> None:
    pg = PGMonkeyFastAPI(db.config)
    app = APPS["async_pool"](pg, init_app=True)
    async with testing.client(app, raise_app_exceptions=False) as client:
        responses = await asyncio.gather(*(client.post(f"/tx/{i}") for i in range(20)))
        assert {r.status_code for r in responses} == {200}
        assert (await client.post("/deferred/plain")).status_code == 500
        assert isinstance(client, httpx.AsyncClient)
    assert [row[0] for row in db.items()] == list(range(20))
