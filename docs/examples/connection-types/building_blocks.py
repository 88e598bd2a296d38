"""The building blocks: a new connection or pool, closed by the caller."""

import asyncio

from pgmonkey import load_config
from pgmonkey.connections import connect, connect_async, open_async_pool, open_pool

cfg = load_config("config.yaml")

with connect(cfg) as conn:  # a psycopg.Connection, closed at the end of the block
    print("connect:", conn.execute("SELECT 1").fetchone())

with open_pool(cfg) as pool:  # a psycopg_pool.ConnectionPool, already open
    with pool.connection() as conn:
        print("open_pool:", conn.execute("SELECT 2").fetchone())


async def main() -> None:
    async with await connect_async(cfg) as conn:
        cur = await conn.execute("SELECT 3")
        print("connect_async:", await cur.fetchone())
    async with await open_async_pool(cfg) as pool:
        async with pool.connection() as conn:
            cur = await conn.execute("SELECT 4")
            print("open_async_pool:", await cur.fetchone())


asyncio.run(main())
