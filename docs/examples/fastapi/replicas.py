"""Writes on the primary (config.yaml), reads on a replica (replica.yaml)."""

from typing import Annotated

from fastapi import Depends, FastAPI
from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from pgmonkey_fastapi import PGMonkeyFastAPI

pg = PGMonkeyFastAPI({"default": "config.yaml", "replica": "replica.yaml"})
app = FastAPI()
pg.init_app(app)

Tx = Annotated[AsyncConnection[TupleRow], pg.depends_transaction()]  # on the primary
Replica = Annotated[AsyncConnection[TupleRow], Depends(pg.connection_for("replica"))]


@app.post("/notes/{text}", status_code=201)
async def add_note(text: str, conn: Tx) -> dict[str, bool]:
    await conn.execute("INSERT INTO notes (text) VALUES (%s)", [text])
    return {"ok": True}


@app.get("/notes")
async def list_notes(conn: Replica) -> dict[str, list[str]]:
    cur = await conn.execute("SELECT text FROM notes ORDER BY id")
    return {"notes": [text for (text,) in await cur.fetchall()]}
