"""The FastAPI app of the HA tests: one route that inserts an id in a transaction."""

# No "from __future__ import annotations": FastAPI must see the Annotated alias.

from typing import Annotated, Any

from fastapi import FastAPI

from pgmonkey_fastapi import PGMonkeyFastAPI
from tests.ha._scenario import INSERT


def make_app(config: dict[str, Any]) -> FastAPI:
    """An app whose ``POST /write/{ident}`` commits the insert before it answers."""
    pg = PGMonkeyFastAPI(config)
    app = FastAPI()
    pg.init_app(app)
    Tx = Annotated[Any, pg.depends_transaction()]

    @app.post("/write/{ident}")
    async def write(ident: int, conn: Tx) -> dict[str, int]:
        cur = await conn.execute(INSERT, (ident,))
        row = await cur.fetchone()
        return {"port": row[0]}

    return app
