"""The pytest plugin of :mod:`pgmonkey.testing`, registered through the ``pytest11`` entry point.

Installing ``pgmonkey-core`` is enough: pytest loads this module at start-up. Loading it costs
nothing worth measuring: it imports pytest, the standard library and two modules of names,
never psycopg, PyYAML or a server. A server starts, and the SIGTERM handler that lets an
interrupted run clean up is installed, only when a test first uses one of the fixtures.

Disable it with ``-p no:pgmonkey``; where plugin autoloading is off
(``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1``), load it with ``-p pgmonkey.testing.plugin``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from pgmonkey.testing import factories
from pgmonkey.testing._settings import ENV_TEST_DSN, SETTINGS

if TYPE_CHECKING:
    from pgmonkey.testing._base import ServerBase
    from pgmonkey.testing._patroni import PatroniCluster
    from pgmonkey.testing._pgbouncer import PgBouncer

__all__ = ["pg_bouncer", "pg_database", "pg_patroni", "pg_server", "pg_ssl_server"]

_SAVED_ENVIRONMENT = pytest.StashKey[dict[str, str | None]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the ``--pgmonkey-*`` options and their ini keys."""
    group = parser.getgroup("pgmonkey", "pgmonkey.testing (throwaway PostgreSQL servers)")
    for setting in SETTINGS:
        help_text = f"{setting.help} (environment: {setting.env}; ini: {setting.ini})"
        if setting.flag:
            group.addoption(setting.option, action="store_true", default=None, help=help_text)
            parser.addini(setting.ini, help=setting.help, type="bool")
        else:
            group.addoption(setting.option, default=None, metavar="VALUE", help=help_text)
            parser.addini(setting.ini, help=setting.help, type="string")


def pytest_configure(config: pytest.Config) -> None:
    """Apply the options: command line, then environment, then ini file.

    Each takes effect as its environment variable, so that :func:`pgmonkey.testing.find_bindir`,
    :func:`~pgmonkey.testing.require_ssl` and the processes a test starts see the same value.
    """
    saved: dict[str, str | None] = {}
    for setting in SETTINGS:
        from_command_line = config.getoption(setting.option)
        if from_command_line is not None:
            value = "1" if from_command_line is True else str(from_command_line)
        elif os.environ.get(setting.env):
            continue
        else:
            from_ini = config.getini(setting.ini)
            if from_ini in ("", None, False, []):
                continue
            value = "1" if from_ini is True else str(from_ini)
        saved[setting.env] = os.environ.get(setting.env)
        os.environ[setting.env] = value
    config.stash[_SAVED_ENVIRONMENT] = saved


def pytest_unconfigure(config: pytest.Config) -> None:
    """Put back the environment and the SIGTERM handler as they were."""
    for name, value in config.stash.get(_SAVED_ENVIRONMENT, {}).items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    from pgmonkey.testing._signals import restore_sigterm_handler

    restore_sigterm_handler()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[ServerBase]:
    """A PostgreSQL server for the whole test session.

    A :class:`~pgmonkey.testing.PostgresServer`, or with ``--pgmonkey-dsn`` (or
    ``PGMONKEY_TEST_DSN``) an :class:`~pgmonkey.testing.ExternalServer` for that existing
    server (same methods; stop and start skip the test).
    """
    dsn = os.environ.get(ENV_TEST_DSN)
    if dsn:
        from pgmonkey.testing._external import ExternalServer

        yield ExternalServer.from_dsn(dsn, skip_unsupported=True)
        return
    from pgmonkey.testing._server import start_server
    from pgmonkey.testing._signals import install_sigterm_handler

    install_sigterm_handler()
    with start_server() as server:
        yield server


pg_database = factories.database("pg_server")
"""A fresh, empty database on ``pg_server`` for each test, as a pgmonkey configuration dict."""

pg_ssl_server = factories.server(ssl=True)
"""A server started with ``ssl=True`` (CA, server and client certificates).

Skipped with the reason when the binaries lack SSL support; a failure instead with
``--pgmonkey-require-ssl`` (``PGMONKEY_REQUIRE_SSL=1``)."""


@pytest.fixture(scope="session")
def pg_bouncer(request: pytest.FixtureRequest) -> Iterator[PgBouncer]:
    """A transaction-mode PgBouncer in front of ``pg_server``.

    Skipped with the reason when ``pgbouncer`` is missing (before ``pg_server`` is started); a
    failure instead with ``--pgmonkey-require-pgbouncer`` (``PGMONKEY_REQUIRE_PGBOUNCER=1``).
    """
    from pgmonkey.testing._pgbouncer import start_pgbouncer
    from pgmonkey.testing._require import require_pgbouncer

    executable = require_pgbouncer()
    server: Any = request.getfixturevalue("pg_server")
    with start_pgbouncer(server, "transaction", executable=executable) as bouncer:
        yield bouncer


@pytest.fixture(scope="session")
def pg_patroni() -> Iterator[PatroniCluster]:
    """A Patroni cluster: one etcd, three PostgreSQL nodes, HAProxy in front.

    Timings are tuned for tests (``ttl`` 3, ``loop_wait`` 1, ``retry_timeout`` 1). Skipped
    with the reason when Patroni, etcd or HAProxy is missing; a failure instead with
    ``--pgmonkey-require-patroni`` (``PGMONKEY_REQUIRE_PATRONI=1``). A test that breaks the
    cluster should leave it healthy again: :meth:`~pgmonkey.testing.PatroniCluster.wait_healthy`
    restarts stopped nodes and waits.
    """
    from pgmonkey.testing._patroni import start_patroni_cluster
    from pgmonkey.testing._require import require_patroni
    from pgmonkey.testing._signals import install_sigterm_handler

    require_patroni(haproxy=True)
    install_sigterm_handler()
    with start_patroni_cluster(haproxy=True) as cluster:
        yield cluster
