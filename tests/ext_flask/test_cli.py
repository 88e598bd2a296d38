"""``flask pgmonkey check | config | stats`` through Flask's CLI runner."""

from __future__ import annotations

import json
import logging

import pytest
import yaml

from pgmonkey.config import REDACTED
from tests.ext_flask.conftest import AppFactory, Database


def test_check_ok_and_connection_returned(
    db: Database, other_db: Database, make_app: AppFactory
) -> None:
    app = make_app(PGMONKEY_DATABASES={"reports": other_db.config()})
    result = app.test_cli_runner().invoke(args=["pgmonkey", "check"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("default: OK (dict): PostgreSQL 15")
    assert f"database '{db.dbname}'" in lines[0]
    assert lines[1].startswith("reports: OK (dict): PostgreSQL 15")
    assert f"database '{other_db.dbname}'" in lines[1]
    stats = app.extensions["pgmonkey"].existing_pools()["default"].get_stats()
    assert stats["pool_available"] == stats["pool_size"]
    only = app.test_cli_runner().invoke(args=["pgmonkey", "check", "--name", "reports"])
    assert only.exit_code == 0
    assert only.output.startswith("reports: OK")
    assert len(only.output.splitlines()) == 1


def test_check_failure_exits_1_without_secret(db: Database, make_app: AppFactory) -> None:
    cfg = db.config(timeout=2)
    cfg["connection_settings"]["password"] = "not-the-password"
    app = make_app(PGMONKEY_CONFIG=cfg)
    result = app.test_cli_runner().invoke(args=["pgmonkey", "check"])
    assert result.exit_code == 1
    assert "default: FAILED (dict)" in result.output
    assert "password authentication failed" in result.output
    assert "not-the-password" not in result.output


def test_unknown_name_is_an_error(make_app: AppFactory) -> None:
    result = make_app().test_cli_runner().invoke(args=["pgmonkey", "check", "--name", "x"])
    assert result.exit_code != 0
    assert "no database named 'x'" in str(result.exception)


def test_config_is_redacted(db: Database, make_app: AppFactory) -> None:
    app = make_app(PGMONKEY_COMMIT_MODE="autocommit")
    result = app.test_cli_runner().invoke(args=["pgmonkey", "config"])
    assert result.exit_code == 0, result.output
    assert db.server.password not in result.output
    shown = yaml.safe_load(result.output)
    assert shown["connection_type"] == "pool"
    assert shown["commit_mode"] == "autocommit"
    default = shown["databases"]["default"]
    assert default["source"] == "dict"
    assert default["config"]["connection_settings"]["password"] == REDACTED
    assert default["config"]["connection_settings"]["dbname"] == db.dbname
    assert default["config"]["pool_settings"]["max_size"] == 4
    assert db.sessions() == []  # showing the configuration connects to nothing


def test_stats(db: Database, make_app: AppFactory) -> None:
    app = make_app()
    result = app.test_cli_runner().invoke(args=["pgmonkey", "stats"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    assert stats["default"]["pool_max"] == 4
    assert stats["default"]["pool_min"] == 1
    assert stats["default"]["pool_size"] >= 1
    normal = make_app(PGMONKEY_CONNECTION_TYPE="normal")
    result = normal.test_cli_runner().invoke(args=["pgmonkey", "stats"])
    assert json.loads(result.output) == {"default": None}


def test_a_password_misplaced_in_dbname_never_shows(
    db: Database, make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    canary = "Canary-flask-4e2a"
    cfg = db.config(timeout=2)
    cfg["connection_settings"]["dbname"] = f"{db.dbname} password={canary}"
    app = make_app(PGMONKEY_CONFIG=cfg)
    check = app.test_cli_runner().invoke(args=["pgmonkey", "check"])
    assert check.exit_code == 1
    assert "does not exist" in check.output
    shown = app.test_cli_runner().invoke(args=["pgmonkey", "config"])
    assert shown.exit_code == 0
    caplog.set_level(logging.DEBUG)
    response = app.test_client().get("/backend")  # Flask logs the exception with its cause
    assert response.status_code == 500
    logged = "\n".join(caplog.text.splitlines())
    assert "could not connect to PostgreSQL" in logged
    assert "psycopg.OperationalError" in logged  # the cause, masked too
    for text in (check.output, shown.output, logged, response.get_data(as_text=True)):
        assert canary not in text
