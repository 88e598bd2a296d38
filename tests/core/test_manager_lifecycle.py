"""Fork, event loops, interpreter exit and server restarts (real servers, real processes)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from pgmonkey import PGConnectionManager
from pgmonkey.testing import PostgresServer, start_server
from tests.core._manager_helpers import backends, settled_backends


@pytest.fixture
def manager() -> Iterator[PGConnectionManager]:
    m = PGConnectionManager()
    m.clear_cache()
    yield m
    m.clear_cache()


def _fork_and_run(child: Any) -> dict[str, Any]:
    """Fork; the child runs ``child()`` and sends its JSON result back through a pipe."""
    read_fd, write_fd = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 0
        try:
            result = {"ok": True, **child()}
        except BaseException as exc:
            result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            code = 1
        try:
            os.write(write_fd, json.dumps(result).encode())
        finally:
            os._exit(code)
    os.close(write_fd)
    chunks = []
    while chunk := os.read(read_fd, 65536):
        chunks.append(chunk)
    os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    received: dict[str, Any] = json.loads(b"".join(chunks) or b"{}")
    assert os.waitstatus_to_exitcode(status) == 0, received
    return received


def test_fork_child_gets_fresh_objects_parent_keeps_working(
    manager: PGConnectionManager, pg_database: dict[str, Any]
) -> None:
    pool = manager.get_database_connection_from_dict(pg_database, "pool")
    conn = manager.get_database_connection_from_dict(pg_database, "normal")
    with pool as c:
        c.execute("CREATE TABLE t (who text)")
    with conn as c:
        parent_pid = c.info.backend_pid

    def child() -> dict[str, Any]:
        m = PGConnectionManager()
        assert m.cache_info["size"] == 0  # inherited entries were forgotten
        fresh = m.get_database_connection_from_dict(pg_database, "normal")
        assert fresh is not conn
        with fresh as c:
            c.execute("INSERT INTO t VALUES ('child-normal')")
            child_pid = c.info.backend_pid
        with pool as c:  # the inherited wrapper itself opens a fresh pool
            c.execute("INSERT INTO t VALUES ('child-pool')")
        with conn as c:  # and the inherited normal wrapper a fresh connection
            inherited_pid = c.info.backend_pid
        m.clear_cache()
        pool.disconnect()
        conn.disconnect()
        return {"child_pid": child_pid, "inherited_pid": inherited_pid}

    result = _fork_and_run(child)
    assert result["ok"], result
    assert result["child_pid"] != parent_pid
    assert result["inherited_pid"] != parent_pid
    # The parent's sockets were neither used nor closed by the child.
    with conn as c:
        assert c.info.backend_pid == parent_pid
        assert c.execute("SELECT count(*) FROM t").fetchone() == (2,)
    with pool as c:
        rows = c.execute("SELECT who FROM t ORDER BY who").fetchall()
    assert rows == [("child-normal",), ("child-pool",)]
    assert manager.get_database_connection_from_dict(pg_database, "pool") is pool


def test_fork_with_async_objects(
    manager: PGConnectionManager, pg_database: dict[str, Any]
) -> None:
    async def use() -> tuple[Any, int]:
        p = await manager.get_database_connection_from_dict(pg_database, "async_pool")
        async with p as c:
            return p, c.info.backend_pid

    def child() -> dict[str, Any]:
        _, pid = asyncio.run(use())
        asyncio.run(PGConnectionManager().clear_cache_async())
        return {"pid": pid}

    _, parent_pid = asyncio.run(use())  # the loop is over; the entry is dropped on next use
    result = _fork_and_run(child)
    assert result["ok"], result
    assert result["pid"] != parent_pid


# -- event loops ----------------------------------------------------------------------------


def test_each_asyncio_run_gets_fresh_async_objects(
    manager: PGConnectionManager, pg_database: dict[str, Any], pg_server: Any
) -> None:
    async def use() -> tuple[Any, Any]:
        pool = await manager.get_database_connection_from_dict(pg_database, "async_pool")
        conn = await manager.get_database_connection_from_dict(pg_database, "async")
        async with pool as c:
            await c.execute("SELECT 1")
        async with conn as c:
            await c.execute("SELECT 1")
        return pool, conn

    p1, c1 = asyncio.run(use())
    p2, c2 = asyncio.run(use())
    assert p1 is not p2
    assert c1 is not c2
    # Each loop's entries were closed and forgotten when asyncio.run() ended it.
    assert manager.cache_info["size"] == 0
    dbname = pg_database["connection_settings"]["dbname"]
    assert settled_backends(pg_server, dbname, column="datname") == 0

    async def reuse_old() -> None:  # an object kept from an ended loop reopens in this one
        async with p1 as c:
            await c.execute("SELECT 1")
        async with c1 as c:
            await c.execute("SELECT 1")
        await p1.disconnect()
        await c1.disconnect()

    asyncio.run(reuse_old())
    manager.clear_cache()
    rows = pg_server.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (dbname,))
    assert rows == [(0,)]


async def test_object_of_another_running_loop_is_refused(
    manager: PGConnectionManager, pg_database: dict[str, Any]
) -> None:
    import threading

    from pgmonkey.errors import DatabaseConnectionError

    pool = await manager.get_database_connection_from_dict(pg_database, "async_pool")
    errors: list[BaseException] = []

    def other_thread() -> None:
        async def use() -> None:
            async with pool:
                pass

        try:
            asyncio.run(use())
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=other_thread)
    t.start()
    await asyncio.to_thread(t.join)
    assert len(errors) == 1
    assert isinstance(errors[0], DatabaseConnectionError)
    assert "another running event loop" in str(errors[0])

    def own_loop() -> Any:
        async def get() -> Any:
            other = await PGConnectionManager().get_database_connection_from_dict(
                pg_database, "async_pool"
            )
            async with other as c:
                await c.execute("SELECT 1")
            await other.disconnect()
            return other

        return asyncio.run(get())

    other = await asyncio.to_thread(own_loop)
    assert other is not pool  # one object per loop


# -- interpreter exit -----------------------------------------------------------------------

SCRIPT = textwrap.dedent(
    """
    import asyncio, json, os
    from pgmonkey import PGConnectionManager

    cfg = json.loads(os.environ["PGMONKEY_TEST_CFG"])
    m = PGConnectionManager()
    with m.get_database_connection_from_dict(cfg, "pool") as c:
        c.execute("SELECT 1")
    with m.get_database_connection_from_dict(cfg, "normal") as c:
        c.execute("SELECT 1")

    async def main():
        for ctype in ("async_pool", "async"):
            obj = await m.get_database_connection_from_dict(cfg, ctype)
            async with obj as c:
                await c.execute("SELECT 1")

    asyncio.run(main())
    print("done")
    """
)


def test_atexit_closes_everything_quietly(pg_server: Any, pg_database: dict[str, Any]) -> None:
    app = "pgmonkey-atexit-test"
    cfg = {**pg_database, "connection_settings": {**pg_database["connection_settings"]}}
    cfg["connection_settings"]["application_name"] = app
    cfg["pool_settings"] = {"min_size": 2, "max_size": 4}
    cfg["async_pool_settings"] = {"min_size": 2, "max_size": 4}
    env = {**os.environ, "PGMONKEY_TEST_CFG": json.dumps(cfg)}
    proc = subprocess.run(
        [sys.executable, "-W", "default", "-X", "dev", "-c", SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "done\n"
    assert proc.stderr == ""
    assert backends(pg_server, app) == 0


# -- server restart -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def own_server() -> Iterator[PostgresServer]:
    with start_server() as server:
        yield server


def test_restart_replaces_dead_connections(
    manager: PGConnectionManager, own_server: PostgresServer
) -> None:
    cfg = own_server.config()
    cfg["pool_settings"] = {"min_size": 2, "max_size": 2, "check_on_checkout": True}
    cfg["async_pool_settings"] = {"min_size": 1, "max_size": 2, "check_on_checkout": True}
    conn = manager.get_database_connection_from_dict(cfg, "normal")
    pool = manager.get_database_connection_from_dict(cfg, "pool")

    async def use_async() -> list[int]:
        out = []
        for ctype in ("async", "async_pool"):
            obj = await manager.get_database_connection_from_dict(cfg, ctype)
            async with obj as c:
                cur = await c.execute("SELECT 41 + 1")
                out.append((await cur.fetchone())[0])
        return out

    async def restart_between() -> list[int]:
        first = await use_async()
        await asyncio.to_thread(own_server.restart, "fast")
        second = await use_async()
        # Close the async objects inside their loop. Left open, a pool still reconnecting
        # when asyncio.run() cancels its tasks hung the loop's shutdown once on Python 3.10
        # (psycopg_pool worker tasks); see the closing note of issue 4.
        for ctype in ("async", "async_pool"):
            obj = await manager.get_database_connection_from_dict(cfg, ctype)
            await obj.disconnect()
        return first + second

    with conn as c:
        c.execute("SELECT 1")
    with pool as c:
        c.execute("SELECT 1")
    assert asyncio.run(restart_between()) == [42, 42, 42, 42]
    for _ in range(3):  # after the restart every use works again
        with conn as c:
            assert c.execute("SELECT 1").fetchone() == (1,)
        with pool as c:
            assert c.execute("SELECT 1").fetchone() == (1,)
