"""Read replicas: ``PGMONKEY_DATABASES = {"replica": ...}`` on a real streaming standby.

The default database is the primary; ``replica`` lists the standby and the primary with
``target_session_attrs: prefer-standby`` (the standby while it is up). Writes go through
``pg.connection()``, reads through ``pg.connection("replica")``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from flask import Flask

from pgmonkey.testing import PostgresServer
from pgmonkey_flask import PGMonkey
from tests._replicas import replica_configs


def server_of(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    row = conn.execute("SELECT pg_is_in_recovery(), inet_server_port()").fetchone()
    assert row is not None
    in_recovery, port = row
    return {"in_recovery": in_recovery, "port": port}


@pytest.fixture(scope="module")
def app(replica_cluster: tuple[PostgresServer, PostgresServer]) -> Iterator[Flask]:
    primary_cfg, replica_cfg = replica_configs(*replica_cluster, "pool")
    app = Flask("pgm_flask_replicas")
    app.config.update(
        PGMONKEY_CONFIG=primary_cfg,
        PGMONKEY_DATABASES={"replica": replica_cfg},
        PGMONKEY_COMMIT_MODE="autocommit",
    )
    pg = PGMonkey(app)

    @app.post("/notes/<text>")
    def write(text: str) -> Any:
        conn = pg.connection()
        conn.execute("INSERT INTO notes (text) VALUES (%s)", [text])
        return server_of(conn), 201

    @app.get("/notes")
    def read() -> Any:
        conn = pg.connection("replica")
        texts = [t for (t,) in conn.execute("SELECT text FROM notes ORDER BY id").fetchall()]
        return {"texts": texts, **server_of(conn)}

    @app.post("/replica/notes/<text>")
    def write_to_replica(text: str) -> Any:
        pg.connection("replica").execute("INSERT INTO notes (text) VALUES (%s)", [text])
        return {}, 201

    @app.errorhandler(psycopg.errors.ReadOnlySqlTransaction)
    def read_only(exc: psycopg.errors.ReadOnlySqlTransaction) -> Any:
        return {"sqlstate": exc.sqlstate, "message": str(exc)}, 409

    yield app
    pg.close(app)


def test_reads_are_served_by_the_standby_and_see_the_primarys_writes(
    app: Flask, replica_cluster: tuple[PostgresServer, PostgresServer]
) -> None:
    primary, standby = replica_cluster
    client = app.test_client()
    written = client.post("/notes/flask-write")
    assert written.status_code == 201
    assert written.json == {"in_recovery": False, "port": primary.port}
    assert primary.execute("SELECT count(*) FROM notes WHERE text = 'flask-write'") == [(1,)]

    deadline = time.monotonic() + 30
    while True:  # replication is asynchronous: poll until the standby has replayed the write
        body = client.get("/notes").json
        assert body is not None
        if "flask-write" in body["texts"] or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert body["in_recovery"] is True
    assert body["port"] == standby.port
    assert "flask-write" in body["texts"]


def test_a_write_through_the_replica_fails_read_only(
    app: Flask, replica_cluster: tuple[PostgresServer, PostgresServer]
) -> None:
    primary, _ = replica_cluster
    response = app.test_client().post("/replica/notes/flask-nope")
    assert response.status_code == 409
    assert response.json == {
        "sqlstate": "25006",
        "message": "cannot execute INSERT in a read-only transaction",
    }
    assert primary.execute("SELECT count(*) FROM notes WHERE text = 'flask-nope'") == [(0,)]
    # The failed connection went back to the pool rolled back: the replica still reads.
    assert app.test_client().get("/notes").status_code == 200
