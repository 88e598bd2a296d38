"""Fork-safety scenario, run in a fresh interpreter by ``test_fork.py`` (not a test module).

Usage: ``python -m tests.ext_flask.forkcheck CONFIG_JSON`` prints one JSON line with what the
parent and its forked children saw. The parent opens its pool before forking (as
``gunicorn --preload`` does); each child must build its own pool, including when it needs
more connections than it inherited, and a child's ``pg.close()`` must not touch the parent's
sessions.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import warnings
from typing import Any

from flask import Flask

from pgmonkey_flask import PGMonkey

# Python >= 3.12 warns about fork() in a multi-threaded process: that is the point here.
warnings.simplefilter("ignore", DeprecationWarning)

pg = PGMonkey()


def backend(app: Flask) -> int:
    with app.app_context():
        [(pid,)] = pg.connection().execute("SELECT pg_backend_pid()").fetchall()
        return int(pid)


def child(app: Flask, write_fd: int, close_at_end: bool) -> None:
    result: dict[str, Any] = {"pid": os.getpid()}
    try:
        pids: list[int] = []
        barrier = threading.Barrier(3)

        def hold() -> None:
            with app.app_context():
                conn = pg.connection()
                [(pid,)] = conn.execute("SELECT pg_backend_pid()").fetchall()
                pids.append(int(pid))
                barrier.wait(timeout=20)  # three connections at once: more than inherited

        threads = [threading.Thread(target=hold) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        result["backends"] = pids
        result["pool_is_new"] = pg.pool(app=app) is not inherited
        if close_at_end:
            pg.close(app)
        result["ok"] = True
    except BaseException as exc:
        result["error"] = repr(exc)
    os.write(write_fd, json.dumps(result).encode())
    os._exit(0)


def run_child(app: Flask, close_at_end: bool) -> dict[str, Any]:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        child(app, write_fd, close_at_end)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as reader:
        data = reader.read()
    os.waitpid(pid, 0)
    return dict(json.loads(data))


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as fh:
        cfg = json.load(fh)
    app = Flask("forkcheck")
    app.config["PGMONKEY_CONFIG"] = cfg
    pg.init_app(app)
    parent_before = backend(app)
    inherited = pg.pool(app=app)
    children = [run_child(app, close_at_end=False), run_child(app, close_at_end=True)]
    parent_after = backend(app)
    out = {
        "parent_before": parent_before,
        "parent_after": parent_after,
        "parent_pool_same": pg.pool(app=app) is inherited,
        "children": children,
    }
    pg.close(app)
    print(json.dumps(out))
