"""Rotating credentials with Django's own pool (built by ``database_config``), under load.

``database_config`` gives Django's pool pgmonkey's ``PooledConnection`` as its connection
class when the password comes from a ``from_file`` secret or a ``credential_provider`` is
set, so each new connection of the pool uses the credentials of now. 8 threads query through
``django.db.connections`` while the password rotates; ``max_lifetime`` retires the older
connections (Django returns them to the pool between requests, never inside a transaction).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from pgmonkey.errors import ConfigValidationError
from pgmonkey_django import database_config
from tests import _rotation
from tests._rotation import (
    ROTATING_POOL,
    Load,
    SecretFileRole,
    make_role,
    new_password,
    prove_rotation,
)
from tests.ext_django.conftest import POOLING, Project, extra_databases

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not POOLING, reason="needs Django >= 5.1 and psycopg_pool >= 3.2"),
]

POOL = ROTATING_POOL


def _query(alias: str) -> None:
    from django.db import connections, transaction

    wrapper = connections[alias]
    try:
        with transaction.atomic(using=alias), wrapper.cursor() as cur:
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
    finally:
        wrapper.close()  # back to the pool, as at the end of a request


def _raw(project: Project, role: str) -> dict[str, Any]:
    raw = project.server.config(user=role, password=None, dbname=project.dbname)
    raw["connection_type"] = "pool"
    raw["pool_settings"] = POOL
    return raw


def test_secret_file_rotation_with_django_pool(
    project: Project, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rot = SecretFileRole(project.server, tmp_path, "django")
    raw = _raw(project, rot.role)
    raw["connection_settings"].update(rot.settings())
    entry = database_config(raw, resolve_env=True)
    with extra_databases({"rotfile": entry}):
        load = Load()
        load.threads("django", lambda: _query("rotfile"), count=8)
        prove_rotation(load, project.server, [rot.role], ["django"], rot.rotate)
    _rotation.assert_no_secret_logged(caplog.text, project.server, rot.passwords)
    rot.drop()


def test_provider_rotation_with_django_pool(
    project: Project, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    state = _rotation.use_server(project.server)
    role = make_role(project.server, new_password())
    raw = _raw(project, role)
    raw["pool_settings"] = {**POOL, "num_workers": 1}
    raw["connection_settings"]["credential_provider"] = "tests._rotation:stepping_password"
    entry = database_config(raw)
    with extra_databases({"rotprov": entry}):
        load = Load()
        load.threads("django", lambda: _query("rotprov"), count=8)
        prove_rotation(load, project.server, [role], ["django"], lambda: None)
    assert len(state.issued) > 4
    assert all(call["user"] == role for call in state.calls)
    _rotation.assert_no_secret_logged(caplog.text, project.server, list(state.issued))
    _rotation.drop_role(project.server, role)


def test_provider_without_a_pool_is_refused() -> None:
    raw = {
        "connection_settings": {
            "host": "db",
            "user": "app",
            "credential_provider": "tests._rotation:stepping_password",
        }
    }
    with pytest.raises(ConfigValidationError) as info:
        database_config(raw, pool=False)
    assert str(info.value).startswith(
        "connection_settings.credential_provider: credential_provider needs Django's "
        "connection pool"
    )
