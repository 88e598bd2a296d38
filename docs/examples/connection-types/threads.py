"""Many threads share one cached pool; each block borrows its own connection."""

from concurrent.futures import ThreadPoolExecutor

from pgmonkey import PGConnectionManager

manager = PGConnectionManager()


def work(n: int) -> int:
    # The same pool object in every thread: cached for the process.
    pool = manager.get_database_connection("config.yaml", "pool")
    with pool as conn:  # borrowed for this block only
        return conn.execute("SELECT %s::int * %s::int", [n, n]).fetchone()[0]


with ThreadPoolExecutor(max_workers=16) as executor:
    print("squares:", sum(executor.map(work, range(100))))
manager.clear_cache()
