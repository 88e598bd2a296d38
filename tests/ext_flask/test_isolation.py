"""``pg.test_isolation()``: the app keeps its semantics, and nothing reaches the database."""

from __future__ import annotations

import psycopg
import pytest

from pgmonkey_flask import PGMonkey, PGMonkeyFlaskError
from tests.ext_flask.conftest import AppFactory, Database


@pytest.mark.parametrize("mode", ["manual", "autocommit"])
def test_commits_are_visible_inside_and_rolled_back_at_exit(
    db: Database, make_app: AppFactory, mode: str
) -> None:
    pg = PGMonkey()
    app = make_app(pg, PGMONKEY_COMMIT_MODE=mode)
    client = app.test_client()
    with pg.test_isolation(app):
        assert client.post("/commit/explicit").status_code == 201
        assert client.post("/tx/block").status_code == 201
        assert client.post("/insert/plain").status_code == 200  # kept only in autocommit mode
        assert client.post("/abort/aborted").status_code == 409
        assert client.post("/handled/handled").status_code == 400
        assert client.post("/failed-statement").status_code == 200
        expected = ["explicit", "block"] + (["plain"] if mode == "autocommit" else [])
        assert client.get("/count").get_json() == {"count": len(expected)}
        with app.app_context():
            rows = pg.connection().execute("SELECT name FROM items ORDER BY id").fetchall()
            assert [name for (name,) in rows] == expected
        # Nothing was really committed: other sessions see nothing.
        assert db.names() == []
        # One pinned connection serves every app context.
        assert len(db.sessions()) == 1
    assert db.names() == []
    assert client.get("/count").get_json() == {"count": 0}
    stats = pg.stats(app)["default"]
    assert stats["pool_available"] == stats["pool_size"]
    assert all(state == "idle" for _, state in db.sessions())


def test_each_app_context_rolls_back_only_its_own_work(db: Database, make_app: AppFactory) -> None:
    pg = PGMonkey()
    app = make_app(pg)
    with pg.test_isolation(app), app.app_context():
        conn = pg.connection()
        conn.execute("INSERT INTO items (name) VALUES ('outer')")
        with app.app_context():  # a nested context (its own g and teardown)
            inner = pg.connection()
            assert inner is conn  # the pinned connection
            inner.execute("INSERT INTO items (name) VALUES ('inner-uncommitted')")
        names = [n for (n,) in conn.execute("SELECT name FROM items ORDER BY id").fetchall()]
        assert names == ["outer"]
        conn.rollback()  # back to this context's start
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (0,)
        conn.execute("INSERT INTO items (name) VALUES ('committed')")
        conn.commit()
        conn.execute("INSERT INTO items (name) VALUES ('rolled-back')")
        conn.rollback()
        names = [n for (n,) in conn.execute("SELECT name FROM items ORDER BY id").fetchall()]
        assert names == ["committed"]
    assert db.names() == []


def test_psycopg_rules_still_apply(db: Database, make_app: AppFactory) -> None:
    pg = PGMonkey()
    app = make_app(pg)
    with pg.test_isolation(app), app.app_context():
        conn = pg.connection()
        with conn.transaction():
            conn.execute("INSERT INTO items (name) VALUES ('x')")
            with pytest.raises(psycopg.ProgrammingError, match=r"commit\(\) forbidden"):
                conn.commit()
        with pytest.raises(psycopg.errors.UniqueViolation):  # noqa: PT012
            with conn.transaction():
                conn.execute("INSERT INTO deferred (id) VALUES (1), (1)")
                conn.execute("SET CONSTRAINTS ALL IMMEDIATE")
        conn.close()  # ignored: the pinned connection stays usable
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (1,)
    assert db.names() == []


def test_autocommit_connections(db: Database, make_app: AppFactory) -> None:
    cfg = db.config()
    cfg["connection_settings"]["autocommit"] = True
    pg = PGMonkey()
    app = make_app(pg, PGMONKEY_CONFIG=cfg)
    client = app.test_client()
    with pg.test_isolation(app):
        assert client.post("/insert/auto").status_code == 200
        assert client.post("/failed-statement").get_json()["status"] == "INERROR"
        assert client.get("/count").get_json() == {"count": 1}
        assert db.names() == []
    assert db.names() == []
    # Outside the block the connection is autocommit again.
    assert client.post("/insert/real").status_code == 200
    assert db.names() == ["real"]


def test_nested_isolation_and_errors(db: Database, make_app: AppFactory) -> None:
    pg = PGMonkey()
    app = make_app(pg)
    with pytest.raises(PGMonkeyFlaskError, match="needs an application context"):
        with pg.test_isolation():
            pass
    with pg.test_isolation(app):
        with pytest.raises(PGMonkeyFlaskError, match="already active"):
            with pg.test_isolation(app):
                pass
    with app.app_context(), pg.test_isolation():  # the current app
        assert app.test_client().post("/commit/y").status_code == 201
    assert db.names() == []


def test_normal_connection_type(db: Database, make_app: AppFactory) -> None:
    pg = PGMonkey()
    app = make_app(pg, PGMONKEY_CONNECTION_TYPE="normal")
    client = app.test_client()
    with pg.test_isolation(app):
        assert client.post("/tx/n").status_code == 201
        assert client.get("/count").get_json() == {"count": 1}
        assert len(db.sessions()) == 1
    assert db.names() == []
    assert db.sessions(settle_to=0) == []
