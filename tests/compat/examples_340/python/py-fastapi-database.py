# Origin: pgmonkey 3.4.0 README.md (the PyPI long description, sdist pgmonkey-3.4.0.tar.gz),
# section "App-Level Pattern: Async Database Class (FastAPI)". The class is verbatim; the
# FastAPI wiring is replaced by its startup, one request and shutdown, with TWO instances
# (an application with two database objects, or a library using the pattern too): the
# second one's disconnect() must not break the first.
# setup: CREATE TABLE orders (id int, total numeric); INSERT INTO orders VALUES (1, 9.5), (2, 20)
# id: py-fastapi-database
# config: cfg-standard (no async_settings, which 3.4.0 could not apply, see py-async)
import asyncio
from pgmonkey import PGConnectionManager

class AsyncDatabase:
    def __init__(self, config_path):
        self.manager = PGConnectionManager()
        self.config_path = config_path
        self.pool = None

    async def connect(self):
        self.pool = await self.manager.get_database_connection(
            self.config_path, 'async_pool'
        )

    async def disconnect(self):
        await self.manager.clear_cache_async()

    async def fetch_one(self, query, params=None):
        async with self.pool as conn:
            async with conn.cursor() as cur:
                await cur.execute(query, params)
                return await cur.fetchone()

    async def fetch_all(self, query, params=None):
        async with self.pool as conn:
            async with conn.cursor() as cur:
                await cur.execute(query, params)
                return await cur.fetchall()

    async def execute(self, query, params=None):
        async with self.pool as conn:
            async with conn.cursor() as cur:
                await cur.execute(query, params)

async def main():
    db = AsyncDatabase('config.yaml')
    reports = AsyncDatabase('config.yaml')
    await db.connect()        # @app.on_event("startup")
    await reports.connect()
    await reports.disconnect()
    rows = await db.fetch_all('SELECT id, total FROM orders ORDER BY id;')  # GET /orders
    print({"orders": [{"id": r[0], "total": str(r[1])} for r in rows]})
    await db.disconnect()     # @app.on_event("shutdown")

asyncio.run(main())
