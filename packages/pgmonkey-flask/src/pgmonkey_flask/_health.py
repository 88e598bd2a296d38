"""``/healthz`` and ``/readyz`` as a Flask blueprint (private; exported by the package)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask
from flask.blueprints import BlueprintSetupState

from pgmonkey.errors import PgMonkeyError
from pgmonkey.health import DEFAULT_TIMEOUT, check_connect, check_pool, liveness, unavailable
from pgmonkey_flask import _pools
from pgmonkey_flask._extension import PGMonkey
from pgmonkey_flask._settings import DEFAULT

__all__ = ["health_blueprint"]

_NO_STORE = {"Cache-Control": "no-store"}


def health_blueprint(
    pg: PGMonkey,
    *,
    database: str = DEFAULT,
    timeout: float = DEFAULT_TIMEOUT,
    name: str = "pgmonkey_health",
    url_prefix: str | None = None,
) -> Blueprint:
    """A blueprint serving ``GET /healthz`` (liveness) and ``GET /readyz`` (readiness).

    ``/healthz`` answers ``200 {"status": "ok"}`` without touching the database. ``/readyz``
    borrows a connection of ``database`` from the app's pool (created on first use, like
    :meth:`PGMonkey.pool`), runs ``SELECT 1`` and answers ``200`` with the pool's statistics,
    or ``503`` with ``{"status": "unavailable", "reason": ...}`` when no connection answered
    within ``timeout`` seconds. With ``PGMONKEY_CONNECTION_TYPE = "normal"`` it opens and
    closes a plain connection instead (no ``pool`` key). See :mod:`pgmonkey.health` for the
    JSON shape. Register it after ``pg.init_app(app)``::

        app.register_blueprint(health_blueprint(pg))

    Args:
        pg: The extension the app was initialised with.
        database: The database to check (``"default"`` or a key of ``PGMONKEY_DATABASES``).
        timeout: Seconds to wait for a pooled connection (default 2).
        name: The blueprint's name (register several under different names and prefixes).
        url_prefix: A prefix for both paths, such as ``"/ops"``.

    Raises:
        PGMonkeyFlaskError: At registration, when the app is not initialised or
            ``database`` is not configured.
    """
    blueprint = Blueprint(name, __name__, url_prefix=url_prefix)

    def check_configured(setup: BlueprintSetupState) -> None:
        app = setup.app
        assert isinstance(app, Flask)
        PGMonkey._state(app, what="health_blueprint()").config(database)

    blueprint.record_once(check_configured)

    @blueprint.get("/healthz")
    def healthz() -> Any:
        return liveness(), 200, _NO_STORE

    @blueprint.get("/readyz")
    def readyz() -> Any:
        state = PGMonkey._state(what="/readyz")
        cfg = state.config(database)
        if state.settings.connection_type == "normal":
            report = check_connect(
                lambda: _pools.connect(cfg), database=database, timeout=timeout, config=cfg
            )
        else:
            try:
                pool = state.pool(database)
            except PgMonkeyError as exc:  # the pool could not be opened
                report = unavailable(database, exc, timeout=timeout, config=cfg)
            else:
                report = check_pool(pool, database=database, timeout=timeout, config=cfg)
        return report.as_json(), report.status_code, _NO_STORE

    return blueprint
