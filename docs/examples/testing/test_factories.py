"""A server with your own settings, and per-test databases holding your schema."""

from typing import Any

import psycopg

from pgmonkey.testing import factories

# Fixtures, named after the variables they are assigned to.
pg_small = factories.server(settings={"max_connections": 20, "work_mem": "8MB"})
shop_db = factories.database(
    "pg_small",
    extensions=["citext"],
    setup_sql=[
        "CREATE TABLE customers (id serial PRIMARY KEY, email citext UNIQUE NOT NULL)",
        "INSERT INTO customers (email) VALUES ('Ada@Example.org')",
    ],
)


def test_lookup_ignores_case(shop_db: dict[str, Any]) -> None:
    with psycopg.connect(**shop_db["connection_settings"]) as conn:
        row = conn.execute("SELECT id FROM customers WHERE email = 'ada@example.org'").fetchone()
        assert row == (1,)


def test_each_test_starts_from_the_template(shop_db: dict[str, Any]) -> None:
    with psycopg.connect(**shop_db["connection_settings"]) as conn:
        conn.execute("INSERT INTO customers (email) VALUES ('bob@example.org')")
        assert conn.execute("SELECT count(*) FROM customers").fetchone() == (2,)
