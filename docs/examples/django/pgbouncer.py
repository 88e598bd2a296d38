"""settings.py of a Django project that connects through PgBouncer (transaction pooling)."""

from pathlib import Path

from pgmonkey_django import database_config

BASE_DIR = Path(__file__).resolve().parent

# pgbouncer.yaml says "pooler: pgbouncer" and points host/port at PgBouncer.
DATABASES = {"default": database_config(BASE_DIR / "pgbouncer.yaml")}
