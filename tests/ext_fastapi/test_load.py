"""Load: 5,000 requests from 64 concurrent clients through a pool of 8 connections."""

import asyncio
import itertools
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI

from pgmonkey_fastapi import PGMonkeyFastAPI, testing

from .conftest import Database

REQUESTS = 5000
CLIENTS = 64


@pytest.mark.slow
async def test_load_without_errors_or_leaks(db: Database) -> None:
    pg = PGMonkeyFastAPI(db.config_with(min_size=2, max_size=8, timeout=30))
    app = FastAPI()
    pg.init_app(app)
    Conn = Annotated[Any, Depends(pg.connection)]
    Tx = Annotated[Any, pg.depends_transaction()]

    @app.get("/read")
    async def read(conn: Conn) -> int:
        cur = await conn.execute("SELECT count(*) FROM items")
        return int((await cur.fetchone())[0])

    @app.post("/write/{i}")
    async def write(i: int, conn: Tx) -> int:
        await conn.execute("INSERT INTO items VALUES (%s, 'load')", (i,))
        return i

    counter = itertools.count()
    statuses: list[int] = []
    writes: list[int] = []

    async def client_loop(http: Any) -> None:
        while (n := next(counter)) < REQUESTS:
            if n % 5 == 0:
                response = await http.post(f"/write/{n}")
                writes.append(n)
            else:
                response = await http.get("/read")
            statuses.append(response.status_code)

    async with testing.client(app, raise_app_exceptions=False) as http:
        await asyncio.gather(*(client_loop(http) for _ in range(CLIENTS)))
        pool = app.state.pgmonkey["default"]
        stats = pool.get_stats()
        assert stats["pool_size"] <= 8
        assert stats["pool_available"] == stats["pool_size"]  # every connection came back
        assert db.sessions("idle in transaction") == 0
        assert db.sessions() <= 8
    assert len(statuses) == REQUESTS
    assert statuses.count(200) == REQUESTS
    assert stats.get("requests_errors", 0) == 0
    assert db.query("SELECT count(*) FROM items") == [(len(writes),)]
    assert db.sessions() == 0
