"""Pools live in the lifespan: opened (and waited for) at startup, closed at shutdown."""

# No "from __future__ import annotations": FastAPI must see the local Annotated aliases.

import socket
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import pytest
import yaml
from fastapi import Depends, FastAPI, Request

from pgmonkey.errors import ConfigValidationError, DatabaseConnectionError
from pgmonkey_fastapi import PGMonkeyFastAPI, PGMonkeyFastAPIError, PoolRegistry

from .apps import async_app
from .conftest import ClientFactory, Database


def test_pools_open_at_startup_and_close_at_shutdown(
    db: Database, client_factory: ClientFactory
) -> None:
    pg = PGMonkeyFastAPI(db.config_with(min_size=2))
    app = async_app(pg)
    assert db.sessions() == 0  # nothing opened at construction
    with client_factory(app) as client:
        registry = app.state.pgmonkey
        assert isinstance(registry, PoolRegistry)
        assert db.sessions() == 2  # min_size reached before the first request
        assert client.post("/tx/1").status_code == 200
        pool = registry["default"]
        assert not pool.closed
    assert pool.closed
    assert db.sessions() == 0
    assert not hasattr(app.state, "pgmonkey")


def test_two_app_runs_in_one_process(db: Database, client_factory: ClientFactory) -> None:
    pg = PGMonkeyFastAPI(db.config)
    app = async_app(pg)
    pools = []
    for i in range(2):
        with client_factory(app) as client:
            assert client.post(f"/tx/{i}").status_code == 200
            pools.append(app.state.pgmonkey["default"])
    assert pools[0] is not pools[1]
    assert db.items() == [(0, "tx"), (1, "tx")]
    assert db.sessions() == 0


def test_config_file_path(db: Database, tmp_path: Path, client_factory: ClientFactory) -> None:
    path = tmp_path / "pg.yaml"
    path.write_text(yaml.safe_dump(db.config))
    pg = PGMonkeyFastAPI(str(path))
    with client_factory(async_app(pg)) as client:
        assert client.post("/tx/7").status_code == 200
    assert db.items() == [(7, "tx")]


def test_wrong_password_fails_at_startup(db: Database, client_factory: ClientFactory) -> None:
    cfg = db.config_with()
    cfg["connection_settings"]["password"] = "not-the-password-s3cr3t"
    pg = PGMonkeyFastAPI(cfg, wait=2)
    with pytest.raises(DatabaseConnectionError) as info:
        with client_factory(async_app(pg)):
            pass  # pragma: no cover - startup fails
    message = str(info.value)
    assert "password authentication failed" in message
    assert "'pgmonkey.default' pool" in message
    assert f"dbname={db.dbname}" in message
    assert "s3cr3t" not in message
    assert db.sessions() == 0


def test_unreachable_server_fails_at_startup(db: Database) -> None:
    from .conftest import TestClient

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cfg = db.config_with()
    cfg["connection_settings"].update(host="127.0.0.1", port=port)
    pg = PGMonkeyFastAPI(cfg, wait=2)
    with pytest.raises(DatabaseConnectionError, match=f"port={port}.*(refused|failed)"):
        with TestClient(async_app(pg)):
            pass  # pragma: no cover


def test_init_app_wraps_the_user_lifespan(db: Database, client_factory: ClientFactory) -> None:
    events: list[str] = []
    pg = PGMonkeyFastAPI(db.config)

    @asynccontextmanager
    async def user_lifespan(app: FastAPI) -> Any:
        pool = app.state.pgmonkey["default"]  # pools are open before the user's startup
        async with pool.connection() as conn:
            await conn.execute("INSERT INTO items VALUES (0, 'startup')")
        events.append("user start")
        yield {"answer": 42}
        events.append(f"user stop (pool closed: {pool.closed})")

    app = FastAPI(lifespan=user_lifespan)
    pg.init_app(app)
    Conn = Annotated[Any, Depends(pg.connection)]

    @app.get("/state")
    async def state(request: Request, conn: Conn) -> dict[str, Any]:
        cur = await conn.execute("SELECT count(*) FROM items")
        return {
            "answer": request.state.answer,
            "registry": type(request.state.pgmonkey).__name__,
            "items": (await cur.fetchone())[0],
        }

    with client_factory(app) as client:
        assert client.get("/state").json() == {
            "answer": 42,
            "registry": "PoolRegistry",
            "items": 1,
        }
    assert events == ["user start", "user stop (pool closed: False)"]
    assert app.state.__dict__.get("_state", {}).get("pgmonkey") is None
    assert app.router.on_startup == []
    assert app.router.on_shutdown == []
    assert db.sessions() == 0


def test_init_app_without_a_user_lifespan(db: Database, client_factory: ClientFactory) -> None:
    pg = PGMonkeyFastAPI(db.config)
    with client_factory(async_app(pg, init_app=True)) as client:
        assert client.post("/tx/3").status_code == 200
    assert db.items() == [(3, "tx")]


def test_init_app_refuses_double_management(db: Database) -> None:
    pg = PGMonkeyFastAPI(db.config)
    app = FastAPI(lifespan=pg.lifespan)
    with pytest.raises(PGMonkeyFastAPIError, match="already manages"):
        pg.init_app(app)
    app2 = FastAPI()
    pg.init_app(app2)
    with pytest.raises(PGMonkeyFastAPIError, match="already manages"):
        pg.init_app(app2)


