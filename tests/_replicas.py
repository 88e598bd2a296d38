"""A primary with a streaming hot standby, shared by the framework extensions' replica tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pgmonkey.testing import PostgresServer, start_server

__all__ = ["replica_cluster", "replica_configs"]


@pytest.fixture(scope="session")
def replica_cluster() -> Iterator[tuple[PostgresServer, PostgresServer]]:
    """A primary and a streaming hot standby with a ``notes`` table (one pair per folder)."""
    with start_server(replication=True) as primary:
        primary.execute("CREATE TABLE notes (id serial PRIMARY KEY, text text NOT NULL)")
        standby = primary.start_standby()
        standby.wait_for_replay()
        yield primary, standby


def replica_configs(
    primary: PostgresServer, standby: PostgresServer, connection_type: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(primary, replica)`` configurations: the replica prefers the standby, else the primary."""
    primary_cfg = primary.config(connection_type=connection_type)
    replica_cfg = primary.config(
        connection_type=connection_type,
        host=f"{standby.host},{primary.host}",
        port=f"{standby.port},{primary.port}",
        target_session_attrs="prefer-standby",
    )
    for cfg in (primary_cfg, replica_cfg):
        for section in ("pool_settings", "async_pool_settings"):
            cfg[section] = {"min_size": 1, "max_size": 2, "timeout": 10}
    return primary_cfg, replica_cfg
