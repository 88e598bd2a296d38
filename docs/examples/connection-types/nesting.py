"""A failing inner block never loses the outer block's work."""

from pgmonkey import PGConnectionManager

manager = PGConnectionManager()
for connection_type in ("normal", "pool"):
    db = manager.get_database_connection("config.yaml", connection_type)
    with db as c:
        c.execute("CREATE TABLE IF NOT EXISTS events (name text)")
        c.execute("TRUNCATE events")
    with db as outer:
        outer.execute("INSERT INTO events VALUES ('outer')")
        try:
            with db as inner:  # the same connection, inside a savepoint
                inner.execute("INSERT INTO events VALUES ('inner')")
                raise ValueError("the inner block fails")
        except ValueError:
            pass
    with db as c:
        rows = c.execute("SELECT name FROM events").fetchall()
        print(f"{connection_type}: {rows}")
manager.clear_cache()
