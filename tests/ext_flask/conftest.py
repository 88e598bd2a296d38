"""Fixtures for the Flask extension tests: a fresh database and an app factory with views.

Every app gets a unique ``application_name`` so that ``pg_stat_activity`` shows exactly the
sessions the extension opened; the factory closes the pools of every app it made.
"""

from __future__ import annotations

import contextlib
import copy
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from flask import Flask, abort, redirect, request

from pgmonkey.testing import PostgresServer
from pgmonkey_flask import PGMonkey
from tests._health import health_server, running_health_server  # noqa: F401  (fixtures)
from tests._replicas import replica_cluster  # noqa: F401  (a fixture for this folder)

POOL_MAX = 4


@dataclass
class Database:
    """A fresh database, its pgmonkey configuration, and helpers to look at it from outside."""

    server: PostgresServer
    dbname: str
    cfg: dict[str, Any]

    @property
    def application_name(self) -> str:
        return str(self.cfg["connection_settings"]["application_name"])

    def rows(self, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        with self.server.connect(dbname=self.dbname) as conn:
            conn.autocommit = True
            return conn.execute(query, params).fetchall()

    def execute(self, query: str) -> None:
        with self.server.connect(dbname=self.dbname) as conn:
            conn.autocommit = True
            conn.execute(query)

    def sessions(
        self, application_name: str | None = None, *, settle_to: int | None = None
    ) -> list[tuple[int, str]]:
        """``(pid, state)`` of the sessions opened with this (or the given) application name.

        Args:
            application_name: Another application name to look for.
            settle_to: Poll for up to 5 s until there are this many sessions: a backend whose
                client just closed may still be exiting. A leak still shows after the wait.
        """
        deadline = time.monotonic() + 5.0
        while True:
            found = [
                (pid, state)
                for pid, state in self.rows(
                    "SELECT pid, state FROM pg_stat_activity WHERE application_name = %s"
                    " AND pid <> pg_backend_pid() ORDER BY pid",
                    [application_name or self.application_name],
                )
            ]
            if settle_to is None or len(found) == settle_to or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def names(self) -> list[str]:
        return [name for (name,) in self.rows("SELECT name FROM items ORDER BY id")]

    def config(self, **pool_settings: Any) -> dict[str, Any]:
        cfg = copy.deepcopy(self.cfg)
        cfg["pool_settings"].update(pool_settings)
        return cfg


def make_database(server: PostgresServer, dbname: str) -> Database:
    cfg = server.config(dbname=dbname, application_name=f"pgm-flask-{secrets.token_hex(4)}")
    cfg["pool_settings"] = {"min_size": 1, "max_size": POOL_MAX, "timeout": 10}
    db = Database(server, dbname, cfg)
    db.execute(
        "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL);"
        "CREATE TABLE deferred (id int, CONSTRAINT deferred_u UNIQUE (id)"
        " DEFERRABLE INITIALLY DEFERRED)"
    )
    return db


@pytest.fixture
def other_db(db: Database) -> Iterator[Database]:
    """A second fresh database on the same server (for named databases and several apps)."""
    name = db.dbname + "_other"
    db.server.create_database(name)
    try:
        yield make_database(db.server, name)
    finally:
        db.server.drop_database(name)


@pytest.fixture
def db(pg_server: PostgresServer, pg_database: dict[str, Any]) -> Database:
    """A fresh database with the tables ``items`` and ``deferred``."""
    return make_database(pg_server, pg_database["connection_settings"]["dbname"])


def add_views(app: Flask, pg: PGMonkey) -> None:
    """The views every test app offers."""

    def insert(name: str) -> None:
        pg.connection().execute("INSERT INTO items (name) VALUES (%s)", [name])

    @app.get("/noop")
    def noop() -> str:
        return "ok"

    @app.get("/backend")
    def backend() -> dict[str, Any]:
        db_name = request.args.get("db", "default")
        conn = pg.connection(db_name)
        pid, dbname = conn.execute("SELECT pg_backend_pid(), current_database()").fetchall()[0]
        return {"pid": pid, "db": dbname, "same": pg.connection(db_name) is conn}

    @app.get("/count")
    def count() -> dict[str, Any]:
        [(n,)] = pg.connection().execute("SELECT count(*) FROM items").fetchall()
        return {"count": n}

    @app.post("/insert/<name>")
    def insert_status(name: str) -> Any:
        insert(name)
        status = int(request.args.get("status", "200"))
        if 300 <= status < 400:
            return redirect("/noop", code=status)
        return "", status

    @app.post("/abort/<name>")
    def insert_abort(name: str) -> Any:
        insert(name)
        abort(409)

    @app.errorhandler(ValueError)
    def handle_value_error(exc: ValueError) -> Any:
        return {"error": str(exc)}, 400

    @app.post("/handled/<name>")
    def insert_handled(name: str) -> Any:
        insert(name)
        raise ValueError("bad input")

    @app.post("/crash/<name>")
    def insert_crash(name: str) -> Any:
        insert(name)
        raise RuntimeError("boom")

    @app.post("/commit/<name>")
    def insert_commit(name: str) -> Any:
        insert(name)
        pg.connection().commit()
        return "", 201

    @app.post("/tx/<name>")
    def insert_tx(name: str) -> Any:
        with pg.transaction() as conn:
            conn.execute("INSERT INTO items (name) VALUES (%s)", [name])
        return "", 201

    @app.post("/deferred/<int:value>")
    def insert_deferred(value: int) -> Any:
        conn = pg.connection()
        conn.execute("INSERT INTO deferred (id) VALUES (%s), (%s)", [value, value])
        insert(f"deferred-{value}")
        return "", 200

    @app.post("/failed-statement")
    def failed_statement() -> Any:
        conn = pg.connection()
        with contextlib.suppress(psycopg.errors.DivisionByZero):
            conn.execute("SELECT 1/0")
        return {"status": str(conn.info.transaction_status.name)}


AppFactory = Callable[..., Flask]


@pytest.fixture
def make_app(db: Database) -> Iterator[AppFactory]:
    """``make_app(pg=None, **app_config)``: a Flask app bound to ``db`` with :func:`add_views`."""
    made: list[tuple[PGMonkey, Flask]] = []

    def factory(pg: PGMonkey | None = None, **config: Any) -> Flask:
        app = Flask(f"pgm_flask_test_{len(made)}")
        app.config["PGMONKEY_CONFIG"] = db.config()
        app.config.update(config)
        ext = pg if pg is not None else PGMonkey()
        ext.init_app(app)
        add_views(app, ext)
        made.append((ext, app))
        return app

    yield factory
    for ext, app in made:
        ext.close(app)
