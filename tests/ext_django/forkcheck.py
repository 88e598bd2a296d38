"""Run by test_fork.py in a fresh interpreter: open a connection, fork, use it in both.

Prints one JSON object: the parent's backend pid before the fork, what the child saw
(its backend pid, or the error), and the parent's backend pid after the child finished.
``PGMONKEY_DJANGO_FORK_SAFETY`` (read by the project settings) decides whether the app
installs fork safety.
"""

from __future__ import annotations

import json
import os
import sys

import django


def backend_pid() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.ext_django.project.settings")
    django.setup()
    from django.db import connection

    from pgmonkey_django._fork import fork_safety_installed

    before = backend_pid()  # the connection (and Django's pool) now exist in the parent
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read_end)
        try:
            seen: dict[str, object] = {"backend": backend_pid()}
            connection.close()  # what the end of a request does
            seen["second_backend"] = backend_pid()
            connection.close()
        except Exception as exc:
            seen = {"error": f"{type(exc).__name__}: {exc}".splitlines()[0]}
        os.write(write_end, json.dumps(seen).encode())
        os._exit(0)
    os.close(write_end)
    os.waitpid(child, 0)
    with os.fdopen(read_end, "rb") as fh:
        child_seen = json.loads(fh.read() or b"{}")
    try:
        after: object = backend_pid()
    except Exception as exc:
        after = f"{type(exc).__name__}: {exc}".splitlines()[0]
    connection.close()
    result = {
        "fork_safety": fork_safety_installed(),
        "before": before,
        "child": child_seen,
        "after": after,
    }
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
