"""Fixture factories: servers with your settings, databases with your extensions and schema.

Assign what a factory returns to a name in a ``conftest.py``; pytest registers it as a fixture
of that name::

    from pgmonkey.testing import factories

    pg_tuned = factories.server(settings={"max_connections": 50, "work_mem": "16MB"})
    app_db = factories.database(
        "pg_tuned",
        extensions=["citext"],
        setup_sql=["CREATE TABLE users (id serial PRIMARY KEY, email citext UNIQUE)"],
    )

    def test_signup(app_db):          # a fresh database per test, as a pgmonkey config dict
        ...

A database fixture copies a template database that is built once per server, extensions and
setup SQL (``CREATE DATABASE ... TEMPLATE``): every test gets its own database, already
holding the schema, at the cost of a file copy instead of running the setup again.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

import pytest

if TYPE_CHECKING:
    from pgmonkey.testing._base import ServerBase
    from pgmonkey.testing._server import PostgresServer

__all__ = ["database", "server"]

_Scope = Literal["session", "package", "module", "class", "function"]


def server(
    *,
    settings: Mapping[str, object] | None = None,
    ssl: bool = False,
    roles: Mapping[str, str | None] | Iterable[str] | None = None,
    databases: Mapping[str, str | None] | Iterable[str] | None = None,
    replication: bool = False,
    scope: _Scope = "session",
) -> Callable[..., Iterator[PostgresServer]]:
    """Return a fixture that starts a throwaway server with these options.

    Args:
        settings: ``postgresql.conf`` settings, e.g. ``{"max_connections": 50}``.
        ssl: Start it with SSL and throwaway certificates (skipped, or failed under
            ``--pgmonkey-require-ssl``, where the binaries cannot).
        roles: Extra roles, as for :func:`pgmonkey.testing.start_server`.
        databases: Extra databases, as for :func:`pgmonkey.testing.start_server`.
        replication: Prepare it for :meth:`~pgmonkey.testing.PostgresServer.start_standby`.
        scope: The fixture's scope.

    Returns:
        The fixture function; it always starts its own server, even where ``pg_server``
        uses an existing one (``--pgmonkey-dsn``), since the settings must be its own.
    """
    frozen_settings = dict(settings or {})

    @pytest.fixture(scope=scope)
    def _server() -> Iterator[PostgresServer]:
        from pgmonkey.testing._require import require_ssl
        from pgmonkey.testing._server import start_server
        from pgmonkey.testing._signals import install_sigterm_handler

        bindir = require_ssl() if ssl else None
        install_sigterm_handler()
        with start_server(
            bindir=bindir,
            settings=frozen_settings,
            ssl=ssl,
            roles=roles,
            databases=databases,
            replication=replication,
        ) as started:
            yield started

    return _server


def database(
    server: str = "pg_server",
    *,
    extensions: Iterable[str] = (),
    setup_sql: Iterable[str] = (),
    owner: str | None = None,
    scope: _Scope = "function",
) -> Callable[..., Iterator[dict[str, Any]]]:
    """Return a fixture that gives each test a fresh database, as a pgmonkey config dict.

    Args:
        server: The name of the server fixture to create it on (``pg_server``, or one made
            with :func:`server`).
        extensions: ``CREATE EXTENSION`` these in the template database.
        setup_sql: Statements run in the template database after the extensions (a schema,
            reference data).
        owner: The role owning each database (default: the superuser); ``config()`` of the
            fixture still connects as the superuser.
        scope: The fixture's scope (``function``: one database per test).

    Returns:
        The fixture function. Each database is dropped when its scope ends; the template
        when the test run ends.
    """
    wanted_extensions = tuple(extensions)
    statements = tuple(setup_sql)

    @pytest.fixture(scope=scope)
    def _database(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
        target: ServerBase = request.getfixturevalue(server)
        template = None
        if wanted_extensions or statements:
            template = _template(request.config, target, wanted_extensions, statements)
        name = f"pgmonkey_test_{secrets.token_hex(6)}"
        target.create_database(name, owner=owner, template=template)
        try:
            yield target.config(dbname=name)
        finally:
            target.drop_database(name)

    return _database


_TEMPLATES = pytest.StashKey[dict[tuple[int, str], str]]()


def _template(
    config: pytest.Config,
    target: ServerBase,
    extensions: tuple[str, ...],
    statements: tuple[str, ...],
) -> str:
    """The name of the template database for this content on ``target``, built on first use."""
    digest = hashlib.sha256(repr((extensions, statements)).encode()).hexdigest()[:16]
    built = config.stash.setdefault(_TEMPLATES, {})
    key = (id(target), digest)
    if key in built:
        return built[key]
    name = f"pgmonkey_template_{digest}_{secrets.token_hex(3)}"
    target.create_database(name)
    try:
        from psycopg import sql

        with target.connect(dbname=name) as conn:
            for extension in extensions:
                conn.execute(
                    sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(extension))
                )
            for statement in statements:
                conn.execute(statement.encode())
            conn.commit()
        with target.connect() as conn:
            conn.execute(
                sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE true").format(sql.Identifier(name))
            )
    except BaseException:
        target.drop_database(name)
        raise
    built[key] = name
    config.add_cleanup(lambda: _drop_template(target, name))
    return name


def _drop_template(target: ServerBase, name: str) -> None:
    """Drop a template at the end of the run (a throwaway server may already be gone)."""
    from contextlib import suppress

    from psycopg import sql

    with suppress(Exception), target.connect() as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE false").format(sql.Identifier(name))
        )
    with suppress(Exception):
        target.drop_database(name)
