"""Tests against a real PostgreSQL: the fixtures come with pgmonkey-core, just run ``pytest``."""

from typing import Any

import psycopg
import pytest

from pgmonkey.connections import connect


@pytest.fixture
def conn(pg_database: dict[str, Any]):
    """A connection to a fresh, empty database (dropped after the test)."""
    with connect(pg_database) as conn:
        conn.execute("CREATE TABLE orders (id serial PRIMARY KEY, total numeric NOT NULL)")
        yield conn


def test_an_order_is_stored(conn: psycopg.Connection) -> None:
    conn.execute("INSERT INTO orders (total) VALUES (9.99)")
    assert conn.execute("SELECT count(*) FROM orders").fetchone() == (1,)


def test_every_test_gets_an_empty_database(conn: psycopg.Connection) -> None:
    assert conn.execute("SELECT count(*) FROM orders").fetchone() == (0,)
