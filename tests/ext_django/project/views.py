import os

from django.db import DatabaseError, connection, connections, router, transaction
from django.http import HttpRequest, JsonResponse

from tests.ext_django.project.models import Item


def _session() -> dict[str, object]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_backend_pid(), current_setting('statement_timeout'), "
            "current_setting('search_path')"
        )
        pid, statement_timeout, search_path = cursor.fetchone()
    return {
        "backend": pid,
        "statement_timeout": statement_timeout,
        "search_path": search_path,
        "worker": os.getpid(),
    }


def info(request: HttpRequest) -> JsonResponse:
    return JsonResponse({**_session(), "items": Item.objects.count()})


def create(request: HttpRequest) -> JsonResponse:
    item = Item.objects.create(name=request.GET.get("name", "item"))
    if request.GET.get("fail"):
        raise RuntimeError("the view failed after writing")
    return JsonResponse({"id": item.pk, **_session()})


def _server(alias: str) -> dict[str, object]:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery(), inet_server_port()")
        in_recovery, port = cursor.fetchone()
    return {"alias": alias, "in_recovery": in_recovery, "port": port}


def replica_read(request: HttpRequest) -> JsonResponse:
    """Reads through whatever the router picks for reads."""
    names = list(Item.objects.order_by("id").values_list("name", flat=True))
    return JsonResponse({"names": names, **_server(router.db_for_read(Item))})


def replica_write(request: HttpRequest) -> JsonResponse:
    """Writes through whatever the router picks for writes (or ``?using=``)."""
    using = request.GET.get("using")
    manager = Item.objects.using(using) if using else Item.objects
    try:
        item = manager.create(name=request.GET.get("name", "item"))
    except DatabaseError as exc:
        return JsonResponse(
            {
                "error": type(exc).__name__,
                "sqlstate": getattr(exc.__cause__, "sqlstate", None),
                "message": str(exc).strip(),
            }
        )
    return JsonResponse({"id": item.pk, **_server(item._state.db or "")})


def drain_ready(request: HttpRequest) -> JsonResponse:
    """Touches the alias ``?db=`` (the graceful drain tests)."""
    with connections[request.GET.get("db", "default")].cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"worker": os.getpid()})


def drain_slow(request: HttpRequest, name: str) -> JsonResponse:
    """Writes ``name`` to ``drained`` and sleeps in the same transaction (alias ``?db=``)."""
    alias = request.GET.get("db", "default")
    with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        cursor.execute("INSERT INTO drained (name) VALUES (%s)", [name])
        cursor.execute("SELECT pg_sleep(1.5)")
    return JsonResponse({"worker": os.getpid()})
