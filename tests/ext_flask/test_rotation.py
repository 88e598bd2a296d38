"""Rotating credentials behind pgmonkey-flask: 8 threads of requests while the password rotates.

The app reads a YAML file whose password is a ``from_file`` secret (``PGMONKEY_RESOLVE_ENV``),
or which names a ``credential_provider``. The pool is the core's, so each new connection uses
the credentials of now; ``max_lifetime`` retires the older ones between requests.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask

from pgmonkey.testing import PostgresServer
from pgmonkey_flask import PGMonkey
from tests import _rotation
from tests._rotation import Load, make_role, new_password, prove_rotation, rotate_file

pytestmark = pytest.mark.slow

POOL = {"min_size": 2, "max_size": 4, "max_lifetime": 1.5, "timeout": 30}


def _app(path: Path) -> tuple[Flask, PGMonkey]:
    app = Flask("pgm_flask_rotation")
    app.config.update(PGMONKEY_CONFIG=str(path), PGMONKEY_RESOLVE_ENV=True)
    pg = PGMonkey(app)

    @app.get("/who")
    def who() -> dict[str, Any]:
        [(user,)] = pg.connection().execute("SELECT current_user").fetchall()
        return {"user": user}

    return app, pg


def _run(app: Flask, role: str) -> Any:
    def op() -> None:
        response = app.test_client().get("/who")
        assert response.status_code == 200, response.status_code
        assert response.get_json() == {"user": role}

    return op


def _write(path: Path, server: PostgresServer, role: str, **settings: Any) -> None:
    raw = server.config(user=role, password=None, connection_type="pool")
    raw["connection_settings"].update(settings)
    raw["pool_settings"] = POOL
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")


def test_secret_file_rotation_with_flask(
    pg_server: PostgresServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    first, second = new_password("fl-one"), new_password("fl-two")
    role = make_role(pg_server, first)
    secret = tmp_path / "pw"
    secret.write_text(first + "\n", encoding="utf-8")
    path = tmp_path / "db.yaml"
    _write(path, pg_server, role, password={"from_file": str(secret)})
    app, pg = _app(path)

    def rotate() -> None:
        _rotation.set_password(pg_server, role, second)
        rotate_file(secret, second)

    try:
        load = Load()
        load.threads("flask", _run(app, role), count=8)
        prove_rotation(load, pg_server, [role], ["flask"], rotate)
    finally:
        pg.close(app)
    _rotation.assert_no_secret_logged(caplog.text, pg_server, [first, second])
    _rotation.drop_role(pg_server, role)


def test_provider_rotation_with_flask(
    pg_server: PostgresServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    state = _rotation.use_server(pg_server)
    role = make_role(pg_server, new_password())
    path = tmp_path / "db.yaml"
    _write(path, pg_server, role, credential_provider="tests._rotation:stepping_password")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["pool_settings"]["num_workers"] = 1
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    app, pg = _app(path)
    try:
        load = Load()
        load.threads("flask", _run(app, role), count=8)
        prove_rotation(load, pg_server, [role], ["flask"], lambda: None)
    finally:
        pg.close(app)
    assert len(state.issued) > 4
    _rotation.assert_no_secret_logged(caplog.text, pg_server, list(state.issued))
    _rotation.drop_role(pg_server, role)
