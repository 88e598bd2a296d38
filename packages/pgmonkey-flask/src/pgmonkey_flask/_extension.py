"""The :class:`PGMonkey` Flask extension (private; exported by the package facade)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from flask import Flask, Response, current_app, g, has_app_context
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool, PoolTimeout

from pgmonkey.errors import PoolExhaustedError
from pgmonkey_flask import _pools
from pgmonkey_flask._cli import make_cli
from pgmonkey_flask._errors import PGMonkeyFlaskError
from pgmonkey_flask._isolation import Isolation
from pgmonkey_flask._settings import DEFAULT, read_settings
from pgmonkey_flask._state import AppState

logger = logging.getLogger("pgmonkey.flask")

__all__ = ["PGMonkey"]

EXTENSION_KEY = "pgmonkey"
_G_ATTR = "_pgmonkey_flask_connections"


@dataclass
class _Borrowed:
    """A connection lent to the current app context, and how to give it back."""

    conn: psycopg.Connection[Any]
    release: Callable[[], None]


def _give_back_to_pool(pool: ConnectionPool[Any], conn: psycopg.Connection[Any]) -> None:
    """Return ``conn`` to ``pool``, rolling back an open transaction first (quietly)."""
    try:
        if conn.info.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
            conn.rollback()
    except psycopg.Error:
        logger.warning(
            "rolling back a connection of pool %s failed; closing it", pool.name, exc_info=True
        )
        conn.close()
    pool.putconn(conn)


def _close_plain(conn: psycopg.Connection[Any]) -> None:
    try:
        if conn.info.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
            conn.rollback()
    except psycopg.Error:
        logger.debug("rollback before close failed", exc_info=True)
    finally:
        conn.close()


class PGMonkey:
    """A pgmonkey pool per Flask app and process, and a connection per app context.

    Create it once (``pg = PGMonkey()``) and call :meth:`init_app` in the app factory, or pass
    the app directly (``PGMonkey(app)``). All state lives in ``app.extensions["pgmonkey"]``, so
    one instance serves any number of apps. Configuration keys (read by :meth:`init_app`):

    * ``PGMONKEY_CONFIG``: path of a pgmonkey YAML file, or an already-loaded dict (the
      ``"default"`` database).
    * ``PGMONKEY_DATABASES``: optional ``{name: path or dict}`` of further databases.
    * ``PGMONKEY_CONNECTION_TYPE``: ``"pool"`` (default) or ``"normal"`` (a new connection per
      app context). Async types are rejected: Flask runs async views in a fresh event loop.
    * ``PGMONKEY_COMMIT_MODE``: ``"manual"`` (default: never commits for you),
      ``"autocommit"`` (commits after a 2xx response) or ``"autocommit_include_redirect"``
      (2xx and 3xx).
    * ``PGMONKEY_RESOLVE_ENV``: resolve ``${VAR}`` references in the configurations.

    Args:
        app: An app to initialise right away.
    """

    def __init__(self, app: Flask | None = None) -> None:
        if app is not None:
            self.init_app(app)

    # -- setup ------------------------------------------------------------------------------
    def init_app(self, app: Flask) -> None:
        """Read and check ``app.config``, register the hooks and the ``flask pgmonkey`` CLI.

        Loads every configuration through the core (so a bad file fails here, naming the file
        and key) but opens no connection: pools are created on first use, in the process that
        uses them.

        Raises:
            ConfigError: A ``PGMONKEY_*`` key or a configuration is invalid.
            PGMonkeyFlaskError: ``init_app`` was already called for this app.
        """
        if EXTENSION_KEY in app.extensions:
            raise PGMonkeyFlaskError(
                f"pgmonkey_flask: init_app() was already called for app {app.name!r}; an app "
                "holds one PGMonkey state (use PGMONKEY_DATABASES for several databases)"
            )
        state = AppState(app_name=app.name, settings=read_settings(app))
        app.extensions[EXTENSION_KEY] = state
        app.after_request(self._after_request)
        app.teardown_appcontext(self._teardown)
        if "pgmonkey" not in app.cli.commands:
            app.cli.add_command(make_cli(self))

    @staticmethod
    def _state(app: Flask | None = None, *, what: str = "pg") -> AppState:
        if app is None:
            if not has_app_context():
                raise PGMonkeyFlaskError(
                    f"pgmonkey_flask: {what} needs an application context: call it during a "
                    "request, in a CLI command, or inside 'with app.app_context():'"
                )
            app = current_app._get_current_object()  # type: ignore[attr-defined]
        state = app.extensions.get(EXTENSION_KEY) if app is not None else None
        if not isinstance(state, AppState):
            raise PGMonkeyFlaskError(
                f"pgmonkey_flask: app {getattr(app, 'name', app)!r} is not initialised: call "
                "pg.init_app(app) (or PGMonkey(app)) in the app factory before using it"
            )
        return state

    # -- pools and connections --------------------------------------------------------------
    def pool(self, name: str = DEFAULT, *, app: Flask | None = None) -> ConnectionPool[Any]:
        """The pool of database ``name`` for the current app, created on first use.

        Pools are per (app, database, process): a pool created before ``fork()`` (gunicorn
        ``--preload``) is forgotten, never closed, by the child, which builds its own.

        Args:
            name: A database name (``"default"`` or a key of ``PGMONKEY_DATABASES``).
            app: The app, when there is no application context.

        Raises:
            PGMonkeyFlaskError: No app context / not initialised / unknown name / the
                ``normal`` connection type.
            DatabaseConnectionError: The pool could not be opened.
        """
        return self._state(app, what="pg.pool()").pool(name)

    def connection(self, name: str = DEFAULT) -> psycopg.Connection[Any]:
        """The connection of database ``name`` for the current app context.

        Borrowed on first call (views that never call it borrow nothing), then the same object
        for the rest of the app context; returned to the pool at teardown, after a rollback
        when a transaction is still open. Nothing is committed for you unless
        ``PGMONKEY_COMMIT_MODE`` says so.

        Raises:
            PGMonkeyFlaskError: No app context / not initialised / unknown database name.
            PoolExhaustedError: No pooled connection became free within the pool's timeout.
            DatabaseConnectionError: The pool or connection could not be opened.
        """
        state = self._state(what="pg.connection()")
        borrowed: dict[str, _Borrowed] = g.setdefault(_G_ATTR, {})
        item = borrowed.get(name)
        if item is None:
            item = self._borrow(state, name)
            borrowed[name] = item
        return item.conn

    def _borrow(self, state: AppState, name: str) -> _Borrowed:
        isolation = state.isolation
        if isolation is not None:
            pinned = isolation.pinned(name, lambda: self._acquire(state, name))
            token = pinned.enter_context()
            return _Borrowed(pinned.conn, lambda: pinned.exit_context(token))
        conn, give_back = self._acquire(state, name)
        return _Borrowed(conn, give_back)

    @staticmethod
    def _acquire(state: AppState, name: str) -> tuple[psycopg.Connection[Any], Callable[[], None]]:
        if state.settings.connection_type == "normal":
            conn = _pools.connect(state.config(name))
            return conn, lambda: _close_plain(conn)
        pool = state.pool(name)
        try:
            pooled = pool.getconn()
        except PoolTimeout as exc:
            raise PoolExhaustedError(
                f"pgmonkey_flask: no connection of the {name!r} pool became free within "
                f"{pool.timeout:g} s (max_size={pool.max_size}; raise max_size or return "
                f"connections sooner): {exc}"
            ) from exc
        return pooled, lambda: _give_back_to_pool(pool, pooled)

    @contextmanager
    def transaction(self, name: str = DEFAULT) -> Iterator[psycopg.Connection[Any]]:
        """``with pg.transaction() as conn:``: a transaction block on :meth:`connection`.

        Commits on success and rolls back on an exception (psycopg's ``conn.transaction()``).
        If the connection is already inside a transaction (statements were run before without
        a commit), psycopg makes the block a savepoint instead: commit the earlier work first.
        """
        conn = self.connection(name)
        with conn.transaction():
            yield conn

    def close(self, app: Flask | None = None) -> None:
        """Close the pools this process created for the app (current app by default).

        Pools inherited from a parent process are forgotten, not closed. The next use creates
        new pools, so an app keeps working after ``close()``.
        """
        self._state(app, what="pg.close()").close()

    def stats(self, app: Flask | None = None) -> dict[str, dict[str, int]]:
        """``pool.get_stats()`` of every pool this process has opened for the app.

        Creates no pool: a database that has not been used yet is absent.
        """
        state = self._state(app, what="pg.stats()")
        return {name: pool.get_stats() for name, pool in state.existing_pools().items()}

    @contextmanager
    def test_isolation(self, app: Flask | None = None) -> Iterator[None]:
        """Run every connection of the app inside one transaction rolled back at exit.

        For tests: while the block is active, each database is served by one pinned
        connection; app-level commits (``conn.commit()``, ``after_request`` in the autocommit
        modes, outermost ``conn.transaction()`` blocks) become savepoints, so the app behaves
        as usual and sees its own data, and everything is rolled back when the block ends.
        Works with ``app.test_client()`` (one thread).

        Args:
            app: The app; defaults to the current app.

        Raises:
            PGMonkeyFlaskError: Not initialised, or an isolation block is already active.
        """
        state = self._state(app, what="pg.test_isolation()")
        if state.isolation is not None:
            raise PGMonkeyFlaskError(
                f"pgmonkey_flask: test_isolation() is already active for app {state.app_name!r}"
            )
        isolation = state.isolation = Isolation()
        try:
            yield
        finally:
            state.isolation = None
            isolation.finish()

    # -- hooks ------------------------------------------------------------------------------
    def _after_request(self, response: Response) -> Response:
        """Commit the context's connections for a successful response in autocommit modes."""
        state = self._state(what="after_request")
        mode = state.settings.commit_mode
        if mode == "manual":
            return response
        status = response.status_code
        redirect_ok = mode == "autocommit_include_redirect" and 300 <= status < 400
        if not (200 <= status < 300 or redirect_ok):
            return response
        borrowed: dict[str, _Borrowed] = g.get(_G_ATTR) or {}
        for name, item in borrowed.items():
            if item.conn.info.transaction_status == TransactionStatus.INTRANS:
                logger.debug("committing %r after a %d response", name, status)
                # A failing commit propagates: Flask turns it into a 500 response; teardown
                # then rolls back the remaining connections.
                item.conn.commit()
        return response

    def _teardown(self, exc: BaseException | None) -> None:
        """Give back every connection the ending app context borrowed."""
        borrowed: dict[str, _Borrowed] | None = g.pop(_G_ATTR, None)
        if not borrowed:
            return
        for name, item in borrowed.items():
            try:
                item.release()
            except Exception:
                logger.warning("returning the %r connection failed", name, exc_info=True)
