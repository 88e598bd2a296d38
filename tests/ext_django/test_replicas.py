"""Read replicas: a ``replica`` alias on a real streaming standby, and a router.

The project gets two extra aliases from pgmonkey YAML files through ``databases()``:
``primary`` (the primary) and ``replica`` (``target_session_attrs: prefer-standby`` over the
standby and the primary, so the standby while it is up). ``PrimaryReplicaRouter`` sends the
ORM's reads to ``replica`` and its writes to ``primary``; requests go through Django's WSGI
handler.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.test import override_settings

from pgmonkey.testing import PostgresServer
from pgmonkey_django import databases
from tests.ext_django.conftest import POOLING, Project, extra_databases
from tests.ext_django.test_live import wsgi_get

ROUTER = "tests.ext_django.project.routers.PrimaryReplicaRouter"


def cluster_config(primary: PostgresServer, servers: list[PostgresServer], **extra: Any) -> Any:
    cfg = primary.config(application_name="pgm-django-replicas", **extra)
    cfg["connection_type"] = "pool" if POOLING else "normal"
    cfg["connection_settings"]["host"] = ",".join(s.host for s in servers)
    cfg["connection_settings"]["port"] = ",".join(str(s.port) for s in servers)
    cfg["pool_settings"] = {"min_size": 1, "max_size": 2, "timeout": 10}
    return cfg


@pytest.fixture(scope="module")
def cluster(
    django_project: Project,
    replica_cluster: tuple[PostgresServer, PostgresServer],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[PostgresServer, PostgresServer]]:
    from django.core.management import call_command

    primary, standby = replica_cluster
    folder: Path = tmp_path_factory.mktemp("replica_yaml")
    files = {
        "primary.yaml": cluster_config(primary, [primary]),
        "replica.yaml": cluster_config(
            primary, [standby, primary], target_session_attrs="prefer-standby"
        ),
    }
    for name, cfg in files.items():
        (folder / name).write_text(yaml.safe_dump(cfg), encoding="utf-8")
    entries = databases({"primary": folder / "primary.yaml", "replica": folder / "replica.yaml"})
    with extra_databases(entries):
        call_command("migrate", run_syncdb=True, verbosity=0, database="primary")
        standby.wait_for_replay()  # the table exists on the standby too
        with override_settings(DATABASE_ROUTERS=[ROUTER]):
            yield primary, standby


def read_until(name: str, timeout: float = 30) -> dict[str, Any]:
    """Read through the replica until ``name`` shows up (replication is asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = wsgi_get("/replica/read/")
        assert status == 200
        if name in body["names"] or time.monotonic() > deadline:
            return body
        time.sleep(0.02)


def test_reads_are_served_by_the_standby_and_see_the_primarys_writes(
    cluster: tuple[PostgresServer, PostgresServer],
) -> None:
    primary, standby = cluster
    status, written = wsgi_get("/replica/write/", "name=through-the-router")
    assert status == 200
    assert written["alias"] == "primary"
    assert written["in_recovery"] is False
    assert written["port"] == primary.port
    assert primary.execute("SELECT name FROM pgmdjproject_item") == [("through-the-router",)]

    body = read_until("through-the-router")
    assert body["alias"] == "replica"
    assert body["in_recovery"] is True
    assert body["port"] == standby.port
    assert "through-the-router" in body["names"]


def test_a_write_through_the_replica_fails_read_only(
    cluster: tuple[PostgresServer, PostgresServer],
) -> None:
    primary, _ = cluster
    status, body = wsgi_get("/replica/write/", "name=nope&using=replica")
    assert status == 200
    assert body == {
        "error": "InternalError",
        "sqlstate": "25006",
        "message": "cannot execute INSERT in a read-only transaction",
    }
    assert primary.execute("SELECT count(*) FROM pgmdjproject_item WHERE name = 'nope'") == [(0,)]
