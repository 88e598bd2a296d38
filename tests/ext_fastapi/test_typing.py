"""The dependencies keep their types: mypy --strict and pyright both check this module.

``assert_type`` is a no-op at runtime; the checkers fail ``nox -s typecheck`` when a
dependency's type changes. The runtime tests prove the annotations FastAPI reads are the
same types, and that a route declared with them works.
"""

# No "from __future__ import annotations": FastAPI must see the route's annotations.

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Annotated, Any, get_type_hints

from fastapi import Depends, FastAPI
from psycopg import AsyncConnection, Connection
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool, ConnectionPool
from typing_extensions import assert_type

from pgmonkey_fastapi import PGMonkeyFastAPI

from .conftest import Database, TestClient

AsyncConn = AsyncConnection[TupleRow]
SyncConn = Connection[TupleRow]

CONFIG = {"connection_type": "async_pool", "connection_settings": {"host": "h", "dbname": "d"}}
TWO = {"default": CONFIG, "replica": CONFIG}


def check_async_types(pg: PGMonkeyFastAPI[AsyncConn]) -> None:
    """What checkers see on an ``async_pool`` instance (the default)."""
    assert_type(pg.connection, Callable[..., AsyncIterator[AsyncConn]])
    assert_type(pg.transaction, Callable[..., AsyncIterator[AsyncConn]])
    assert_type(pg.pool, Callable[..., Awaitable[AsyncConnectionPool[AsyncConn]]])
    assert_type(pg.connection_for("replica"), Callable[..., AsyncIterator[AsyncConn]])
    assert_type(pg.transaction_for("replica"), Callable[..., AsyncIterator[AsyncConn]])
    assert_type(pg.pool_for("replica"), Callable[..., Awaitable[AsyncConnectionPool[AsyncConn]]])


def check_sync_types(pg: PGMonkeyFastAPI[SyncConn]) -> None:
    """What checkers see on a ``pool`` instance (sync dependencies for ``def`` routes)."""
    assert_type(pg.connection, Callable[..., Iterator[SyncConn]])
    assert_type(pg.transaction, Callable[..., Iterator[SyncConn]])
    assert_type(pg.pool, Callable[..., Awaitable[ConnectionPool[SyncConn]]])
    assert_type(pg.connection_for("replica"), Callable[..., Iterator[SyncConn]])
    assert_type(pg.transaction_for("replica"), Callable[..., Iterator[SyncConn]])
    assert_type(pg.pool_for("replica"), Callable[..., Awaitable[ConnectionPool[SyncConn]]])


def test_the_constructor_picks_the_connection_type() -> None:
    """``connection_type``'s literal selects the type argument; the default is async."""
    assert_type(PGMonkeyFastAPI(CONFIG), PGMonkeyFastAPI[AsyncConn])
    assert_type(PGMonkeyFastAPI(CONFIG, "async_pool"), PGMonkeyFastAPI[AsyncConn])
    assert_type(PGMonkeyFastAPI(CONFIG, "pool"), PGMonkeyFastAPI[SyncConn])
    assert_type(PGMonkeyFastAPI(CONFIG, connection_type="pool"), PGMonkeyFastAPI[SyncConn])
    check_async_types(PGMonkeyFastAPI(TWO))
    check_sync_types(PGMonkeyFastAPI(TWO, "pool"))
    bare: PGMonkeyFastAPI = PGMonkeyFastAPI(TWO)  # no type argument: the async default
    check_async_types(bare)


def _return_type(func: Callable[..., object]) -> object:
    return get_type_hints(func)["return"]


def test_fastapi_reads_the_same_types_at_runtime() -> None:
    pg = PGMonkeyFastAPI(TWO)
    assert _return_type(pg.connection) == AsyncIterator[AsyncConn]
    assert _return_type(pg.transaction_for("replica")) == AsyncIterator[AsyncConn]
    assert _return_type(pg.pool) == AsyncConnectionPool[AsyncConn]
    assert inspect.isasyncgenfunction(pg.connection)
    sync = PGMonkeyFastAPI(CONFIG, "pool")
    assert _return_type(sync.connection) == Iterator[SyncConn]
    assert _return_type(sync.transaction) == Iterator[SyncConn]
    assert _return_type(sync.pool) == ConnectionPool[SyncConn]
    assert inspect.isgeneratorfunction(sync.transaction)


def test_the_documented_aliases_serve_a_route(db: Database) -> None:
    """Routes annotated with the types the dependencies declare."""
    pg = PGMonkeyFastAPI(db.config)
    app = FastAPI()
    pg.init_app(app)

    @app.post("/items/{i}")
    async def add(i: int, conn: Annotated[AsyncConn, pg.depends_transaction()]) -> int:
        await conn.execute("INSERT INTO items VALUES (%s, 'typed')", (i,))
        return i

    @app.get("/items")
    async def items(
        conn: Annotated[AsyncConn, Depends(pg.connection)],
        pool: Annotated[AsyncConnectionPool[AsyncConn], Depends(pg.pool)],
    ) -> dict[str, Any]:
        cur = await conn.execute("SELECT id, name FROM items ORDER BY id")
        rows = await cur.fetchall()
        assert_type(rows, list[TupleRow])
        return {"rows": [list(row) for row in rows], "pool": pool.name}

    with TestClient(app) as client:
        assert client.post("/items/7").json() == 7
        assert client.get("/items").json() == {"rows": [[7, "typed"]], "pool": "pgmonkey.default"}
    assert db.items() == [(7, "typed")]
