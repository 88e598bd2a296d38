"""Writes through Django's test client in a loop until stdin closes; one JSON line per request.

Run by tests/ha/test_clients.py with a pgmonkey configuration (JSON) as the only argument.
Django is configured here, in a process of its own, from that configuration through
``pgmonkey_django.database_config``.
"""

from __future__ import annotations

import json
import os
import select
import sys
import time
from itertools import count
from typing import Any

import django
from django.conf import settings
from django.db import close_old_connections, connection
from django.http import HttpRequest, JsonResponse
from django.test import Client
from django.urls import path

from pgmonkey_django import database_config

INSERT = "INSERT INTO ha_log (id) VALUES (%s) RETURNING inet_server_port()"


def write(request: HttpRequest, ident: int) -> JsonResponse:
    with connection.cursor() as cur:  # autocommit: committed when execute returns
        cur.execute(INSERT, [ident])
        row = cur.fetchone()
    return JsonResponse({"port": row[0]})


urlpatterns = [path("write/<int:ident>/", write)]


def main(config: dict[str, Any]) -> None:
    settings.configure(
        DATABASES={"default": database_config(config)},
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["*"],
        USE_TZ=True,
        DEBUG=False,
    )
    django.setup()
    client = Client()  # a failing view raises its exception here
    stdin = sys.stdin.fileno()
    for ident in count(1_000_000_000):
        if select.select([stdin], [], [], 0)[0] and not os.read(stdin, 1):
            return  # stdin closed: the test is done
        started = time.monotonic()
        try:
            response = client.post(f"/write/{ident}/")
            if response.status_code != 200:
                raise RuntimeError(f"HTTP {response.status_code}")
            op = {"port": response.json()["port"], "ident": ident}
        except Exception as exc:
            op = {"port": None, "error": f"{type(exc).__name__}: {exc}"}
            time.sleep(0.02)
        # What Django's handlers do at the end of every request (its test client does not):
        # a connection that failed goes back to the pool or is closed.
        close_old_connections()
        record = {"kind": "write", "started": started, "ended": time.monotonic(), **op}
        print(json.dumps(record), flush=True)
        time.sleep(0.005)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
