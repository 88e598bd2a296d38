"""A primary/replica database router, as in the Django guide of the docs."""

from __future__ import annotations

from typing import Any


class PrimaryReplicaRouter:
    """Reads go to ``replica``, writes and migrations to ``primary``."""

    read_alias = "replica"
    write_alias = "primary"

    def db_for_read(self, model: Any, **hints: Any) -> str:
        return self.read_alias

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return self.write_alias

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # both aliases hold the same data

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db != self.read_alias
