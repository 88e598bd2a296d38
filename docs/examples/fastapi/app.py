"""A FastAPI app whose database is described by config.yaml."""

from typing import Annotated

from fastapi import Depends, FastAPI
from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from pydantic import BaseModel

from pgmonkey_fastapi import PGMonkeyFastAPI

pg = PGMonkeyFastAPI("config.yaml")  # pools are opened by the app's lifespan, not here
app = FastAPI()
pg.init_app(app)  # lifespan + commit before the response is sent

Conn = Annotated[AsyncConnection[TupleRow], Depends(pg.connection)]
Tx = Annotated[AsyncConnection[TupleRow], pg.depends_transaction()]


class Note(BaseModel):
    text: str


@app.post("/notes", status_code=201)
async def add_note(note: Note, conn: Tx) -> dict[str, int]:
    cur = await conn.execute("INSERT INTO notes (text) VALUES (%s) RETURNING id", [note.text])
    row = await cur.fetchone()
    return {"id": row[0]}


@app.get("/notes")
async def list_notes(conn: Conn) -> list[dict[str, object]]:
    cur = await conn.execute("SELECT id, text FROM notes ORDER BY id")
    return [{"id": id_, "text": text} for id_, text in await cur.fetchall()]
