"""The Django ORM through a real PgBouncer in transaction mode (``pooler: pgbouncer``).

The entry comes from a pgmonkey configuration with ``pooler: pgbouncer``: no Django pool,
server-side cursors off, no prepared statements. Eight threads, each with its own Django
connection to PgBouncer, run a mix of ORM queries (inserts, filters, counts, ``iterator()``,
``atomic()`` blocks, raw parameterised SQL) that PgBouncer spreads over its server
connections; not a single one may fail.
"""

from __future__ import annotations

import threading
from typing import Any

from pgmonkey.testing import PgBouncer
from pgmonkey_django import database_config
from tests.ext_django.conftest import Project, extra_databases

THREADS = 8
ROUNDS = 40
APP = "pgm-django-bouncer"


def bouncer_entry(bouncer: PgBouncer, dbname: str) -> Any:
    cfg = bouncer.config(dbname=dbname, connection_type="pool", application_name=APP)
    cfg["pooler"] = "pgbouncer"
    cfg["pool_settings"] = {"max_lifetime": 300, "check_on_checkout": True}
    return database_config(cfg)


def worker(number: int, errors: list[BaseException], counts: list[int]) -> None:
    from django.db import connections, transaction

    from tests.ext_django.project.models import Item

    items = Item.objects.using("bouncer")
    done = 0
    try:
        for i in range(ROUNDS):
            name = f"bouncer-{number}-{i}"
            item = items.create(name=name)
            assert items.get(pk=item.pk).name == name
            assert items.filter(name__startswith=f"bouncer-{number}-").count() == i + 1
            assert sum(1 for _ in items.filter(name=name).iterator(chunk_size=10)) == 1
            with transaction.atomic(using="bouncer"):
                items.filter(pk=item.pk).update(name=name + "!")
                assert items.get(pk=item.pk).name == name + "!"
            with connections["bouncer"].cursor() as cursor:
                cursor.execute("SELECT %s::int + %s::int", [number, i])
                assert cursor.fetchone() == (number + i,)
            done += 7
    except BaseException as exc:  # collected and asserted by the test
        errors.append(exc)
    finally:
        counts.append(done)
        connections.close_all()


def test_orm_through_transaction_mode_pgbouncer(
    django_project: Project, pg_bouncer: PgBouncer
) -> None:
    entry = bouncer_entry(pg_bouncer, django_project.dbname)
    assert "pool" not in entry["OPTIONS"]
    assert entry["DISABLE_SERVER_SIDE_CURSORS"] is True
    errors: list[BaseException] = []
    counts: list[int] = []
    with extra_databases({"bouncer": entry}):
        from django.db import connections

        with connections["bouncer"].cursor() as cursor:
            cursor.execute("SELECT inet_server_port()")
            assert cursor.fetchone() == (django_project.server.port,)
        assert connections["bouncer"].connection.info.port == pg_bouncer.port
        threads = [
            threading.Thread(target=worker, args=(n, errors, counts)) for n in range(THREADS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert sum(counts) == THREADS * ROUNDS * 7
    pools = [p for p in pg_bouncer.show("POOLS") if p["database"] == django_project.dbname]
    assert [p["pool_mode"] for p in pools] == ["transaction"]
    rows = django_project.server.execute(
        "DELETE FROM pgmdjproject_item WHERE name LIKE 'bouncer-%' RETURNING 1",
        dbname=django_project.dbname,
    )
    assert len(rows) == THREADS * ROUNDS
