"""Commit modes: decided in ``after_request`` on the final status code, never in teardown."""

from __future__ import annotations

import pytest

from tests.ext_flask.conftest import AppFactory, Database


def test_manual_mode_never_commits(db: Database, make_app: AppFactory) -> None:
    client = make_app().test_client()
    assert client.post("/insert/a?status=200").status_code == 200
    assert client.post("/insert/b?status=302").status_code == 302
    assert client.post("/commit/c").status_code == 201  # the view's own commit
    assert client.post("/tx/d").status_code == 201  # the view's own transaction block
    assert db.names() == ["c", "d"]


@pytest.mark.parametrize(
    ("mode", "status", "committed"),
    [
        ("autocommit", 200, True),
        ("autocommit", 201, True),
        ("autocommit", 204, True),
        ("autocommit", 302, False),
        ("autocommit", 303, False),
        ("autocommit", 400, False),
        ("autocommit", 500, False),
        ("autocommit_include_redirect", 200, True),
        ("autocommit_include_redirect", 302, True),
        ("autocommit_include_redirect", 307, True),
        ("autocommit_include_redirect", 404, False),
    ],
)
def test_autocommit_modes_by_status(
    db: Database, make_app: AppFactory, mode: str, status: int, committed: bool
) -> None:
    client = make_app(PGMONKEY_COMMIT_MODE=mode).test_client()
    assert client.post(f"/insert/row?status={status}").status_code == status
    assert db.names() == (["row"] if committed else [])


@pytest.mark.parametrize("mode", ["autocommit", "autocommit_include_redirect"])
def test_errors_never_commit(db: Database, make_app: AppFactory, mode: str) -> None:
    app = make_app(PGMONKEY_COMMIT_MODE=mode)
    client = app.test_client()
    assert client.post("/abort/aborted").status_code == 409
    assert client.post("/handled/handled").status_code == 400
    assert client.post("/crash/crashed").status_code == 500  # not TESTING: becomes a 500
    app.testing = True  # exceptions propagate: after_request is skipped, teardown rolls back
    with pytest.raises(RuntimeError, match="boom"):
        client.post("/crash/propagated")
    assert client.post("/insert/ok").status_code == 200
    assert db.names() == ["ok"]
    stats = app.extensions["pgmonkey"].existing_pools()["default"].get_stats()
    assert stats["pool_available"] == stats["pool_size"]


def test_failing_commit_becomes_a_500(db: Database, make_app: AppFactory) -> None:
    app = make_app(PGMONKEY_COMMIT_MODE="autocommit")
    client = app.test_client()
    # The deferred unique constraint fails at COMMIT time, inside after_request.
    response = client.post("/deferred/7")
    assert response.status_code == 500
    assert db.names() == []
    assert db.rows("SELECT count(*) FROM deferred") == [(0,)]
    # The connection went back healthy: the next request works and commits.
    assert client.post("/insert/after").status_code == 200
    assert db.names() == ["after"]


def test_failing_commit_propagates_when_testing(db: Database, make_app: AppFactory) -> None:
    import psycopg

    app = make_app(PGMONKEY_COMMIT_MODE="autocommit", TESTING=True)
    with pytest.raises(psycopg.errors.UniqueViolation):
        app.test_client().post("/deferred/8")
    assert db.names() == []


def test_failed_statement_is_not_committed(db: Database, make_app: AppFactory) -> None:
    client = make_app(PGMONKEY_COMMIT_MODE="autocommit").test_client()
    assert client.post("/failed-statement").get_json() == {"status": "INERROR"}
    assert client.get("/count").get_json() == {"count": 0}
