"""A pool that follows a rotated secret file (Kubernetes or Docker secret, Vault agent file)."""

import os
import secrets
from pathlib import Path

import psycopg
import yaml
from psycopg import sql

from pgmonkey import PGConnectionManager, load_config

# -- Setting the scene: a role whose password lives in a file, as a secret mount gives it. --
admin = load_config("config.yaml")["connection_settings"]
role = f"app_{secrets.token_hex(4)}"


def set_password(password: str, create: bool = False) -> None:
    """What the database administrator (or Vault) does on the server."""
    verb = "CREATE ROLE {} LOGIN PASSWORD {}" if create else "ALTER ROLE {} PASSWORD {}"
    with psycopg.connect(**admin, autocommit=True) as conn:
        conn.execute(sql.SQL(verb).format(sql.Identifier(role), sql.Literal(password)))


def write_secret(password: str) -> None:
    """What Kubernetes does: a new file moved into place (a new inode)."""
    Path("db-password.new").write_text(password + "\n")
    os.replace("db-password.new", "db-password")


first = secrets.token_urlsafe(16)
set_password(first, create=True)
write_secret(first)

# -- The application's configuration: the password is a from_file secret. ------------------
app = {
    "connection_type": "pool",
    "connection_settings": {
        **{k: v for k, v in admin.items() if k not in ("user", "password")},
        "user": role,
        "password": {"from_file": "db-password"},
    },
    "pool_settings": {"min_size": 1, "max_size": 4, "max_lifetime": 3600},
}
Path("app.yaml").write_text(yaml.safe_dump(app))

manager = PGConnectionManager()
pool = manager.get_database_connection("app.yaml", resolve_env=True)
with pool as conn:
    print("before rotation:", conn.execute("SELECT current_user").fetchone()[0] == role)

# -- Rotation: the server gets a new password, then the secret file follows. ---------------
second = secrets.token_urlsafe(16)
set_password(second)
write_secret(second)

with pool as conn:  # an open connection stays valid: PostgreSQL checks passwords at login only
    print("open connection still works:", conn.execute("SELECT 1").fetchone()[0] == 1)

# Connections retire at max_lifetime; drain() retires them now (each once it is returned).
pool.pool.drain()
with pool as conn:  # a new connection: the file was re-read, no restart
    print(
        "new connection after rotation:", conn.execute("SELECT current_user").fetchone()[0] == role
    )

same = manager.get_database_connection("app.yaml", resolve_env=True) is pool
print("the manager kept the same pool:", same)
try:
    psycopg.connect(**{**admin, "user": role, "password": first}).close()
except psycopg.OperationalError:
    print("the old password is refused")

manager.clear_cache()
with psycopg.connect(**admin, autocommit=True) as conn:
    conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
