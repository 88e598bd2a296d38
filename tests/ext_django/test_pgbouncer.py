"""The Django ORM through a real PgBouncer in transaction mode (``pooler: pgbouncer``).

The entry comes from a pgmonkey configuration with ``pooler: pgbouncer``: no Django pool,
server-side cursors off, no prepared statements. Eight threads, each with its own Django
connection to PgBouncer, run a mix of ORM queries (inserts, filters, counts, ``iterator()``,
``atomic()`` blocks, raw parameterised SQL) that PgBouncer spreads over its server
connections; not a single one may fail.
"""

from __future__ import annotations

import secrets
import threading
from typing import Any

import psycopg

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


def test_isolation_level_and_time_zone_through_transaction_mode_pgbouncer(
    django_project: Project, pg_bouncer: PgBouncer
) -> None:
    """What the Django guide promises behind PgBouncer, on a database whose default differs.

    The database's own time zone is Asia/Tokyo and its isolation level read committed: every
    ``atomic()`` block, whichever server connection PgBouncer lends it, must run serializable
    and in Django's UTC.
    """
    server = django_project.server
    dbname = f"pgm_tz_{secrets.token_hex(3)}"
    server.create_database(dbname)
    server.execute(f"ALTER DATABASE {dbname} SET timezone = 'Asia/Tokyo'")
    try:
        cfg = pg_bouncer.config(dbname=dbname, application_name=APP)
        with psycopg.connect(**cfg["connection_settings"]) as plain:  # the control
            assert plain.execute("SHOW TimeZone").fetchone() == ("Asia/Tokyo",)
        cfg["pooler"] = "pgbouncer"
        entry = database_config(cfg, isolation_level="serializable")
        seen: list[tuple[Any, ...]] = []
        errors: list[BaseException] = []
        all_in_a_transaction = threading.Barrier(THREADS, timeout=30)

        def probe() -> None:
            from django.db import connections, transaction

            try:
                for round_ in range(ROUNDS):
                    with transaction.atomic(using="tz"), connections["tz"].cursor() as cursor:
                        cursor.execute(
                            "SELECT current_setting('transaction_isolation'), "
                            "current_setting('TimeZone'), pg_backend_pid()"
                        )
                        seen.append(cursor.fetchone())
                        if round_ == 0:  # PgBouncer must lend THREADS server connections
                            all_in_a_transaction.wait()
            except BaseException as exc:  # collected and asserted by the test
                errors.append(exc)
            finally:
                connections.close_all()

        with extra_databases({"tz": entry}):
            threads = [threading.Thread(target=probe) for _ in range(THREADS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        assert errors == []
        assert len(seen) == THREADS * ROUNDS
        assert {(isolation, zone) for isolation, zone, _ in seen} == {("serializable", "UTC")}
        assert len({pid for _, _, pid in seen}) >= THREADS
    finally:
        server.drop_database(dbname)
