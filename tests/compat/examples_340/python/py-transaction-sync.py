# Origin: pgmonkey 3.4.0 README.md (the PyPI long description, sdist pgmonkey-3.4.0.tar.gz),
# section "Transactions, Commit, and Rollback" ("Synchronous transaction"; the fragment runs
# with a normal connection from the manager).
# setup: CREATE TABLE my_table (id serial PRIMARY KEY, name text)
# check: SELECT id, name FROM my_table ORDER BY id
# id: py-transaction-sync
from pgmonkey import PGConnectionManager

connection = PGConnectionManager().get_database_connection('config.yaml', 'normal')

# Synchronous transaction
with connection as conn:
    with conn.transaction():
        with conn.cursor() as cur:
            cur.execute('INSERT INTO my_table (name) VALUES (%s)', ('Alice',))
            cur.execute('SELECT * FROM my_table WHERE name = %s', ('Alice',))
            print(cur.fetchall())
