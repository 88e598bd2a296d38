"""``/healthz`` and ``/readyz`` as a FastAPI router (private; exported by the package)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import anyio.to_thread
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse

from pgmonkey.health import (
    DEFAULT_TIMEOUT,
    Readiness,
    check_async_pool,
    check_pool,
    liveness,
    unavailable,
)
from pgmonkey_fastapi._errors import PGMonkeyFastAPIError

if TYPE_CHECKING:
    from pgmonkey_fastapi._extension import PGMonkeyFastAPI

__all__ = ["health_router"]

_NO_STORE = {"Cache-Control": "no-store"}
_NOT_OPEN = "the pools are not open (the app's lifespan has not started or has ended)"


def health_router(
    pg: PGMonkeyFastAPI,
    *,
    database: str = "default",
    timeout: float = DEFAULT_TIMEOUT,
    prefix: str = "",
) -> APIRouter:
    """A router serving ``GET /healthz`` (liveness) and ``GET /readyz`` (readiness).

    ``/healthz`` answers ``200 {"status": "ok"}`` without touching the database. ``/readyz``
    borrows a connection of ``database`` from the pool the app's lifespan opened, runs
    ``SELECT 1`` and answers ``200`` with the pool's statistics, or ``503`` with
    ``{"status": "unavailable", "reason": ...}`` when no connection answered within
    ``timeout`` seconds (or the pools are not open). See :mod:`pgmonkey.health` for the JSON
    shape. Include it in an app whose lifespan is ``pg``'s::

        app.include_router(health_router(pg))

    Both routes are left out of the OpenAPI schema.

    Args:
        pg: The extension that opens the app's pools.
        database: The database to check (``"default"`` or another configured name).
        timeout: Seconds for borrowing a connection and running the query (default 2).
        prefix: A prefix for both paths, such as ``"/ops"``.

    Raises:
        PGMonkeyFastAPIError: ``database`` is not configured.
    """
    if database not in pg.names:
        raise PGMonkeyFastAPIError(
            f"unknown database {database!r}; configured: {', '.join(map(repr, pg.names))}"
        )
    router = APIRouter(prefix=prefix)

    @router.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse(liveness(), headers=_NO_STORE)

    @router.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        report = await _readiness(pg, request, database, timeout)
        return JSONResponse(report.as_json(), report.status_code, headers=_NO_STORE)

    return router


async def _readiness(
    pg: PGMonkeyFastAPI, request: Request, database: str, timeout: float
) -> Readiness:
    try:
        registry = pg._registry_for(request)
    except PGMonkeyFastAPIError as exc:  # no lifespan, or the app is shutting down
        return unavailable(database, exc, timeout=timeout, reason=_NOT_OPEN)
    pool = registry[database]  # the real pool, also under test isolation
    if registry.asynchronous:
        return await check_async_pool(pool, database=database, timeout=timeout)
    return await anyio.to_thread.run_sync(
        partial(check_pool, pool, database=database, timeout=timeout)
    )