def test_state_key_clash_is_reported(db: Database) -> None:
    from .conftest import TestClient

    @asynccontextmanager
    async def user_lifespan(app: FastAPI) -> Any:
        yield {"pgmonkey": "mine"}

    pg = PGMonkeyFastAPI(db.config)
    app = FastAPI(lifespan=user_lifespan)
    pg.init_app(app)
    with pytest.raises(PGMonkeyFastAPIError, match=r"\['pgmonkey'\].*state_key"):
        with TestClient(app):
            pass  # pragma: no cover
    assert db.sessions() == 0


def test_two_instances_in_one_app(
    pg_server: Any, db: Database, client_factory: ClientFactory
) -> None:
    other = f"{db.dbname}_b"
    pg_server.create_database(other)
    try:
        pg_a = PGMonkeyFastAPI(db.config)
        pg_b = PGMonkeyFastAPI(
            db.config
            | {"connection_settings": {**db.config["connection_settings"], "dbname": other}},
            state_key="pg_b",
        )
        app = FastAPI()
        pg_a.init_app(app)
        pg_b.init_app(app)

        @app.get("/dbs")
        async def dbs(
            a: Annotated[Any, Depends(pg_a.connection)],
            b: Annotated[Any, Depends(pg_b.connection)],
        ) -> list[str]:
            rows = [
                await (await c.execute("SELECT current_database()")).fetchone() for c in (a, b)
            ]
            return [r[0] for r in rows]

        with client_factory(app) as client:
            assert client.get("/dbs").json() == [db.dbname, other]
    finally:
        pg_server.drop_database(other)


def test_request_without_lifespan_gets_a_clear_error(db: Database) -> None:
    from .conftest import TestClient

    pg = PGMonkeyFastAPI(db.config)
    app = FastAPI()

    @app.get("/")
    async def index(conn: Annotated[Any, Depends(pg.connection)]) -> None:
        pass  # pragma: no cover

    with (
        TestClient(app) as client,
        pytest.raises(PGMonkeyFastAPIError, match=r"lifespan=pg\.lifespan"),
    ):
        client.get("/")


def test_several_databases(pg_server: Any, db: Database, client_factory: ClientFactory) -> None:
    other = f"{db.dbname}_replica"
    pg_server.create_database(other)
    try:
        replica_cfg = db.config_with()
        replica_cfg["connection_settings"]["dbname"] = other
        pg = PGMonkeyFastAPI({"default": db.config, "replica": replica_cfg})
        assert pg.names == ["default", "replica"]
        assert pg.connection_for("replica") is pg.connection_for("replica")
        assert pg.transaction_for("replica") is pg.transaction_for("replica")
        assert pg.pool_for("replica") is pg.pool_for("replica")
        assert pg.connection_for("default") is pg.connection
        app = FastAPI(lifespan=pg.lifespan)

        @app.get("/where")
        async def where(
            main: Annotated[Any, Depends(pg.connection)],
            replica: Annotated[Any, Depends(pg.connection_for("replica"))],
        ) -> list[str]:
            out = []
            for conn in (main, replica):
                out.append((await (await conn.execute("SELECT current_database()")).fetchone())[0])
            return out

        with client_factory(app) as client:
            assert client.get("/where").json() == [db.dbname, other]
            assert sorted(app.state.pgmonkey) == ["default", "replica"]
    finally:
        pg_server.drop_database(other)


def test_constructor_errors(db: Database) -> None:
    with pytest.raises(ConfigValidationError, match="connection_type must be"):
        PGMonkeyFastAPI(db.config, connection_type="normal")
    with pytest.raises(ConfigValidationError, match="no 'default' entry"):
        PGMonkeyFastAPI({"primary": db.config})
    with pytest.raises(ConfigValidationError, match="got int"):
        PGMonkeyFastAPI(42)  # type: ignore[call-overload]
    pg = PGMonkeyFastAPI(db.config)
    with pytest.raises(PGMonkeyFastAPIError, match="unknown database 'replica'"):
        pg.connection_for("replica")


@pytest.mark.parametrize(
    ("connection_type", "section"), [("async_pool", "async_settings"), ("pool", "sync_settings")]
)
def test_session_settings_come_from_the_core(
    db: Database, client_factory: ClientFactory, connection_type: str, section: str
) -> None:
    cfg = db.config_with()
    cfg[section] = {"statement_timeout": "1234"}
    pg = PGMonkeyFastAPI(cfg, connection_type)
    app = FastAPI(lifespan=pg.lifespan)

    if connection_type == "async_pool":

        @app.get("/timeout")
        async def timeout_async(conn: Annotated[Any, Depends(pg.transaction)]) -> str:
            return str((await (await conn.execute("SHOW statement_timeout")).fetchone())[0])

    else:

        @app.get("/timeout")
        def timeout_sync(conn: Annotated[Any, Depends(pg.transaction)]) -> str:
            return str(conn.execute("SHOW statement_timeout").fetchone()[0])

    with client_factory(app) as client:
        assert client.get("/timeout").json() == "1234ms"
