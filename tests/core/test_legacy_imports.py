"""The import paths of pgmonkey 3.x/4.x still work (with a DeprecationWarning naming the new one).

The snippets follow the examples the earlier pgmonkey documented (manager from its old module,
``with connection as conn: with conn.cursor() as cur:``), against a real server.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from pgmonkey import PGConnectionManager
from pgmonkey.connections import (
    AsyncConnection,
    AsyncConnectionPool,
    BaseConnection,
    Connection,
    ConnectionPool,
)
from pgmonkey.errors import ConfigValidationError
from tests.core._manager_helpers import write_config

LEGACY = {
    "pgmonkey.managers.pgconnection_manager": (
        "PGConnectionManager",
        PGConnectionManager,
        "from pgmonkey import PGConnectionManager",
    ),
    "pgmonkey.connections.postgres.normal_connection": (
        "PGNormalConnection",
        Connection,
        "from pgmonkey.connections import Connection",
    ),
    "pgmonkey.connections.postgres.pool_connection": (
        "PGPoolConnection",
        ConnectionPool,
        "from pgmonkey.connections import ConnectionPool",
    ),
    "pgmonkey.connections.postgres.async_connection": (
        "PGAsyncConnection",
        AsyncConnection,
        "from pgmonkey.connections import AsyncConnection",
    ),
    "pgmonkey.connections.postgres.async_pool_connection": (
        "PGAsyncPoolConnection",
        AsyncConnectionPool,
        "from pgmonkey.connections import AsyncConnectionPool",
    ),
    "pgmonkey.connections.postgres.base_connection": (
        "PostgresBaseConnection",
        BaseConnection,
        "from pgmonkey.connections import BaseConnection",
    ),
    "pgmonkey.connections.base": (
        "PostgresBaseConnection",
        BaseConnection,
        "from pgmonkey.connections import BaseConnection",
    ),
}


def _import_fresh(name: str) -> ModuleType:
    """Import ``name`` as if for the first time (the warning is given once per import)."""
    sys.modules.pop(name, None)
    __import__(name)  # like an import statement: the warning points at this line
    return sys.modules[name]


@pytest.fixture
def manager() -> Iterator[PGConnectionManager]:
    m = PGConnectionManager()
    m.clear_cache()
    yield m
    m.clear_cache()


@pytest.mark.parametrize("module_name", sorted(LEGACY))
def test_old_module_warns_and_exports_the_new_object(module_name: str) -> None:
    attr, new, new_import = LEGACY[module_name]
    with pytest.warns(DeprecationWarning, match="import path of pgmonkey 3") as record:
        module = _import_fresh(module_name)
    assert [str(w.message) for w in record] == [
        f"{module_name} is the import path of pgmonkey 3.x/4.x and will be removed in a "
        f"future release; use `{new_import}` instead"
    ]
    assert record[0].filename == __file__  # it points at the importing line
    assert getattr(module, attr) is new
    assert module.__all__[0] == attr or attr in module.__all__


def test_old_manager_module_as_documented(tmp_path: Path, pg_database: dict[str, Any]) -> None:
    path = write_config(tmp_path / "tmpl.yaml", pg_database)
    with pytest.warns(DeprecationWarning, match="pgconnection_manager"):
        module = _import_fresh("pgmonkey.managers.pgconnection_manager")
    assert module.VALID_CONNECTION_TYPES == ("normal", "pool", "async", "async_pool")
    connection_manager = module.PGConnectionManager()
    rows = []
    for ctype in ("normal", "pool"):
        connection = connection_manager.get_database_connection(str(path), ctype)
        with connection as conn, conn.cursor() as cur:
            cur.execute("SELECT 1;")
            rows.append(cur.fetchone())
    assert rows == [(1,), (1,)]
    connection_manager.clear_cache()


async def test_old_manager_module_async_as_documented(
    tmp_path: Path, pg_database: dict[str, Any]
) -> None:
    path = write_config(tmp_path / "tmpl.yaml", pg_database)
    with pytest.warns(DeprecationWarning, match="pgconnection_manager"):
        module = _import_fresh("pgmonkey.managers.pgconnection_manager")
    connection_manager = module.PGConnectionManager()
    results = []
    for ctype in ("async", "async_pool"):
        connection = await connection_manager.get_database_connection(str(path), ctype)
        async with connection as conn, conn.cursor() as cur:
            await cur.execute("SELECT 1;")
            results.append(await cur.fetchone())
    assert results == [(1,), (1,)]
    await connection_manager.clear_cache_async()


def test_isinstance_with_old_class_names(
    manager: PGConnectionManager, pg_database: dict[str, Any]
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        normal = _import_fresh("pgmonkey.connections.postgres.normal_connection")
        pool = _import_fresh("pgmonkey.connections.postgres.pool_connection")
        base = _import_fresh("pgmonkey.connections.base")
    conn = manager.get_database_connection_from_dict(pg_database, "normal")
    pooled = manager.get_database_connection_from_dict(pg_database, "pool")
    assert isinstance(conn, normal.PGNormalConnection)
    assert isinstance(pooled, pool.PGPoolConnection)
    assert isinstance(conn, base.PostgresBaseConnection)
    assert isinstance(pooled, base.PostgresBaseConnection)
    assert not isinstance(conn, pool.PGPoolConnection)


def test_old_connection_classes_work_with_a_configuration(pg_database: dict[str, Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        normal = _import_fresh("pgmonkey.connections.postgres.normal_connection")
        pool = _import_fresh("pgmonkey.connections.postgres.pool_connection")
    conn = normal.PGNormalConnection(pg_database)
    conn.connect()
    with conn as c:
        assert c.execute("SELECT 2").fetchone() == (2,)
    conn.disconnect()
    pooled = pool.PGPoolConnection(pg_database)
    pooled.connect()
    with pooled as c:
        assert c.execute("SELECT 3").fetchone() == (3,)
    pooled.disconnect()


async def test_connection_factory(pg_database: dict[str, Any]) -> None:
    with pytest.warns(DeprecationWarning, match="postgres_connection_factory"):
        factory_module = _import_fresh("pgmonkey.connections.postgres.postgres_connection_factory")
    factory = factory_module.PostgresConnectionFactory
    sync_obj = factory(pg_database, "normal").get_connection()
    assert type(sync_obj) is Connection
    with sync_obj as c:
        assert c.execute("SELECT 1").fetchone() == (1,)
    sync_obj.disconnect()
    async_obj = factory(pg_database, "async_pool").get_connection()
    assert type(async_obj) is AsyncConnectionPool
    await async_obj.open()
    async with async_obj as c:
        assert await (await c.execute("SELECT 1")).fetchone() == (1,)
    await async_obj.disconnect()
    with pytest.raises(ConfigValidationError, match="Unsupported connection type: 'bogus'"):
        factory(pg_database, "bogus")


def test_warning_shown_by_default_in_a_script(tmp_path: Path) -> None:
    """Python shows the DeprecationWarning to a script's author (it points at their code)."""
    script = tmp_path / "app.py"
    script.write_text(
        textwrap.dedent(
            """
            from pgmonkey.connections.postgres.pool_connection import PGPoolConnection
            print(PGPoolConnection.__name__)
            """
        ),
        encoding="utf-8",
    )
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "ConnectionPool\n"
    assert f"{script}:2: DeprecationWarning: pgmonkey.connections.postgres.pool_connection" in (
        proc.stderr
    )
    assert "use `from pgmonkey.connections import ConnectionPool` instead" in proc.stderr
