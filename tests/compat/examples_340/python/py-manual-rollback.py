# Origin: pgmonkey 3.4.0 README.md (the PyPI long description, sdist pgmonkey-3.4.0.tar.gz),
# section "Transactions, Commit, and Rollback" ("Manual rollback on error"; inside
# "async def main()" with an async connection from the manager).
# setup: CREATE TABLE my_table (id serial PRIMARY KEY, name text); INSERT INTO my_table (name) VALUES ('Bob')
# check: SELECT id, name FROM my_table ORDER BY id
# id: py-manual-rollback
import asyncio

from pgmonkey import PGConnectionManager


async def main():
    connection = await PGConnectionManager().get_database_connection('config.yaml', 'async')

    # Manual rollback on error
    try:
        async with connection as conn:
            async with conn.cursor() as cur:
                await cur.execute('DELETE FROM my_table WHERE id = %s', (1,))
            await conn.commit()
    except Exception as e:
        await conn.rollback()


asyncio.run(main())
