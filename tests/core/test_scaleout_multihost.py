"""Several hosts in one configuration: libpq routes by ``target_session_attrs`` (real standby)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
from psycopg import pq

from pgmonkey.config import load_config
from pgmonkey.connections import (
    AsyncConnection,
    AsyncConnectionPool,
    Connection,
    ConnectionPool,
)
from pgmonkey.errors import ConfigValidationError
from pgmonkey.testing import PostgresServer, start_server

QUERY = "SELECT pg_is_in_recovery(), inet_server_port()"


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[PostgresServer, PostgresServer]]:
    with start_server(replication=True, roles={"app": "app-pw"}) as primary:
        standby = primary.start_standby()  # stopped with the primary
        yield primary, standby


def multi_host(
    servers: list[PostgresServer], connection_type: str, **settings: Any
) -> dict[str, Any]:
    """A configuration listing ``servers`` in order (one host and one port each)."""
    cfg = servers[0].config(user="app", password="app-pw", connection_type=connection_type)
    cs = cfg["connection_settings"]
    cs["host"] = ",".join(s.host for s in servers)
    cs["port"] = ",".join(str(s.port) for s in servers)
    cs.update(settings)
    cfg["pool_settings"] = {"min_size": 1, "max_size": 2, "timeout": 10}
    cfg["async_pool_settings"] = {"min_size": 1, "max_size": 2, "timeout": 10}
    return load_config(cfg)


def where(cfg: dict[str, Any]) -> tuple[bool, int]:
    """``(in_recovery, port)`` of the server a block of ``cfg``'s connection type reached."""
    ctype = cfg["connection_type"]
    if ctype == "normal":
        conn = Connection(cfg)
        try:
            with conn as c:
                row = c.execute(QUERY).fetchone()
        finally:
            conn.disconnect()
    elif ctype == "pool":
        pool = ConnectionPool(cfg)
        try:
            with pool as c:
                row = c.execute(QUERY).fetchone()
        finally:
            pool.disconnect()
    else:
        row = asyncio.run(_where_async(cfg))
    assert row is not None
    return bool(row[0]), int(row[1])


async def _where_async(cfg: dict[str, Any]) -> Any:
    obj: AsyncConnection | AsyncConnectionPool
    obj = AsyncConnection(cfg) if cfg["connection_type"] == "async" else AsyncConnectionPool(cfg)
    try:
        async with obj as c:
            cur = await c.execute(QUERY)
            return await cur.fetchone()
    finally:
        await obj.disconnect()


TYPES = ["normal", "pool", "async", "async_pool"]


@pytest.mark.parametrize("ctype", TYPES)
def test_read_write_skips_a_standby_listed_first(
    cluster: tuple[PostgresServer, PostgresServer], ctype: str
) -> None:
    primary, standby = cluster
    cfg = multi_host([standby, primary], ctype, target_session_attrs="read-write")
    assert where(cfg) == (False, primary.port)


@pytest.mark.parametrize("ctype", TYPES)
@pytest.mark.parametrize("attrs", ["prefer-standby", "standby", "read-only"])
def test_standby_attrs_skip_the_primary_listed_first(
    cluster: tuple[PostgresServer, PostgresServer], ctype: str, attrs: str
) -> None:
    primary, standby = cluster
    cfg = multi_host([primary, standby], ctype, target_session_attrs=attrs)
    assert where(cfg) == (True, standby.port)


def test_any_takes_the_first_host(cluster: tuple[PostgresServer, PostgresServer]) -> None:
    primary, standby = cluster
    assert where(multi_host([standby, primary], "normal")) == (True, standby.port)


def test_prefer_standby_falls_back_to_the_primary(
    cluster: tuple[PostgresServer, PostgresServer],
) -> None:
    primary, _ = cluster
    cfg = multi_host([primary], "pool", target_session_attrs="prefer-standby")
    assert where(cfg) == (False, primary.port)


@pytest.mark.skipif(pq.version() < 160000, reason="the libpq in use is older than 16")
@pytest.mark.parametrize("ctype", TYPES)
def test_load_balance_hosts_is_passed_to_libpq(
    cluster: tuple[PostgresServer, PostgresServer], ctype: str
) -> None:
    primary, standby = cluster
    cfg = multi_host(
        [primary, standby], ctype, load_balance_hosts="random", target_session_attrs="standby"
    )
    assert cfg["connection_settings"]["load_balance_hosts"] == "random"
    assert where(cfg) == (True, standby.port)
    # libpq itself checks the value: a wrong one is refused at connect time. The message
    # names the value (psycopg 3.1 reports libpq's error as 'connection is bad: "sideways"').
    bad = multi_host([primary, standby], "normal", load_balance_hosts="sideways")
    with pytest.raises(Exception, match="sideways"):
        where(bad)


def test_load_balance_hosts_with_old_libpq_is_a_clear_error() -> None:
    """With psycopg's pure-Python implementation on the system libpq (15 here), for real."""
    code = textwrap.dedent(
        """
        from psycopg import pq
        from pgmonkey.config import load_config
        from pgmonkey.errors import ConfigValidationError
        print(pq.__impl__, pq.version())
        try:
            load_config({"connection_settings": {"host": "a,b", "load_balance_hosts": "random"}})
        except ConfigValidationError as exc:
            print(exc)
        else:
            print("accepted")
        """
    )
    env = {**os.environ, "PSYCOPG_IMPL": "python"}
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    if run.returncode != 0 and "libpq" in run.stderr and "ImportError" in run.stderr:
        pytest.skip("no system libpq for psycopg's pure-Python implementation")
    _impl, version = run.stdout.splitlines()[0].split()
    if int(version) >= 160000:
        pytest.skip(f"the system libpq is {version}, new enough")
    message = run.stdout.splitlines()[1]
    major, minor = divmod(int(version), 10000)
    assert message == (
        "connection_settings.load_balance_hosts: 'load_balance_hosts' needs libpq 16 or "
        f"newer, but the libpq in use is {major}.{minor} (psycopg.pq.version()); install a "
        "newer libpq (or psycopg[binary], which bundles one) or remove the key"
    )


def test_load_balance_hosts_with_current_libpq_is_accepted() -> None:
    if pq.version() < 160000:
        with pytest.raises(ConfigValidationError, match="needs libpq 16 or newer"):
            load_config({"connection_settings": {"load_balance_hosts": "random"}})
    else:
        cfg = load_config({"connection_settings": {"load_balance_hosts": "disable"}})
        assert cfg["connection_settings"] == {"load_balance_hosts": "disable"}
