"""Pools and connections: lazy creation, one connection per app context, teardown, close."""

from __future__ import annotations

import logging

import pytest
from flask import Flask

from pgmonkey.errors import DatabaseConnectionError
from pgmonkey_flask import PGMonkey, PGMonkeyFlaskError
from tests.ext_flask.conftest import POOL_MAX, AppFactory, Database


def test_init_app_opens_nothing_and_noop_views_borrow_nothing(
    db: Database, make_app: AppFactory
) -> None:
    pg = PGMonkey()
    app = make_app(pg)
    assert db.sessions() == []
    client = app.test_client()
    for _ in range(3):
        assert client.get("/noop").status_code == 200
    assert db.sessions() == []
    assert pg.stats(app) == {}
    # Once the pool exists, a view without pg.connection() still borrows nothing.
    assert client.get("/backend").status_code == 200
    before = pg.stats(app)["default"]
    client.get("/noop")
    after = pg.stats(app)["default"]
    assert after["requests_num"] == before["requests_num"] == 1
    assert after["pool_available"] == after["pool_size"]


def test_one_connection_per_context_and_per_name(
    db: Database, other_db: Database, make_app: AppFactory
) -> None:
    other = other_db
    app = make_app(PGMONKEY_DATABASES={"reports": other.config()})
    client = app.test_client()
    body = client.get("/backend").get_json()
    assert body["db"] == db.dbname
    assert body["same"] is True
    reports = client.get("/backend?db=reports").get_json()
    assert reports["db"] == other.dbname
    assert reports["same"] is True
    pg = app.extensions["pgmonkey"]
    with app.app_context():
        ext = PGMonkey()
        assert ext.connection() is ext.connection()
        assert ext.connection("reports") is not ext.connection()
        assert set(ext.stats()) == {"default", "reports"}
        with pytest.raises(
            PGMonkeyFlaskError, match=r"no database named 'nope'.*'default', 'reports'"
        ):
            ext.connection("nope")
    assert pg is app.extensions["pgmonkey"]
    PGMonkey().close(app)
    assert other.sessions(settle_to=0) == []


def test_teardown_returns_connections_and_rolls_back_quietly(
    db: Database, make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    pg = PGMonkey()
    app = make_app(pg, PGMONKEY_CONFIG=db.config(min_size=2, max_size=POOL_MAX))
    client = app.test_client()
    caplog.set_level(logging.DEBUG, logger="psycopg.pool")
    for i in range(20):
        # Leaves a transaction open (INTRANS), and a failed one (INERROR).
        assert client.post(f"/insert/left-open-{i}?status=200").status_code == 200
        assert client.post("/failed-statement").get_json() == {"status": "INERROR"}
    assert db.names() == []  # manual mode: nothing committed
    assert not [r for r in caplog.records if "rolling back returned connection" in r.message]
    stats = pg.stats(app)["default"]
    assert stats["pool_available"] == stats["pool_size"] >= 2
    assert stats["requests_num"] == 40
    assert stats.get("connections_lost", 0) == 0
    assert all(state == "idle" for _, state in db.sessions())
    # An app context outside a request gives its connection back when it ends.
    with app.app_context():
        pg.connection().execute("SELECT 1")
        assert pg.stats()["default"]["pool_available"] == stats["pool_size"] - 1
    assert pg.stats(app)["default"]["pool_available"] == stats["pool_size"]


def test_several_apps_and_instances_per_process(
    db: Database, other_db: Database, make_app: AppFactory
) -> None:
    other = other_db
    shared = PGMonkey()
    app_a = make_app(shared)
    app_b = make_app(shared, PGMONKEY_CONFIG=other.config())
    app_c = make_app(PGMonkey(), PGMONKEY_CONFIG=other.config())
    assert app_a.test_client().get("/backend").get_json()["db"] == db.dbname
    assert app_b.test_client().get("/backend").get_json()["db"] == other.dbname
    assert app_c.test_client().get("/backend").get_json()["db"] == other.dbname
    # app_b and app_c have a pool each on the same database.
    assert len(other.sessions()) == 2
    shared.close(app_b)
    PGMonkey().close(app_c)
    assert other.sessions(settle_to=0) == []
    assert len(db.sessions(settle_to=1)) == 1


def test_clear_errors_outside_context_and_before_init_app(
    db: Database, make_app: AppFactory
) -> None:
    pg = PGMonkey()
    with pytest.raises(PGMonkeyFlaskError, match="needs an application context"):
        pg.connection()
    with pytest.raises(PGMonkeyFlaskError, match="needs an application context"):
        pg.pool()
    bare = Flask("bare")
    with bare.app_context():
        with pytest.raises(
            PGMonkeyFlaskError, match=r"'bare' is not initialised: call pg.init_app"
        ):
            pg.connection()
    app = make_app(pg)
    with pytest.raises(PGMonkeyFlaskError, match="already called for app"):
        pg.init_app(app)
    with pytest.raises(RuntimeError):  # still a RuntimeError, like Flask's own message
        PGMonkey().connection()


def test_close_then_new_requests_recreate_the_pool(db: Database, make_app: AppFactory) -> None:
    pg = PGMonkey()
    app = make_app(pg)
    client = app.test_client()
    first = client.get("/backend").get_json()["pid"]
    pool = pg.pool(app=app)
    pg.close(app)
    assert pool.closed
    assert db.sessions(settle_to=0) == []
    second = client.get("/backend").get_json()["pid"]
    assert second != first
    assert pg.pool(app=app) is not pool


def test_normal_connection_type_opens_and_closes_per_context(
    db: Database, make_app: AppFactory
) -> None:
    app = make_app(PGMONKEY_CONNECTION_TYPE="normal")
    client = app.test_client()
    pids = {client.get("/backend").get_json()["pid"] for _ in range(3)}
    assert len(pids) == 3
    assert db.sessions(settle_to=0) == []
    with app.app_context(), pytest.raises(PGMonkeyFlaskError, match="has no pool"):
        PGMonkey().pool()


def test_unreachable_server_is_a_clear_error(db: Database, make_app: AppFactory) -> None:
    cfg = db.config(timeout=2)
    cfg["connection_settings"]["password"] = "wrong-password"
    app = make_app(PGMONKEY_CONFIG=cfg)
    with app.app_context(), pytest.raises(DatabaseConnectionError) as info:
        PGMonkey().connection()
    message = str(info.value)
    assert db.dbname in message
    assert "password authentication failed" in message
    assert "wrong-password" not in message
