"""``/healthz`` and ``/readyz`` views for Django (include :mod:`pgmonkey_django.urls`).

``healthz`` answers ``200 {"status": "ok"}`` without touching the database. ``readyz``
checks one database alias (``"default"`` unless the URL pattern passes ``database``) within
``timeout`` seconds (default 2), and answers 200, or 503 with a ``reason``:

* with Django's native pool (Django >= 5.1, ``OPTIONS["pool"]``) it borrows a connection
  from that pool, runs ``SELECT 1`` and reports the pool's ``get_stats()`` as ``pool``;
* otherwise it runs ``SELECT 1`` on the alias's own Django connection (``connect_timeout``
  of the configuration bounds the connection attempt) and reports no ``pool``.

The JSON is the same as in the Flask and FastAPI extensions (see :mod:`pgmonkey.health`)::

    # urls.py
    from django.urls import include, path

    from pgmonkey_django import health

    urlpatterns = [
        path("", include("pgmonkey_django.urls")),          # /healthz and /readyz
        path("ops/replica/readyz", health.readyz, {"database": "replica", "timeout": 1}),
    ]

Neither view runs inside ``ATOMIC_REQUESTS`` transactions, whatever the alias.
"""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError, connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from pgmonkey.health import DEFAULT_TIMEOUT, Readiness, check_pool, liveness, unavailable

__all__ = ["healthz", "readyz"]


class _EveryAlias(frozenset[str]):
    """Contains every alias: Django then wraps the view in no ``ATOMIC_REQUESTS`` block."""

    def __contains__(self, alias: object) -> bool:
        return True


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: ``200 {"status": "ok"}``, no database access."""
    return JsonResponse(liveness())


@never_cache
@require_safe
def readyz(
    request: HttpRequest, database: str = "default", timeout: float = DEFAULT_TIMEOUT
) -> JsonResponse:
    """Readiness of the ``database`` alias: 200 when it answers ``SELECT 1``, else 503.

    Args:
        request: The request.
        database: The ``DATABASES`` alias to check (pass it in the URL pattern's kwargs).
        timeout: Seconds to wait for a pooled connection.
    """
    report = _readiness(database, timeout)
    return JsonResponse(report.as_json(), status=report.status_code)


readyz._non_atomic_requests = _EveryAlias()  # type: ignore[attr-defined]
healthz._non_atomic_requests = _EveryAlias()  # type: ignore[attr-defined]


def _readiness(alias: str, timeout: float) -> Readiness:
    wrapper = connections[alias]
    pool = getattr(wrapper, "pool", None)  # Django >= 5.1 with OPTIONS["pool"], else None
    if pool is not None:
        pool.open()  # as Django does before its first getconn(); no-op once open
        return check_pool(pool, database=alias, timeout=timeout)
    try:
        try:
            _select_one(wrapper)
        except DatabaseError:
            if wrapper.in_atomic_block:
                raise
            wrapper.close()  # a connection kept from before a server restart: try a new one
            _select_one(wrapper)
    except DatabaseError as exc:
        if not wrapper.in_atomic_block:
            wrapper.close()
        return unavailable(alias, exc.__cause__ or exc, timeout=timeout)
    return Readiness(True, alias)


def _select_one(wrapper: Any) -> None:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchall()
