"""Nested blocks: a savepoint on normal, a second connection on pool."""

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
            with db as inner:
                seen = inner.execute("SELECT count(*) FROM events").fetchone()[0]
                inner.execute("INSERT INTO events VALUES ('inner')")
                raise ValueError("the inner block fails")
        except ValueError:
            pass
    with db as c:
        kept = [name for (name,) in c.execute("SELECT name FROM events")]
    print(f"{connection_type}: the inner block saw {seen} row(s); kept {kept}")
manager.clear_cache()
