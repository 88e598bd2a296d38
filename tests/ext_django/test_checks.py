"""System checks for the known traps (``manage.py check``), per Django version."""

from __future__ import annotations

from typing import Any

import django
import pytest

from pgmonkey.connections import PooledConnection
from pgmonkey_django import _compat, database_config
from pgmonkey_django.checks import check_database
from tests.ext_django.conftest import Project

HAS_POOL = django.VERSION[:2] >= (5, 1)
POOLING = _compat.pool_unavailable_reason() is None
ENGINE = "django.db.backends.postgresql"


def ids(entry: dict[str, Any]) -> list[str]:
    return [str(m.id) for m in check_database("default", {"ENGINE": ENGINE, **entry})]


def test_the_project_passes_its_checks(project: Project) -> None:
    from django.core.management import call_command

    call_command("check", fail_level="WARNING", verbosity=0)


def test_other_engines_are_ignored() -> None:
    entry = {"ENGINE": "django.db.backends.sqlite3", "OPTIONS": {"pool": True, "x": ""}}
    assert check_database("default", entry) == []


def test_empty_placeholders_warn() -> None:
    messages = check_database("main", {"ENGINE": ENGINE, "OPTIONS": {"sslcert": "", "a": 1}})
    assert [m.id for m in messages] == ["pgmonkey.W001"]
    assert "sslcert" in messages[0].msg
    assert messages[0].obj == "DATABASES['main']"


@pytest.mark.skipif(HAS_POOL, reason="Django < 5.1 only")
@pytest.mark.parametrize("pool", [True, False, {"min_size": 1}])
def test_pool_key_on_old_django(pool: Any) -> None:
    assert ids({"OPTIONS": {"pool": pool}}) == ["pgmonkey.E001"]


@pytest.mark.skipif(not POOLING, reason="needs Django >= 5.1 and psycopg_pool >= 3.2")
def test_pool_traps() -> None:
    assert ids({"OPTIONS": {"pool": True}, "CONN_MAX_AGE": 0}) == []
    assert ids({"OPTIONS": {"pool": False}, "CONN_MAX_AGE": 60}) == []
    assert ids({"OPTIONS": {"pool": True}, "CONN_MAX_AGE": 60}) == ["pgmonkey.E003"]
    assert ids({"OPTIONS": {"pool": True}, "CONN_MAX_AGE": None}) == ["pgmonkey.E003"]
    assert ids({"OPTIONS": {"pool": {"open": True, "kwargs": {}}}}) == ["pgmonkey.E005"]
    assert ids({"OPTIONS": {"pool": {"min_sizes": 1}}}) == ["pgmonkey.E006"]
    # check: refused by Django 5.1-6.0 ("multiple values for keyword argument 'check'").
    expected = [] if django.VERSION[:2] >= (6, 1) else ["pgmonkey.E005"]
    assert ids({"OPTIONS": {"pool": {"check": print}}}) == expected


@pytest.mark.skipif(not POOLING, reason="needs Django >= 5.1 and psycopg_pool >= 3.2")
def test_database_config_pool_entries_pass_the_checks() -> None:
    """``database_config`` gives Django's pool pgmonkey's connection class: Django never
    passes ``connection_class`` itself, so it is no E005 (nor an unknown key, E006)."""
    cfg = {
        "connection_type": "pool",
        "connection_settings": {"host": "db", "dbname": "app", "user": "u", "password": "p"},
        "pool_settings": {"max_size": 4},
    }
    entry = database_config(cfg)
    assert entry["OPTIONS"]["pool"]["connection_class"] is PooledConnection
    assert check_database("default", entry) == []
    assert ids({"OPTIONS": {"pool": {"connection_class": PooledConnection}}}) == []


@pytest.mark.skipif(not HAS_POOL, reason="needs Django >= 5.1")
def test_old_psycopg_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    """E002. Runs for real where psycopg_pool < 3.2 is installed; else the detection is
    pinned to 3.1.9 (only pgmonkey's own version probe is replaced)."""
    if (_compat.psycopg_pool_version() or (0,))[:2] >= (3, 2):
        monkeypatch.setattr(_compat, "psycopg_pool_version", lambda: (3, 1, 9))
    messages = check_database("default", {"ENGINE": ENGINE, "OPTIONS": {"pool": True}})
    assert [m.id for m in messages] == ["pgmonkey.E002"]
    assert "3.1.9 is too old" in messages[0].msg or "not installed" in messages[0].msg
