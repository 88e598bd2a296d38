"""The applications the tests run (async and sync flavours of the same routes)."""

# No "from __future__ import annotations": FastAPI must see the local Annotated aliases.

from typing import Annotated, Any

import fastapi
from fastapi import Depends, FastAPI, HTTPException

from pgmonkey_fastapi import PGMonkeyFastAPI

FASTAPI_VERSION = tuple(int(part) for part in fastapi.__version__.split(".")[:2])
SUPPORTS_SCOPE = FASTAPI_VERSION >= (0, 121)


def plain_exit_before_response() -> bool:
    """Whether a plain ``yield`` dependency exits before the response on this FastAPI."""
    return (0, 106) <= FASTAPI_VERSION < (0, 118)


def fail(how: str | None) -> None:
    """Fail the way a route is asked to (``?fail=409`` or ``?fail=crash``)."""
    if how == "409":
        raise HTTPException(status_code=409, detail="conflict")
    if how == "crash":
        raise RuntimeError("boom")


def async_app(pg: PGMonkeyFastAPI, *, init_app: bool = False) -> FastAPI:
    """Routes for ``connection_type="async_pool"``."""
    app = FastAPI() if init_app else FastAPI(lifespan=pg.lifespan)
    if init_app:
        pg.init_app(app)
    Conn = Annotated[Any, Depends(pg.connection)]
    Tx = Annotated[Any, pg.depends_transaction()]
    PlainTx = Annotated[Any, Depends(pg.transaction)]
    Pool = Annotated[Any, Depends(pg.pool)]

    async def backend_pid(conn: Conn) -> int:
        cur = await conn.execute("SELECT pg_backend_pid()")
        return int((await cur.fetchone())[0])

    @app.post("/tx/{i}")
    async def tx_insert(
        i: int, conn: Tx, fail_: str | None = fastapi.Query(None, alias="fail")
    ) -> dict[str, int]:
        await conn.execute("INSERT INTO items VALUES (%s, 'tx')", (i,))
        fail(fail_)
        return {"id": i}

    @app.post("/plain/{i}")
    async def plain_insert(i: int, conn: PlainTx) -> dict[str, int]:
        await conn.execute("INSERT INTO items VALUES (%s, 'plain')", (i,))
        return {"id": i}

    @app.post("/conn/{i}")
    async def conn_insert(
        i: int, conn: Conn, fail_: str | None = fastapi.Query(None, alias="fail")
    ) -> dict[str, int]:
        await conn.execute("INSERT INTO items VALUES (%s, 'conn')", (i,))
        fail(fail_)
        return {"id": i}

    @app.post("/deferred/tx")
    async def deferred_tx(conn: Tx) -> dict[str, bool]:
        await conn.execute("INSERT INTO deferred VALUES (1), (1)")
        return {"ok": True}

    @app.post("/deferred/plain")
    async def deferred_plain(conn: PlainTx) -> dict[str, bool]:
        await conn.execute("INSERT INTO deferred VALUES (1), (1)")
        return {"ok": True}

    @app.post("/deferred/conn")
    async def deferred_conn(conn: Conn) -> dict[str, bool]:
        await conn.execute("INSERT INTO deferred VALUES (1), (1)")
        return {"ok": True}

    @app.get("/items")
    async def items(conn: Conn) -> list[list[Any]]:
        cur = await conn.execute("SELECT id, name FROM items ORDER BY id")
        return [list(row) for row in await cur.fetchall()]

    @app.get("/pids")
    async def pids(
        conn: Conn, tx: PlainTx, sub: Annotated[int, Depends(backend_pid)]
    ) -> dict[str, int]:
        cur = await conn.execute("SELECT pg_backend_pid()")
        cur2 = await tx.execute("SELECT pg_backend_pid()")
        return {
            "conn": (await cur.fetchone())[0],
            "tx": (await cur2.fetchone())[0],
            "sub": sub,
        }

    @app.post("/pool/{i}")
    async def pool_insert(i: int, pool: Pool) -> dict[str, int]:
        async with pool.connection() as conn:
            await conn.execute("INSERT INTO items VALUES (%s, 'pool')", (i,))
        return {"id": i}

    return app


def sync_app(pg: PGMonkeyFastAPI, *, init_app: bool = False) -> FastAPI:
    """The same routes as ``def`` routes for ``connection_type="pool"``."""
    app = FastAPI() if init_app else FastAPI(lifespan=pg.lifespan)
    if init_app:
        pg.init_app(app)
    Conn = Annotated[Any, Depends(pg.connection)]
    Tx = Annotated[Any, pg.depends_transaction()]
    PlainTx = Annotated[Any, Depends(pg.transaction)]

    def backend_pid(conn: Conn) -> int:
        return int(conn.execute("SELECT pg_backend_pid()").fetchone()[0])

    @app.post("/tx/{i}")
    def tx_insert(
        i: int, conn: Tx, fail_: str | None = fastapi.Query(None, alias="fail")
    ) -> dict[str, int]:
        conn.execute("INSERT INTO items VALUES (%s, 'tx')", (i,))
        fail(fail_)
        return {"id": i}

    @app.post("/plain/{i}")
    def plain_insert(i: int, conn: PlainTx) -> dict[str, int]:
        conn.execute("INSERT INTO items VALUES (%s, 'plain')", (i,))
        return {"id": i}

    @app.post("/conn/{i}")
    def conn_insert(
        i: int, conn: Conn, fail_: str | None = fastapi.Query(None, alias="fail")
    ) -> dict[str, int]:
        conn.execute("INSERT INTO items VALUES (%s, 'conn')", (i,))
        fail(fail_)
        return {"id": i}

    @app.post("/deferred/tx")
    def deferred_tx(conn: Tx) -> dict[str, bool]:
        conn.execute("INSERT INTO deferred VALUES (1), (1)")
        return {"ok": True}

    @app.post("/deferred/plain")
    def deferred_plain(conn: PlainTx) -> dict[str, bool]:
        conn.execute("INSERT INTO deferred VALUES (1), (1)")
        return {"ok": True}

    @app.post("/deferred/conn")
    def deferred_conn(conn: Conn) -> dict[str, bool]:
        conn.execute("INSERT INTO deferred VALUES (1), (1)")
        return {"ok": True}

    @app.get("/items")
    def items(conn: Conn) -> list[list[Any]]:
        return [list(row) for row in conn.execute("SELECT id, name FROM items ORDER BY id")]

    @app.get("/pids")
    def pids(conn: Conn, tx: PlainTx, sub: Annotated[int, Depends(backend_pid)]) -> dict[str, int]:
        return {
            "conn": conn.execute("SELECT pg_backend_pid()").fetchone()[0],
            "tx": tx.execute("SELECT pg_backend_pid()").fetchone()[0],
            "sub": sub,
        }

    return app


APPS = {"async_pool": async_app, "pool": sync_app}
