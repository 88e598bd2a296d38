"""Fixtures for the pgmonkey-fastapi tests.

``client_factory`` gives every HTTP test twice: once through Starlette's ``TestClient`` and
once through ``httpx.AsyncClient`` with :func:`pgmonkey_fastapi.testing.client` (driven from a
blocking portal so the same synchronous test body serves both).
"""

from __future__ import annotations

import secrets
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import anyio.from_thread
import httpx
import pytest

from pgmonkey_fastapi import testing
from tests._health import health_server, running_health_server  # noqa: F401  (fixtures)
from tests._replicas import replica_cluster  # noqa: F401  (a fixture for this folder)

with warnings.catch_warnings():
    # Starlette >= 1.10 announces its move to httpx2 when the module is imported.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient as TestClient  # re-exported to the tests

SCHEMA = """
CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE deferred (
    id int,
    CONSTRAINT deferred_unique UNIQUE (id) DEFERRABLE INITIALLY DEFERRED
);
"""


class Database:
    """A fresh database with the test schema and a unique ``application_name``."""

    def __init__(self, server: Any, config: dict[str, Any]) -> None:
        self.server = server
        self.config = config
        self.dbname: str = config["connection_settings"]["dbname"]
        self.app_name = f"fa-{secrets.token_hex(4)}"
        config["connection_settings"]["application_name"] = self.app_name

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` run as the superuser in this database."""
        rows: list[tuple[Any, ...]] = self.server.execute(sql, params, dbname=self.dbname)
        return rows

    def items(self) -> list[tuple[Any, ...]]:
        """Every row of ``items``, ordered by id."""
        return self.query("SELECT id, name FROM items ORDER BY id")

    def sessions(self, state: str | None = None) -> int:
        """Backends of the app under test (by ``application_name``), optionally in ``state``."""
        sql = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
        params: list[Any] = [self.app_name]
        if state is not None:
            sql += " AND state = %s"
            params.append(state)
        # A backend whose client just disconnected lingers for a moment in pg_stat_activity:
        # read until the count stops changing (3 equal reads 50 ms apart, at most 5 s).
        reads = [int(self.query(sql, params)[0][0])]
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (len(reads) < 3 or len(set(reads[-3:])) > 1):
            time.sleep(0.05)
            reads.append(int(self.query(sql, params)[0][0]))
        return reads[-1]

    def config_with(self, **pool_settings: Any) -> dict[str, Any]:
        """A copy of the configuration with changed async and sync pool settings."""
        cfg = {k: (dict(v) if isinstance(v, dict) else v) for k, v in self.config.items()}
        cfg["pool_settings"].update(pool_settings)
        cfg["async_pool_settings"].update(pool_settings)
        return cfg


@pytest.fixture
def db(pg_server: Any, pg_database: dict[str, Any]) -> Database:
    """A fresh database with ``items`` and ``deferred`` tables."""
    database = Database(pg_server, pg_database)
    database.query(SCHEMA)
    return database


class AsyncClientInThread:
    """``httpx.AsyncClient`` + :func:`testing.client`, driven from a synchronous test."""

    def __init__(self, app: Any, raise_server_exceptions: bool = True) -> None:
        self._app = app
        self._raise = raise_server_exceptions

    def __enter__(self) -> AsyncClientInThread:
        self._portal_cm = anyio.from_thread.start_blocking_portal()
        self.portal = self._portal_cm.__enter__()
        self._client_cm = testing.client(self._app, raise_app_exceptions=self._raise)
        try:
            self.http: httpx.AsyncClient = self.portal.call(self._client_cm.__aenter__)
        except BaseException:
            self._portal_cm.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self.portal.call(self._client_cm.__aexit__, None, None, None)
        finally:
            self._portal_cm.__exit__(None, None, None)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.portal.call(lambda: self.http.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)


ClientFactory = Callable[..., AbstractContextManager[Any]]


@pytest.fixture(params=["TestClient", "AsyncClient"])
def client_factory(request: pytest.FixtureRequest) -> ClientFactory:
    """``factory(app, raise_server_exceptions=True)`` -> a context manager giving a client."""

    @contextmanager
    def factory(app: Any, raise_server_exceptions: bool = True) -> Iterator[Any]:
        if request.param == "TestClient":
            with TestClient(app, raise_server_exceptions=raise_server_exceptions) as client:
                yield client
        else:
            with AsyncClientInThread(app, raise_server_exceptions) as client:
                yield client

    return factory


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Old Starlette TestClients (FastAPI < 0.100) use httpx's deprecated ``app=`` shortcut."""
    here = str(__file__).rsplit("/", 1)[0]
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(
                pytest.mark.filterwarnings(
                    "ignore:The 'app' shortcut is now deprecated:DeprecationWarning"
                )
            )
