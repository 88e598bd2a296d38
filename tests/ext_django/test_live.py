"""The mapping in use: a real server, the ORM and Django's real WSGI request cycle.

Requests go through ``django.core.handlers.wsgi.WSGIHandler`` exactly as a WSGI server
calls it (the test ``Client`` would keep connections open on purpose), so
``request_started``/``request_finished`` close or return connections as in production.
"""

from __future__ import annotations

import json
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest

from tests._wait import wait_until
from tests.ext_django.conftest import (
    APP_NAME,
    POOL_MAX,
    POOLING,
    SEARCH_PATH,
    STATEMENT_TIMEOUT,
    Project,
)

needs_pool = pytest.mark.skipif(not POOLING, reason="needs Django >= 5.1 and psycopg_pool >= 3.2")


def wsgi_get(path: str, query: str = "") -> tuple[int, dict[str, Any]]:
    """One request through Django's WSGI handler, closed like a WSGI server closes it."""
    from django.core.handlers.wsgi import WSGIHandler

    environ: dict[str, Any] = {"PATH_INFO": path, "QUERY_STRING": query}
    setup_testing_defaults(environ)
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        statuses.append(status)
        return lambda data: None

    result = WSGIHandler()(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        result.close()  # sends request_finished
    code = int(statuses[0].split()[0])
    return code, (json.loads(body) if code == 200 else {})


def committed_items(project: Project) -> int:
    """The item count seen by a separate superuser session (only committed rows)."""
    rows = project.server.execute("SELECT count(*) FROM pgmdjproject_item", dbname=project.dbname)
    return int(rows[0][0])


@pytest.mark.parametrize("alias", ["default", "persistent"])
def test_orm_and_session_settings(project: Project, alias: str) -> None:
    from django.db import connections

    from tests.ext_django.project.models import Item

    Item.objects.using(alias).create(name=f"from {alias}")
    assert Item.objects.using(alias).filter(name=f"from {alias}").count() == 1
    with connections[alias].cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == STATEMENT_TIMEOUT
        cursor.execute("SHOW search_path")
        assert cursor.fetchone()[0] == SEARCH_PATH
        cursor.execute("SHOW application_name")
        assert cursor.fetchone()[0] == APP_NAME
    pooled = getattr(connections[alias], "pool", None) is not None
    assert pooled is (alias == "default" and POOLING)


def test_statement_timeout_is_enforced(project: Project) -> None:
    from django.db import OperationalError, connection

    with pytest.raises(OperationalError, match="canceling statement due to statement timeout"):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(10)")


def test_atomic_requests_roll_back_on_exceptions(project: Project) -> None:
    before = committed_items(project)
    status, _ = wsgi_get("/create/", "name=doomed&fail=1")
    assert status == 500
    assert committed_items(project) == before
    status, body = wsgi_get("/create/", "name=kept")
    assert status == 200
    assert body["statement_timeout"] == STATEMENT_TIMEOUT
    assert committed_items(project) == before + 1
    assert project.server.execute(
        "SELECT count(*) FROM pgmdjproject_item WHERE name = 'doomed'", dbname=project.dbname
    ) == [(0,)]


def test_connections_are_returned_after_each_request(project: Project) -> None:
    from django.db import connection

    pool = getattr(connection, "pool", None) if POOLING else None
    start = pool.get_stats().get("requests_num", 0) if pool is not None else 0
    backends = set()
    for _ in range(12):
        status, body = wsgi_get("/info/")
        assert status == 200
        assert body["statement_timeout"] == STATEMENT_TIMEOUT
        backends.add(body["backend"])
        assert connection.connection is None  # handed back at request_finished
        sessions = project.sessions()
        assert all(state == "idle" for _, state in sessions), sessions
        if pool is not None:
            # A connection the pool is still preparing (replacing one an earlier test broke)
            # counts in pool_size; every connection is back once none is being prepared.
            wait_until(
                lambda: pool.get_stats()["pool_available"] == pool.get_stats()["pool_size"],
                "every pooled connection to be back in the pool",
            )
            assert pool.get_stats()["pool_size"] <= POOL_MAX
            assert {pid for pid, _ in sessions} >= {body["backend"]}
        else:  # CONN_MAX_AGE = 0 without a pool: closed at the end of the request
            assert sessions == []
    if pool is not None:
        assert pool.get_stats().get("requests_num", 0) - start >= 12
        assert len(backends) <= POOL_MAX  # reused, not one connection per request


@needs_pool
def test_health_checks_replace_a_killed_pooled_connection(project: Project) -> None:
    from django.db import connection

    _, first = wsgi_get("/info/")
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True  # from check_on_checkout
    project.server.execute("SELECT pg_terminate_backend(%s)", [first["backend"]])
    status, second = wsgi_get("/info/")
    assert status == 200
    assert second["backend"] != first["backend"]


def test_test_database_can_be_dropped(project: Project) -> None:
    from django.db import connections

    from tests.ext_django.project.models import Item

    creation = connections["creation"]
    old_name = creation.settings_dict["NAME"]
    test_name = creation.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        assert test_name == f"test_{old_name}"
        Item.objects.using("creation").create(name="in the test database")
        assert Item.objects.using("creation").count() == 1
        if POOLING:
            pool = getattr(creation, "pool", None)
            assert pool is not None
            assert pool.get_stats()["pool_size"] >= 1
    finally:
        creation.creation.destroy_test_db(old_name, verbosity=0)
    # Dropped without FORCE by Django itself: no session was left behind.
    assert (
        project.server.execute("SELECT datname FROM pg_database WHERE datname = %s", [test_name])
        == []
    )
    assert creation.settings_dict["NAME"] == old_name
