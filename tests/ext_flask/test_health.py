"""``health_blueprint``: /healthz and /readyz against a server that is stopped and restarted.

The module runs its own throwaway server (stopping the session server would break every
other test): readiness turns 503 with a reason while it is down, liveness stays 200, and
readiness recovers once it is back, through the test client and under gunicorn.
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from pgmonkey.testing import PostgresServer
from pgmonkey_flask import PGMonkey, PGMonkeyFlaskError, health_blueprint
from tests._health import STATS, eventually_ready, serve_through_outage
from tests.ext_flask.conftest import Database, make_database
from tests.ext_flask.test_gunicorn import free_port


@pytest.fixture
def own_db(running_health_server: PostgresServer) -> Iterator[Database]:
    running_health_server.create_database("health")
    try:
        yield make_database(running_health_server, "health")
    finally:
        if not running_health_server.running:
            running_health_server.start()
        running_health_server.drop_database("health")


@pytest.fixture
def app(own_db: Database) -> Iterator[Flask]:
    pg = PGMonkey()
    app = Flask("pgm_flask_health")
    app.config["PGMONKEY_CONFIG"] = own_db.config(min_size=2, max_size=2)
    pg.init_app(app)
    app.register_blueprint(health_blueprint(pg, timeout=1))
    yield app
    pg.close(app)


def get(app: Flask, path: str) -> tuple[int, dict[str, Any]]:
    response = app.test_client().get(path)
    assert response.headers["Cache-Control"] == "no-store"
    return response.status_code, response.get_json()


def test_readyz_follows_the_server_and_healthz_never_does(app: Flask, own_db: Database) -> None:
    assert get(app, "/healthz") == (200, {"status": "ok"})
    status, body = get(app, "/readyz")
    assert status == 200, body
    assert body["status"] == "ok"
    assert body["database"] == "default"
    assert set(body["pool"]) >= STATS
    assert body["pool"]["pool_max"] == 2
    assert "reason" not in body

    own_db.server.stop()
    status, body = get(app, "/readyz")
    assert status == 503, body
    assert body["status"] == "unavailable"
    assert body["reason"].startswith(("the database connection failed", "no database conn"))
    assert set(body["pool"]) >= STATS
    text = json.dumps(body)
    for secret in (own_db.cfg["connection_settings"]["user"], own_db.dbname, "127.0.0.1"):
        assert secret not in text
    assert get(app, "/healthz") == (200, {"status": "ok"})

    own_db.server.start()
    assert eventually_ready(lambda: get(app, "/readyz"))["status"] == "ok"


def test_readyz_when_the_pool_cannot_be_opened(own_db: Database) -> None:
    pg = PGMonkey()
    app = Flask("pgm_flask_health_cold")
    app.config["PGMONKEY_CONFIG"] = own_db.config(min_size=1, timeout=1)
    pg.init_app(app)
    app.register_blueprint(health_blueprint(pg, timeout=1))
    own_db.server.stop()
    try:
        status, body = get(app, "/readyz")
    finally:
        own_db.server.start()
    assert status == 503, body
    assert body == {
        "status": "unavailable",
        "database": "default",
        "reason": "the database could not be reached (DatabaseConnectionError)",
    }
    status, body = get(app, "/readyz")
    assert status == 200, body
    pg.close(app)


def test_readyz_with_plain_connections(own_db: Database) -> None:
    pg = PGMonkey()
    app = Flask("pgm_flask_health_normal")
    app.config["PGMONKEY_CONFIG"] = own_db.config()
    app.config["PGMONKEY_CONNECTION_TYPE"] = "normal"
    pg.init_app(app)
    app.register_blueprint(health_blueprint(pg, url_prefix="/ops"))
    assert get(app, "/ops/readyz") == (200, {"status": "ok", "database": "default"})
    own_db.server.stop()
    try:
        status, body = get(app, "/ops/readyz")
    finally:
        own_db.server.start()
    assert status == 503
    assert body["reason"] == "the database could not be reached (DatabaseConnectionError)"


def test_unknown_database_fails_at_registration(own_db: Database) -> None:
    pg = PGMonkey()
    app = Flask("pgm_flask_health_unknown")
    app.config["PGMONKEY_CONFIG"] = own_db.config()
    pg.init_app(app)
    with pytest.raises(PGMonkeyFlaskError, match="no database named 'replica'"):
        app.register_blueprint(health_blueprint(pg, database="replica"))


def test_registration_before_init_app_is_refused() -> None:
    app = Flask("pgm_flask_health_uninitialised")
    with pytest.raises(PGMonkeyFlaskError, match="is not initialised"):
        app.register_blueprint(health_blueprint(PGMonkey()))


APP_MODULE = textwrap.dedent(
    """
    import json
    from pathlib import Path

    from flask import Flask

    from pgmonkey_flask import PGMonkey, health_blueprint

    pg = PGMonkey()
    app = Flask(__name__)
    app.config["PGMONKEY_CONFIG"] = json.loads((Path(__file__).parent / "cfg.json").read_text())
    pg.init_app(app)
    app.register_blueprint(health_blueprint(pg, timeout=1))
    """
)


@pytest.mark.slow
def test_gunicorn_serves_health_through_an_outage(own_db: Database, tmp_path: Path) -> None:
    (tmp_path / "cfg.json").write_text(json.dumps(own_db.config(min_size=1, max_size=2)))
    (tmp_path / "healthapp.py").write_text(APP_MODULE, encoding="utf-8")
    port = free_port()
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        "--workers=1",
        "--worker-class=gthread",
        "--threads=2",
        f"--bind=127.0.0.1:{port}",
        "--log-level=warning",
        "healthapp:app",
    ]
    serve_through_outage(own_db.server, command, port, cwd=tmp_path)
