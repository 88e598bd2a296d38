"""settings.py: writes on the primary ("default"), reads on a replica, chosen by a router."""

from pathlib import Path

from pgmonkey_django import databases

BASE_DIR = Path(__file__).resolve().parent

DATABASES = databases(
    {
        "default": BASE_DIR / "config.yaml",  # the primary
        "replica": (  # e.g. target_session_attrs: prefer-standby
            BASE_DIR / "replica.yaml",
            {"test": {"MIRROR": "default"}},  # tests read what they write
        ),
    }
)
DATABASE_ROUTERS = ["replicas.PrimaryReplicaRouter"]  # this module's router below


class PrimaryReplicaRouter:
    """Reads from "replica", writes and migrations on "default"."""

    def db_for_read(self, model, **hints):
        return "replica"

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True  # both aliases hold the same data

    def allow_migrate(self, db, app_label, **hints):
        return db == "default"
