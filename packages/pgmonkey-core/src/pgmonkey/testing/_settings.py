"""The environment variables, command-line options and ini keys that steer pgmonkey.testing.

This module imports nothing: the pytest plugin reads it at start-up, before any test runs.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "ENV_BINDIR",
    "ENV_ETCD",
    "ENV_PATRONI",
    "ENV_PGBOUNCER",
    "ENV_REQUIRE_PATRONI",
    "ENV_REQUIRE_PGBOUNCER",
    "ENV_REQUIRE_SSL",
    "ENV_TEST_DSN",
    "SETTINGS",
    "Setting",
]

ENV_BINDIR = "PGMONKEY_PG_BINDIR"
ENV_TEST_DSN = "PGMONKEY_TEST_DSN"
ENV_PGBOUNCER = "PGMONKEY_PGBOUNCER"
ENV_REQUIRE_SSL = "PGMONKEY_REQUIRE_SSL"
ENV_REQUIRE_PGBOUNCER = "PGMONKEY_REQUIRE_PGBOUNCER"
ENV_PATRONI = "PGMONKEY_PATRONI"
ENV_ETCD = "PGMONKEY_ETCD"
ENV_REQUIRE_PATRONI = "PGMONKEY_REQUIRE_PATRONI"


class Setting(NamedTuple):
    """One setting, with its three spellings."""

    env: str
    option: str
    ini: str
    flag: bool
    help: str


SETTINGS = (
    Setting(
        ENV_BINDIR,
        "--pgmonkey-bindir",
        "pgmonkey_bindir",
        False,
        "directory of the PostgreSQL server binaries (initdb, pg_ctl, postgres)",
    ),
    Setting(
        ENV_TEST_DSN,
        "--pgmonkey-dsn",
        "pgmonkey_dsn",
        False,
        "libpq connection string of an existing server for pg_server (no server is started)",
    ),
    Setting(
        ENV_PGBOUNCER,
        "--pgmonkey-pgbouncer",
        "pgmonkey_pgbouncer",
        False,
        "the pgbouncer executable",
    ),
    Setting(
        ENV_REQUIRE_SSL,
        "--pgmonkey-require-ssl",
        "pgmonkey_require_ssl",
        True,
        "fail, instead of skipping, the tests that need a server built with SSL",
    ),
    Setting(
        ENV_REQUIRE_PGBOUNCER,
        "--pgmonkey-require-pgbouncer",
        "pgmonkey_require_pgbouncer",
        True,
        "fail, instead of skipping, the tests that need pgbouncer",
    ),
    Setting(
        ENV_PATRONI,
        "--pgmonkey-patroni",
        "pgmonkey_patroni",
        False,
        "the patroni executable (patronictl is looked for next to it)",
    ),
    Setting(
        ENV_ETCD,
        "--pgmonkey-etcd",
        "pgmonkey_etcd",
        False,
        "the etcd executable",
    ),
    Setting(
        ENV_REQUIRE_PATRONI,
        "--pgmonkey-require-patroni",
        "pgmonkey_require_patroni",
        True,
        "fail, instead of skipping, the tests that need Patroni, etcd and HAProxy",
    ),
)
"""Every setting: command-line option first, then the environment variable, then the ini
key (pytest.ini, pyproject.toml's ``[tool.pytest.ini_options]``, ...)."""
