"""Two managers share one cached pool; clearing one does not close the other's pool."""

from pgmonkey import PGConnectionManager

m1, m2 = PGConnectionManager(), PGConnectionManager()
p1 = m1.get_database_connection("config.yaml", "pool")
p2 = m2.get_database_connection("config.yaml", "pool")
print("same pool:", p1 is p2)

m2.clear_cache()  # m2 lets go; m1 still holds the pool, so it stays open
with p1 as conn:
    print("still works:", conn.execute("SELECT 1").fetchone()[0] == 1)

m1.clear_cache()  # the last holder lets go: the pool is closed
print("closed:", p1.closed)
