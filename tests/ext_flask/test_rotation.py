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
from flask import Flask

from pgmonkey.testing import PostgresServer
from pgmonkey_flask import PGMonkey
from tests import _rotation
from tests._rotation import (
    Load,
    SecretFileRole,
    make_role,
    new_password,
    prove_rotation,
    write_config,
)

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


def test_secret_file_rotation_with_flask(
    pg_server: PostgresServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rot = SecretFileRole(pg_server, tmp_path, "flask")
    path = tmp_path / "db.yaml"
    write_config(path, pg_server, "pool", POOL, **rot.settings())
    app, pg = _app(path)
    try:
        load = Load()
        load.threads("flask", _run(app, rot.role), count=8)
        prove_rotation(load, pg_server, [rot.role], ["flask"], rot.rotate)
    finally:
        pg.close(app)
    _rotation.assert_no_secret_logged(caplog.text, pg_server, rot.passwords)
    rot.drop()


def test_provider_rotation_with_flask(
    pg_server: PostgresServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    state = _rotation.use_server(pg_server)
    role = make_role(pg_server, new_password())
    path = tmp_path / "db.yaml"
    write_config(
        path,
        pg_server,
        "pool",
        {**POOL, "num_workers": 1},
        user=role,
        credential_provider="tests._rotation:stepping_password",
    )
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
