"""Fixture factories: a server with its own settings, databases copied from a template."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from pgmonkey.testing import PostgresServer, factories

pg_tuned = factories.server(settings={"max_connections": 42, "work_mem": "7MB"}, scope="module")
app_db = factories.database(
    "pg_tuned",
    extensions=["citext"],
    setup_sql=[
        "CREATE TABLE users (id serial PRIMARY KEY, email citext UNIQUE)",
        "INSERT INTO users (email) VALUES ('Ann@Example.org')",
    ],
)


def _connect(cfg: dict[str, Any]) -> psycopg.Connection[Any]:
    return psycopg.connect(**cfg["connection_settings"], autocommit=True)


def test_server_runs_with_its_settings(pg_tuned: PostgresServer) -> None:
    assert pg_tuned.execute("SHOW max_connections") == [("42",)]
    assert pg_tuned.execute("SHOW work_mem") == [("7MB",)]


@pytest.mark.parametrize("round_", [1, 2])
def test_each_test_gets_a_fresh_copy_of_the_template(app_db: dict[str, Any], round_: int) -> None:
    with _connect(app_db) as conn:
        # The extension and the schema are there, and nothing another test wrote.
        assert conn.execute("SELECT id FROM users WHERE email = 'ann@example.org'").fetchall() == [
            (1,)
        ]
        conn.execute("INSERT INTO users (email) VALUES (%s)", (f"round{round_}@example.org",))
        assert conn.execute("SELECT count(*) FROM users").fetchone() == (2,)


def test_the_template_is_built_once(app_db: dict[str, Any], pg_tuned: PostgresServer) -> None:
    rows = pg_tuned.execute(
        "SELECT datname, datistemplate FROM pg_database WHERE datname LIKE 'pgmonkey_template_%'"
    )
    assert len(rows) == 1
    assert rows[0][1] is True
    assert app_db["connection_settings"]["dbname"].startswith("pgmonkey_test_")
