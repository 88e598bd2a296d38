"""A worker that stops cleanly on SIGTERM: the running job finishes, then the pool closes."""

import os
import signal
import threading

from pgmonkey import PGConnectionManager

# Python's default for SIGTERM (systemd, Kubernetes, supervisord, `docker stop`) is to die at
# once, in the middle of a transaction. Turn it into "stop after the current job" instead.
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())

pool = PGConnectionManager().get_database_connection("config.yaml", "pool")
with pool as conn:
    conn.execute("CREATE TABLE IF NOT EXISTS jobs (n int)")

done = 0
while not stop.is_set():
    with pool as conn:  # one job, one transaction: committed when the block ends
        conn.execute("INSERT INTO jobs VALUES (%s)", [done])
        if done == 2:  # in this example the process sends itself what a supervisor sends
            os.kill(os.getpid(), signal.SIGTERM)
        conn.execute("SELECT pg_sleep(0.1)")  # the job goes on after the signal
    done += 1

with pool as conn:
    print("jobs done:", done)
    print("committed:", conn.execute("SELECT count(*) FROM jobs").fetchone()[0])
# The program ends normally: pgmonkey closes the pool, and every connection says goodbye to
# the server (no "unexpected EOF on client connection" in the server log).
