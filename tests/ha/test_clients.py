"""Every way of connecting survives ``patronictl switchover`` under write load.

The four connection types (``normal``, ``pool``, ``async``, ``async_pool``), HAProxy as the
second topology Patroni documents, and the Flask, FastAPI and Django integrations driven
through their test clients. Each writer records its acknowledged commits; the checks are the
ones of test_failover.py: writes possible again within 5 s, errors only for the operations in
flight during the switchover, none afterwards, no acknowledged commit lost.
"""

from __future__ import annotations

import asyncio
import json
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pgmonkey.config import load_config
from pgmonkey.connections import AsyncConnection, AsyncConnectionPool, Connection
from pgmonkey.testing import PatroniCluster
from tests.ha._load import (
    Op,
    Recorder,
    Write,
    acknowledged,
    lost_commits,
    report,
    wait_writable_elsewhere,
)
from tests.ha._scenario import (
    DJANGO_POOL_LIMIT,
    INSERT,
    check_promise,
    fault_under_write_load,
    pool_for,
    pool_settings,
    pool_writer,
    switchover,
)

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent


def assert_switchover_survived(
    cluster: PatroniCluster, write: Write, scenario: str, *, writers: int = 4
) -> None:
    rep, rec, new = fault_under_write_load(
        cluster, write, scenario, switchover(cluster), writers=writers, outage_from_old=True
    )
    lost = lost_commits(new, acknowledged(rec))
    check_promise(rep)
    assert lost == 0


def with_pool_settings(cfg: dict[str, Any]) -> dict[str, Any]:
    cfg["pool_settings"] = pool_settings()
    cfg["async_pool_settings"] = pool_settings()
    return cfg


class PerThread:
    """One object (and event loop, for the async types) per writer thread, closed at the end."""

    def __init__(self, make: Callable[[], Any], *, is_async: bool) -> None:
        self.make = make
        self.is_async = is_async
        self.local = threading.local()
        self.made: list[tuple[Any, asyncio.AbstractEventLoop | None]] = []
        self.lock = threading.Lock()

    def get(self) -> tuple[Any, asyncio.AbstractEventLoop | None]:
        if not hasattr(self.local, "obj"):
            loop = asyncio.new_event_loop() if self.is_async else None
            self.local.obj, self.local.loop = self.make(), loop
            with self.lock:
                self.made.append((self.local.obj, loop))
        return self.local.obj, self.local.loop

    def close(self) -> None:
        for obj, loop in self.made:
            if loop is None:
                obj.disconnect()
            else:
                loop.run_until_complete(obj.disconnect())
                loop.close()


def writer_for(objects: PerThread) -> Write:
    async def write_async(obj: Any, ident: int) -> int:
        async with obj as conn:
            cur = await conn.execute(INSERT, (ident,))
            row = await cur.fetchone()
        return int(row[0])

    def write(ident: int) -> int:
        obj, loop = objects.get()
        if loop is not None:
            return loop.run_until_complete(write_async(obj, ident))
        with obj as conn:
            row = conn.execute(INSERT, (ident,)).fetchone()
        return int(row[0])

    return write


TYPES = {
    "normal": (Connection, False),
    "async": (AsyncConnection, True),
    "async_pool": (AsyncConnectionPool, True),
}


@pytest.mark.parametrize("connection_type", ["normal", "pool", "async", "async_pool"])
def test_connection_types_survive_a_switchover(
    cluster: PatroniCluster, connection_type: str
) -> None:
    cfg = with_pool_settings(cluster.config("read-write", connection_type=connection_type))
    if connection_type == "pool":
        pool = pool_for(cfg)
        try:
            assert_switchover_survived(cluster, pool_writer(pool), "switchover: pool")
        finally:
            pool.disconnect()
        return
    kind, is_async = TYPES[connection_type]
    config = load_config(cfg)
    objects = PerThread(lambda: kind(config), is_async=is_async)
    try:
        assert_switchover_survived(
            cluster, writer_for(objects), f"switchover: {connection_type}", writers=3
        )
    finally:
        objects.close()


def test_haproxy_topology_survives_a_switchover(cluster: PatroniCluster) -> None:
    """HAProxy in front: the configuration names one address; HAProxy follows the leader."""
    pool = pool_for(cluster.haproxy_config("primary", connection_type="pool"))
    try:
        assert_switchover_survived(cluster, pool_writer(pool), "switchover: HAProxy, pool")
    finally:
        pool.disconnect()


def test_flask_survives_a_switchover(cluster: PatroniCluster) -> None:
    from flask import Flask

    from pgmonkey_flask import PGMonkey

    app = Flask("pgm_ha_flask")
    app.config.update(
        PGMONKEY_CONFIG=with_pool_settings(cluster.config("read-write", connection_type="pool"))
    )
    pg = PGMonkey(app)

    @app.post("/write/<int:ident>")
    def write_view(ident: int) -> Any:
        with pg.transaction() as conn:
            row = conn.execute(INSERT, (ident,)).fetchone()
        assert row is not None
        return {"port": row[0]}

    def write(ident: int) -> int:
        response = app.test_client().post(f"/write/{ident}")
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}")
        return int(response.json["port"])  # type: ignore[index]

    try:
        assert_switchover_survived(cluster, write, "switchover: Flask")
    finally:
        pg.close(app)


def test_fastapi_survives_a_switchover(cluster: PatroniCluster) -> None:
    from fastapi.testclient import TestClient

    from tests.ha.fastapi_app import make_app

    app = make_app(with_pool_settings(cluster.config("read-write", connection_type="async_pool")))
    with TestClient(app, raise_server_exceptions=False) as client:

        def write(ident: int) -> int:
            response = client.post(f"/write/{ident}")
            if response.status_code != 200:
                raise RuntimeError(f"HTTP {response.status_code}")
            return int(response.json()["port"])

        assert_switchover_survived(cluster, write, "switchover: FastAPI")


def test_django_survives_a_switchover(cluster: PatroniCluster) -> None:
    """Django runs in its own process (it is configured once per process): its test client
    writes in a loop and reports each request; this process switches the leader over."""
    cfg = with_pool_settings(cluster.config("read-write", connection_type="pool"))
    child = subprocess.Popen(
        [sys.executable, str(HERE / "django_writer.py"), json.dumps(cfg)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    rec = Recorder()
    stdout, stdin = child.stdout, child.stdin
    assert stdout is not None
    assert stdin is not None

    def read_until(n: int, after: float, port: int | None = None) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready, _, _ = select.select([stdout], [], [], 1)
            if ready:
                line = stdout.readline()
                assert line, "the Django writer exited"
                rec.add(Op(**json.loads(line)))
            ok = [o for o in rec.snapshot() if o.port is not None and o.started > after]
            if len([o for o in ok if port is None or o.port == port]) >= n:
                return
        errors = [o.error for o in rec.snapshot() if o.error][-3:]
        raise AssertionError(f"the Django writer did not write {n} times: {errors}")

    try:
        old = cluster.leader()
        read_until(40, 0)
        fault_at = time.monotonic()
        switchover(cluster)(old)
        new, ready_at = wait_writable_elsewhere(cluster, old)
        read_until(40, ready_at, new.port)
    finally:
        stdin.close()
        child.wait(timeout=30)
        stdout.close()
    rep = report(
        "switchover: Django",
        rec,
        kind="write",
        fault_at=fault_at,
        ready_at=ready_at,
        on_ports={new.port},
        old_port=old.port,
    )
    check_promise(rep, load_limit=DJANGO_POOL_LIMIT)
    assert lost_commits(new, acknowledged(rec)) == 0
