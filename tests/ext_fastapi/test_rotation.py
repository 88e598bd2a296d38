"""Rotating credentials behind pgmonkey-fastapi: concurrent requests while the password rotates.

The lifespan's ``async_pool`` is the core's, so each new connection uses the credentials of
now (a re-read ``from_file`` secret, or the ``credential_provider``, awaited when async);
``max_lifetime`` retires the older ones between requests. Eight concurrent clients run in
the app's own event loop (on a thread) while the test rotates.
"""

import asyncio
import logging
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI

from pgmonkey.testing import PostgresServer
from pgmonkey_fastapi import PGMonkeyFastAPI, testing
from tests import _rotation
from tests._rotation import (
    Load,
    SecretFileRole,
    make_role,
    new_password,
    prove_rotation,
    write_config,
)

pytestmark = pytest.mark.slow

POOL = {"min_size": 2, "max_size": 4, "max_lifetime": 1.5, "timeout": 30}


def _start(load: Load, path: Path, role: str) -> None:
    pg = PGMonkeyFastAPI(str(path), resolve_env=True)
    app = FastAPI()
    pg.init_app(app)
    Conn = Annotated[Any, Depends(pg.connection)]

    @app.get("/who")
    async def who(conn: Conn) -> str:
        cur = await conn.execute("SELECT current_user")
        return str((await cur.fetchone())[0])

    async def main(load: Load) -> None:
        async with testing.client(app) as http:

            async def one() -> None:
                response = await http.get("/who")
                assert response.status_code == 200, response.status_code
                assert response.json() == role

            async def client_loop() -> None:
                while not load.stopping:
                    await load.arun("fastapi", one)

            await asyncio.gather(*(client_loop() for _ in range(8)))

    load.asyncio_thread(main)


def test_secret_file_rotation_with_fastapi(
    pg_server: PostgresServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rot = SecretFileRole(pg_server, tmp_path, "fastapi")
    path = tmp_path / "db.yaml"
    write_config(path, pg_server, "async_pool", POOL, **rot.settings())
    load = Load()
    _start(load, path, rot.role)
    prove_rotation(load, pg_server, [rot.role], ["fastapi"], rot.rotate)
    _rotation.assert_no_secret_logged(caplog.text, pg_server, rot.passwords)
    rot.drop()


def test_async_provider_rotation_with_fastapi(
    pg_server: PostgresServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    state = _rotation.use_server(pg_server)
    role = make_role(pg_server, new_password())
    path = tmp_path / "db.yaml"
    write_config(
        path,
        pg_server,
        "async_pool",
        {**POOL, "num_workers": 1},
        user=role,
        credential_provider="tests._rotation:async_stepping_password",
    )
    load = Load()
    _start(load, path, role)
    prove_rotation(load, pg_server, [role], ["fastapi"], lambda: None)
    assert len(state.issued) > 4
    _rotation.assert_no_secret_logged(caplog.text, pg_server, list(state.issued))
    _rotation.drop_role(pg_server, role)
