"""Read replicas: ``connection_for("replica")`` on a real streaming standby.

``PGMonkeyFastAPI({"default": primary, "replica": replica})``: the default database is the
primary; ``replica`` lists the standby and the primary with ``target_session_attrs:
prefer-standby`` (the standby while it is up). Writes run in ``pg.depends_transaction()``,
reads through ``Depends(pg.connection_for("replica"))``.
"""

# No "from __future__ import annotations": FastAPI must see the local Annotated aliases.

import time
from typing import Annotated, Any

import psycopg
import pytest
from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse

from pgmonkey.testing import PostgresServer
from pgmonkey_fastapi import PGMonkeyFastAPI
from tests._replicas import replica_configs
from tests.ext_fastapi.conftest import ClientFactory

Cluster = tuple[PostgresServer, PostgresServer]


async def server_of(conn: Any) -> dict[str, Any]:
    cur = await conn.execute("SELECT pg_is_in_recovery(), inet_server_port()")
    in_recovery, port = await cur.fetchone()
    return {"in_recovery": in_recovery, "port": port}


def replica_app(pg: PGMonkeyFastAPI) -> FastAPI:
    app = FastAPI()
    pg.init_app(app)
    Tx = Annotated[Any, pg.depends_transaction()]
    Replica = Annotated[Any, Depends(pg.connection_for("replica"))]

    @app.post("/notes/{text}", status_code=201)
    async def write(text: str, conn: Tx) -> Any:
        await conn.execute("INSERT INTO notes (text) VALUES (%s)", (text,))
        return await server_of(conn)

    @app.get("/notes")
    async def read(conn: Replica) -> Any:
        cur = await conn.execute("SELECT text FROM notes ORDER BY id")
        texts = [text for (text,) in await cur.fetchall()]
        return {"texts": texts, **(await server_of(conn))}

    @app.post("/replica/notes/{text}", status_code=201)
    async def write_to_replica(text: str, conn: Replica) -> Any:
        try:
            await conn.execute("INSERT INTO notes (text) VALUES (%s)", (text,))
        except psycopg.errors.ReadOnlySqlTransaction as exc:
            await conn.rollback()
            return JSONResponse({"sqlstate": exc.sqlstate, "message": str(exc)}, 409)
        return {}

    return app


@pytest.fixture(scope="module")
def app(replica_cluster: Cluster) -> FastAPI:
    primary_cfg, replica_cfg = replica_configs(*replica_cluster, "async_pool")
    return replica_app(PGMonkeyFastAPI({"default": primary_cfg, "replica": replica_cfg}))


def test_reads_are_served_by_the_standby_and_see_the_primarys_writes(
    app: FastAPI, replica_cluster: Cluster, client_factory: ClientFactory
) -> None:
    primary, standby = replica_cluster
    text = f"fastapi-write-{time.monotonic_ns()}"  # the test runs once per client kind
    with client_factory(app) as client:
        written = client.post(f"/notes/{text}")
        assert written.status_code == 201
        assert written.json() == {"in_recovery": False, "port": primary.port}
        assert primary.execute("SELECT count(*) FROM notes WHERE text = %s", [text]) == [(1,)]

        deadline = time.monotonic() + 30
        while True:  # replication is asynchronous: poll until the standby replayed the write
            body = client.get("/notes").json()
            if text in body["texts"] or time.monotonic() > deadline:
                break
            time.sleep(0.02)
    assert body["in_recovery"] is True
    assert body["port"] == standby.port
    assert text in body["texts"]


def test_a_write_through_the_replica_fails_read_only(
    app: FastAPI, replica_cluster: Cluster, client_factory: ClientFactory
) -> None:
    primary, _ = replica_cluster
    with client_factory(app) as client:
        response = client.post("/replica/notes/fastapi-nope")
        assert response.status_code == 409
        assert response.json() == {
            "sqlstate": "25006",
            "message": "cannot execute INSERT in a read-only transaction",
        }
        assert client.get("/notes").status_code == 200  # the replica connection is still fine
    assert primary.execute("SELECT count(*) FROM notes WHERE text = 'fastapi-nope'") == [(0,)]
