"""Rotating credentials behind pgmonkey-fastapi: concurrent requests while the password rotates.

The lifespan's ``async_pool`` is the core's, so each new connection uses the credentials of
now (a re-read ``from_file`` secret, or the ``credential_provider``, awaited when async);
``max_lifetime`` retires the older ones between requests. Eight concurrent clients run in
the app's own event loop (on a thread) while the test rotates.
"""

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI

from pgmonkey.testing import PostgresServer
from pgmonkey_fastapi import PGMonkeyFastAPI, testing
from tests._rotation import Load, prove_app_rotation

pytestmark = pytest.mark.slow


def _start(load: Load, path: Path, role: str) -> Callable[[], None]:
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
    return lambda: None  # the lifespan closes the pool when main() ends


@pytest.mark.parametrize("provider", [None, "tests._rotation:async_stepping_password"])
def test_rotation_with_fastapi(
    pg_server: PostgresServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    provider: str | None,
) -> None:
    prove_app_rotation(
        pg_server,
        tmp_path,
        connection_type="async_pool",
        label="fastapi",
        start=_start,
        caplog=caplog,
        provider=provider,
    )
