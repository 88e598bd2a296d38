"""The two async connection types, from the same configuration file."""

import asyncio

from pgmonkey import PGConnectionManager


async def main() -> None:
    async with PGConnectionManager() as manager:  # closes what it opened at the end
        conn = await manager.get_database_connection("config.yaml", "async")
        async with conn as c:  # a psycopg.AsyncConnection
            cur = await c.execute("SELECT current_database()")
            print("database:", (await cur.fetchone())[0])

        pool = await manager.get_database_connection("config.yaml", "async_pool")

        async def one_query(n: int) -> int:
            async with pool as c:  # each task borrows its own connection
                cur = await c.execute("SELECT %s::int * 2", [n])
                return (await cur.fetchone())[0]

        print("doubled:", await asyncio.gather(*(one_query(n) for n in range(5))))


asyncio.run(main())
