"""Fixtures for the Django tests: pgmonkey YAML files and a configured test project.

Django can be set up once per process, so ``django_project`` is session-scoped: it creates
a database on ``pg_server``, writes the YAML files the project's settings read
(``project/settings.py``), calls ``django.setup()`` and creates the tables.
"""

from __future__ import annotations

import contextlib
import copy
import os
import secrets
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from pgmonkey.testing import PostgresServer
from pgmonkey_django._compat import pool_unavailable_reason
from tests._health import health_server, running_health_server  # noqa: F401  (fixtures)
from tests._replicas import replica_cluster  # noqa: F401  (a fixture for this folder)

PROJECT_SETTINGS = "tests.ext_django.project.settings"
ROOT = Path(__file__).resolve().parents[2]
APP_NAME = "pgm-django-tests"
STATEMENT_TIMEOUT = "2345ms"
SEARCH_PATH = 'public, "$user"'
POOL_MAX = 4
POOLING = pool_unavailable_reason() is None
"""Whether this Django/psycopg_pool can pool (Django >= 5.1, psycopg_pool >= 3.2)."""


def project_config(
    server: PostgresServer, dbname: str, *, application_name: str = APP_NAME
) -> dict[str, Any]:
    """The pgmonkey configuration of the test project's ``default.yaml``."""
    return {
        "connection_type": "pool" if POOLING else "normal",
        "connection_settings": {
            "user": server.superuser,
            "password": server.password,
            "host": server.host,
            "port": server.port,
            "dbname": dbname,
            "sslmode": "disable",
            "sslcert": "",  # an empty placeholder, as in the upstream template
            "connect_timeout": 10,
            "application_name": application_name,
        },
        "pool_settings": {
            "min_size": 1,
            "max_size": POOL_MAX,
            "timeout": 10,
            "max_idle": 60,
            "check_on_checkout": True,
        },
        "sync_settings": {"statement_timeout": STATEMENT_TIMEOUT, "search_path": SEARCH_PATH},
        "async_settings": {"statement_timeout": "999ms"},
    }


def write_project_yaml(
    directory: Path, server: PostgresServer, dbname: str, *, application_name: str = APP_NAME
) -> None:
    """Write ``default.yaml`` and ``broken.yaml`` for ``project/settings.py``."""
    cfg = project_config(server, dbname, application_name=application_name)
    (directory / "default.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    broken = project_config(server, dbname, application_name=application_name)
    broken["connection_type"] = "normal"
    broken["connection_settings"]["port"] = server.port + 1 if server.port < 65535 else 1
    broken["connection_settings"]["connect_timeout"] = 3
    (directory / "broken.yaml").write_text(yaml.safe_dump(broken), encoding="utf-8")


def project_env(yaml_dir: Path) -> dict[str, str]:
    """The environment of a process running the test project on the YAML files in ``yaml_dir``."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": PROJECT_SETTINGS,
        "PGMONKEY_DJANGO_YAML_DIR": str(yaml_dir),
        "PYTHONPATH": str(ROOT),
    }


@dataclass
class Project:
    """The configured test project."""

    server: PostgresServer
    dbname: str
    yaml_dir: Path

    def sessions(
        self, application_name: str = APP_NAME, *, settle_to: int | None = None
    ) -> list[tuple[Any, ...]]:
        """``(pid, state)`` of the server sessions opened by the project.

        Args:
            application_name: The sessions' ``application_name``.
            settle_to: Poll for up to 5 s until there are this many sessions: a backend whose
                client just closed may still be exiting. A leak still shows after the wait.
        """
        deadline = time.monotonic() + 5.0
        while True:
            rows: list[tuple[Any, ...]] = self.server.execute(
                "SELECT pid, state FROM pg_stat_activity "
                "WHERE datname = %s AND application_name = %s ORDER BY pid",
                [self.dbname, application_name],
            )
            if settle_to is None or len(rows) == settle_to or time.monotonic() > deadline:
                return rows
            time.sleep(0.05)


def close_everything() -> None:
    """Close this thread's Django connections and every Django pool."""
    from django.db import connections

    for wrapper in connections.all():
        wrapper.close()
        close_pool = getattr(wrapper, "close_pool", None)
        if close_pool is not None:
            close_pool()


@pytest.fixture(scope="session")
def django_project(
    pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Project]:
    """The test project, set up against a fresh database on ``pg_server``."""
    dbname = f"pgm_django_{secrets.token_hex(4)}"
    pg_server.create_database(dbname)
    yaml_dir = tmp_path_factory.mktemp("pgm_django_yaml")
    write_project_yaml(yaml_dir, pg_server, dbname)
    os.environ["PGMONKEY_DJANGO_YAML_DIR"] = str(yaml_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = PROJECT_SETTINGS
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", run_syncdb=True, verbosity=0, database="default")
    close_everything()
    try:
        yield Project(server=pg_server, dbname=dbname, yaml_dir=yaml_dir)
    finally:
        close_everything()
        pg_server.drop_database(dbname)


@pytest.fixture
def project(django_project: Project) -> Iterator[Project]:
    """The test project; every connection and pool is closed after the test."""
    yield django_project
    close_everything()


@contextlib.contextmanager
def extra_databases(entries: Mapping[str, Any]) -> Iterator[None]:
    """Add ``DATABASES`` aliases to the configured project for the duration of the block.

    Django is set up once per process; the aliases get Django's defaults the way settings
    do, and at the end every connection and pool of theirs (in this thread) is closed.
    """
    from django.conf import settings
    from django.db import connections

    configured = connections.configure_settings(
        {"default": settings.DATABASES["default"], **copy.deepcopy(dict(entries))}
    )
    for alias in entries:
        settings.DATABASES[alias] = configured[alias]
        connections.settings[alias] = configured[alias]
    try:
        yield
    finally:
        for alias in entries:
            wrapper = connections[alias]
            wrapper.close()
            close_pool = getattr(wrapper, "close_pool", None)
            if close_pool is not None:
                close_pool()
            del connections[alias]
            settings.DATABASES.pop(alias, None)
            connections.settings.pop(alias, None)
