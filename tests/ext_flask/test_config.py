"""``app.config`` keys: checked by ``init_app``; files and env interpolation via the core."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask

from pgmonkey.errors import ConfigError, ConfigValidationError, EnvInterpolationError
from pgmonkey_flask import PGMonkey
from tests.ext_flask.conftest import AppFactory, Database


def make(config: dict[str, Any]) -> Flask:
    app = Flask("config_test")
    app.config.update(config)
    PGMonkey(app)
    return app


@pytest.mark.parametrize("kind", ["async", "async_pool", "ASYNC_POOL"])
def test_async_connection_types_are_rejected_with_the_reason(db: Database, kind: str) -> None:
    with pytest.raises(ConfigValidationError) as info:
        make({"PGMONKEY_CONFIG": db.config(), "PGMONKEY_CONNECTION_TYPE": kind})
    message = str(info.value)
    assert message.startswith("app.config: PGMONKEY_CONNECTION_TYPE: ")
    assert "fresh event loop" in message
    assert "Use 'pool' (the default) or 'normal'" in message


@pytest.mark.parametrize(
    ("config", "pattern"),
    [
        ({"PGMONKEY_CONNECTION_TYPE": "pooled"}, r"PGMONKEY_CONNECTION_TYPE: must be one of"),
        ({"PGMONKEY_COMMIT_MODE": "always"}, r"PGMONKEY_COMMIT_MODE: must be one of 'manual'"),
        ({"PGMONKEY_COMMIT_MODE": 1}, r"PGMONKEY_COMMIT_MODE: must be one of"),
        ({"PGMONKEY_DATABASES": ["x"]}, r"PGMONKEY_DATABASES: must be a dict"),
        ({"PGMONKEY_DATABASES": {"default": {}}}, r"'default' is already given"),
        ({"PGMONKEY_CONFIG": 42}, r"PGMONKEY_CONFIG: must be a path .* got int"),
    ],
)
def test_invalid_keys_name_the_key(db: Database, config: dict[str, Any], pattern: str) -> None:
    with pytest.raises(ConfigValidationError, match=pattern):
        make({"PGMONKEY_CONFIG": db.config(), **config})


def test_missing_config_is_a_clear_error() -> None:
    app = Flask("no_config")
    with pytest.raises(ConfigValidationError, match=r"PGMONKEY_CONFIG: is not set"):
        PGMonkey(app)
    assert "pgmonkey" not in app.extensions  # nothing half-done


def test_yaml_file_and_env_interpolation(
    db: Database, make_app: AppFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = db.config()
    cfg["connection_settings"]["password"] = "${PGM_FLASK_TEST_PASSWORD}"
    cfg["sync_settings"] = {"statement_timeout": "4321ms"}
    path = tmp_path / "pg.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    monkeypatch.setenv("PGM_FLASK_TEST_PASSWORD", db.server.password)
    app = make_app(PGMONKEY_CONFIG=str(path), PGMONKEY_RESOLVE_ENV=True)
    with app.app_context():
        conn = PGMonkey().connection()
        assert conn.execute("SHOW statement_timeout").fetchone() == ("4321ms",)
        conn.rollback()  # session settings survive a rollback
        assert conn.execute("SHOW statement_timeout").fetchone() == ("4321ms",)
    # An unset variable fails in init_app, naming the variable.
    monkeypatch.delenv("PGM_FLASK_TEST_PASSWORD")
    with pytest.raises(EnvInterpolationError, match="PGM_FLASK_TEST_PASSWORD"):
        make({"PGMONKEY_CONFIG": path, "PGMONKEY_RESOLVE_ENV": True})


def test_bad_yaml_file_fails_in_init_app(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("connection_settings: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.yaml"):
        make({"PGMONKEY_CONFIG": path})
    with pytest.raises(ConfigError, match=r"missing\.yaml"):
        make({"PGMONKEY_CONFIG": tmp_path / "missing.yaml"})
