# Origin: pgmonkey 3.4.0 README.md (the PyPI long description, sdist pgmonkey-3.4.0.tar.gz),
# section "One Config File, All Connection Types". The fragment uses top-level await: it runs
# inside "async def main()" here (adapted). id: py-all-types
import asyncio

from pgmonkey import PGConnectionManager


async def main():
    manager = PGConnectionManager()

    # Same config file, different connection types
    conn = manager.get_database_connection('config.yaml', 'normal')
    conn = manager.get_database_connection('config.yaml', 'pool')
    conn = await manager.get_database_connection('config.yaml', 'async')
    conn = await manager.get_database_connection('config.yaml', 'async_pool')
    print(type(conn).__name__ != '')


asyncio.run(main())
