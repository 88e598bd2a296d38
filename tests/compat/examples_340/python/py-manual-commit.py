# Origin: pgmonkey 3.4.0 README.md (the PyPI long description, sdist pgmonkey-3.4.0.tar.gz),
# section "Transactions, Commit, and Rollback" ("Manual commit"; inside "async def main()"
# with an async_pool connection from the manager).
# setup: CREATE TABLE my_table (id serial PRIMARY KEY, name text); INSERT INTO my_table (name) VALUES ('Bob')
# check: SELECT id, name FROM my_table ORDER BY id
# id: py-manual-commit
import asyncio

from pgmonkey import PGConnectionManager


async def main():
    connection = await PGConnectionManager().get_database_connection('config.yaml', 'async_pool')

    # Manual commit
    async with connection as conn:
        async with conn.cursor() as cur:
            await cur.execute('UPDATE my_table SET name = %s WHERE id = %s', ('Doe', 1))
        await conn.commit()


asyncio.run(main())
