"""The two sync connection types, from one configuration file."""

from pgmonkey import PGConnectionManager

manager = PGConnectionManager()

# normal: one connection. The with-block yields a psycopg.Connection and commits at the end.
conn = manager.get_database_connection("config.yaml", "normal")
with conn as c:
    c.execute("CREATE TABLE IF NOT EXISTS visits (id serial PRIMARY KEY, page text)")
    c.execute("INSERT INTO visits (page) VALUES (%s)", ["/home"])

# pool: each with-block borrows a connection from the pool and gives it back.
pool = manager.get_database_connection("config.yaml", "pool")
with pool as c:
    print("visits:", c.execute("SELECT count(*) FROM visits").fetchone()[0])

# An exception inside the block rolls back and propagates.
try:
    with pool as c:
        c.execute("INSERT INTO visits (page) VALUES (%s)", ["/lost"])
        raise RuntimeError("something went wrong")
except RuntimeError:
    pass
with pool as c:
    print("still:", c.execute("SELECT count(*) FROM visits").fetchone()[0])
