"""Rotating credentials under load: 8 threads on a pool and an async pool keep working.

Two rotations, each while 8 threads query a ``pool`` and four tasks query an ``async_pool``
(in their own event loop), with ``max_lifetime`` short so the pools cycle:

* ``ALTER ROLE ... PASSWORD`` and then the ``from_file`` secret replaced (as Kubernetes does);
* a ``credential_provider`` returning a new password on every call, setting it on the server
  first (one role per pool and one pool worker each, so the server stays in step).

No operation fails after the rotation window, every connection opened before the rotation
retires (``max_lifetime``, never inside a transaction), the old password stops working, and no
password appears in any log record or in the server's log.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pgmonkey.config import load_config
from pgmonkey.connections import open_async_pool, open_pool
from pgmonkey.testing import PostgresServer

from .. import _rotation
from .._rotation import (
    ROTATING_POOL,
    Load,
    SecretFileRole,
    make_role,
    new_password,
    prove_rotation,
)

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

POOL = ROTATING_POOL


def _query(conn: psycopg.Connection[Any]) -> None:
    with conn.transaction():
        conn.execute("SELECT pg_sleep(0.002)")
        assert conn.execute("SELECT 1").fetchone() == (1,)


def _start(load: Load, sync_cfg: dict[str, Any], async_cfg: dict[str, Any]) -> Any:
    pool = open_pool(sync_cfg)

    def op() -> None:
        with pool.connection() as conn:
            _query(conn)

    load.threads("pool", op, count=8)

    async def main(load: Load) -> None:
        import asyncio

        apool = await open_async_pool(async_cfg)
        async with apool:

            async def one() -> None:
                async with apool.connection() as conn, conn.transaction():
                    await conn.execute("SELECT pg_sleep(0.002)")
                    assert await (await conn.execute("SELECT 1")).fetchone() == (1,)

            async def worker() -> None:
                while not load.stopping:
                    await load.arun("async_pool", one)

            await asyncio.gather(*(worker() for _ in range(4)))

    load.asyncio_thread(main)
    return pool


def test_secret_file_rotation_under_load(
    pg_server: PostgresServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rot = SecretFileRole(pg_server, tmp_path, "core")
    raw = pg_server.config(password=None)
    raw["connection_settings"].update(rot.settings())
    raw["pool_settings"] = POOL
    raw["async_pool_settings"] = POOL
    cfg = load_config(raw, resolve_env=True)
    load = Load()
    pool = _start(load, cfg, cfg)
    try:
        prove_rotation(load, pg_server, [rot.role], ["pool", "async_pool"], rot.rotate)
    finally:
        pool.close()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(**{**cfg["connection_settings"], "password": rot.first}).close()
    _rotation.assert_no_secret_logged(caplog.text, pg_server, rot.passwords)
    rot.drop()


def test_provider_rotation_under_load(
    pg_server: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    state = _rotation.use_server(pg_server)
    sync_role = make_role(pg_server, new_password())
    async_role = make_role(pg_server, new_password())
    one_worker = {**POOL, "num_workers": 1}

    def config(role: str, provider: str) -> dict[str, Any]:
        raw = pg_server.config(user=role, password=None)
        raw["connection_settings"]["credential_provider"] = provider
        raw["pool_settings"] = one_worker
        raw["async_pool_settings"] = one_worker
        return load_config(raw)

    load = Load()
    pool = _start(
        load,
        config(sync_role, "tests._rotation:stepping_password"),
        config(async_role, "tests._rotation:async_stepping_password"),
    )
    try:
        prove_rotation(
            load, pg_server, [sync_role, async_role], ["pool", "async_pool"], lambda: None
        )
    finally:
        pool.close()
    issued = list(state.issued)
    assert len(issued) > 8  # the pools cycled: a provider call per new connection
    assert len(set(issued)) == len(issued)
    _rotation.assert_no_secret_logged(caplog.text, pg_server, issued)
    for role in (sync_role, async_role):
        _rotation.drop_role(pg_server, role)
