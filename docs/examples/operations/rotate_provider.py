"""A credential provider: each new connection gets its password from a function.

pgmonkey calls ``issue_password`` (named in the YAML file as ``rotate_provider:issue_password``)
for each new physical connection, with the connection's non-secret settings. Here it plays
Vault's database secrets engine: it sets a new password on the server and returns it. Running
this file as a script imports it a second time as the module ``rotate_provider``.

A real secrets engine issues a new *user* with each password, so connections opened at the
same time never invalidate each other; this stand-in keeps one role, hence one pool worker.
"""

import secrets
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import sql

from pgmonkey import load_config

ISSUED: list[str] = []


def issue_password(settings: Mapping[str, Any]) -> dict[str, str]:
    """Return the user and a fresh password for ``settings["user"]`` (set on the server)."""
    password = secrets.token_urlsafe(16)
    admin = load_config("config.yaml")["connection_settings"]
    with psycopg.connect(**admin, autocommit=True) as conn:
        statement = sql.SQL("ALTER ROLE {} PASSWORD {}")
        conn.execute(statement.format(sql.Identifier(settings["user"]), sql.Literal(password)))
    ISSUED.append(password)
    return {"user": settings["user"], "password": password}


if __name__ == "__main__":
    import yaml

    from pgmonkey import PGConnectionManager

    admin = load_config("config.yaml")["connection_settings"]
    role = f"app_{secrets.token_hex(4)}"
    with psycopg.connect(**admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))

    app = {
        "connection_type": "pool",
        "connection_settings": {
            **{k: v for k, v in admin.items() if k not in ("user", "password")},
            "user": role,
            "credential_provider": "rotate_provider:issue_password",
        },
        # One password per role at a time: one pool worker opens connections, one by one.
        "pool_settings": {"min_size": 1, "max_size": 2, "num_workers": 1},
    }
    with open("provider.yaml", "w") as f:
        yaml.safe_dump(app, f)

    manager = PGConnectionManager()
    pool = manager.get_database_connection("provider.yaml")
    for _ in range(3):
        with pool as conn:
            print(
                "connected as the app role:",
                conn.execute("SELECT current_user").fetchone()[0] == role,
            )
        pool.pool.drain()  # the next block gets a new physical connection

    import rotate_provider  # the module pgmonkey imported to call issue_password

    issued = rotate_provider.ISSUED
    print(
        "provider calls:",
        len(issued) >= 3,
        "all passwords different:",
        len(set(issued)) == len(issued),
    )
    manager.clear_cache()
    with psycopg.connect(**admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
