# Origin: pgmonkey 3.4.0 README.md (the PyPI long description, sdist pgmonkey-3.4.0.tar.gz),
# section "Transactions, Commit, and Rollback" ("Asynchronous transaction"; the fragment runs
# inside "async def main()" with an async connection from the manager).
# setup: CREATE TABLE my_table (id serial PRIMARY KEY, name text)
# check: SELECT id, name FROM my_table ORDER BY id
# id: py-transaction-async
import asyncio

from pgmonkey import PGConnectionManager


async def main():
    connection = await PGConnectionManager().get_database_connection('config.yaml', 'async')

    # Asynchronous transaction
    async with connection as conn:
        async with conn.transaction():
            async with conn.cursor() as cur:
                await cur.execute('INSERT INTO my_table (name) VALUES (%s)', ('Alice',))
                await cur.execute('SELECT * FROM my_table WHERE name = %s', ('Alice',))
                print(await cur.fetchall())


asyncio.run(main())
