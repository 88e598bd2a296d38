"""Rotating credentials behind pgmonkey-flask: 8 threads of requests while the password rotates.

The app reads a YAML file whose password is a ``from_file`` secret (``PGMONKEY_RESOLVE_ENV``),
or which names a ``credential_provider``. The pool is the core's, so each new connection uses
the credentials of now; ``max_lifetime`` retires the older ones between requests.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from pgmonkey.testing import PostgresServer
from pgmonkey_flask import PGMonkey
from tests._rotation import Load, prove_app_rotation

pytestmark = pytest.mark.slow


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


def _start(load: Load, path: Path, role: str) -> Callable[[], None]:
    app, pg = _app(path)
    load.threads("flask", _run(app, role), count=8)
    return lambda: pg.close(app)


@pytest.mark.parametrize("provider", [None, "tests._rotation:stepping_password"])
def test_rotation_with_flask(
    pg_server: PostgresServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    provider: str | None,
) -> None:
    prove_app_rotation(
        pg_server,
        tmp_path,
        connection_type="pool",
        label="flask",
        start=_start,
        caplog=caplog,
        provider=provider,
    )
