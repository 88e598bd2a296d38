import os

from django.db import connection
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
