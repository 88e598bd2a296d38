"""pgmonkey-flask: a pgmonkey pool per Flask app and process, a psycopg connection per request.

Example::

    from flask import Flask
    from pgmonkey_flask import PGMonkey

    pg = PGMonkey()

    def create_app() -> Flask:
        app = Flask(__name__)
        app.config["PGMONKEY_CONFIG"] = "config/pg.yaml"   # path or already-loaded dict
        pg.init_app(app)
        return app

    @app.post("/users")
    def create_user():
        with pg.transaction() as conn:                   # commits on success
            conn.execute("INSERT INTO users (name) VALUES (%s)", [request.json["name"]])
        return {"ok": True}, 201

Connections are borrowed lazily, one per app context and database, and returned at teardown
(rolled back first if a transaction is still open). Pools are created on first use in each
process, so ``gunicorn --preload`` is safe. See :class:`PGMonkey` for the configuration keys,
``PGMonkey.test_isolation()`` for fast isolated tests, :func:`health_blueprint` for
``/healthz`` and ``/readyz``, and ``flask pgmonkey --help``.
"""

# First: without a libpq wrapper this raises pgmonkey.PsycopgUnavailableError, which says
# what to install, instead of psycopg's bare ImportError from the modules below.
import pgmonkey.connections  # noqa: F401
from pgmonkey_flask._errors import PGMonkeyFlaskError
from pgmonkey_flask._extension import PGMonkey
from pgmonkey_flask._health import health_blueprint
from pgmonkey_flask._version import __version__

__all__ = ["PGMonkey", "PGMonkeyFlaskError", "__version__", "health_blueprint"]
