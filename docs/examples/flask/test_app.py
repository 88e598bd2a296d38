"""Tests for app.py: one database for the module, every test rolled back."""

import pytest
from app import create_app, pg

from pgmonkey.connections import connect


@pytest.fixture(scope="module")
def app(pg_server):
    pg_server.create_database("notes_test")
    cfg = pg_server.config(dbname="notes_test")
    with connect(cfg, autocommit=True) as conn:
        conn.execute("CREATE TABLE notes (id serial PRIMARY KEY, text text)")
    app = create_app(cfg)  # a configuration dict works as well as a path
    yield app
    pg.close(app)
    pg_server.drop_database("notes_test")


@pytest.fixture
def client(app):
    with pg.test_isolation(app):  # everything the test does is rolled back at the end
        yield app.test_client()


def test_a_note_is_added(client):
    assert client.post("/notes", json={"text": "hello"}).status_code == 201
    assert [n["text"] for n in client.get("/notes").get_json()] == ["hello"]


def test_the_previous_test_left_nothing_behind(client):
    assert client.get("/notes").get_json() == []
