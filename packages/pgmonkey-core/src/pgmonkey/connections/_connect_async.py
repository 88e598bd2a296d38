"""Opening plain connections and pools (async): the building blocks under the wrapper types."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from pgmonkey import _metrics
from pgmonkey.config._redact import describe_target
from pgmonkey.connections._credentials import (
    pool_kwargs_param,
    resolve_credentials_async,
)
from pgmonkey.connections._params import (
    connect_error,
    connection_kwargs,
    normalised,
    plan_pool,
)
from pgmonkey.connections._pooled import (
    AsyncPooledConnection,
    check_and_sweep_async,
    for_pool,
    watch,
)
from pgmonkey.connections._pooler import check_for_pooler_async
from pgmonkey.connections._timed_pools import new_async_pool
from pgmonkey.connections._tls_files import refuse_special_tls_files

__all__ = ["connect_async", "open_async_pool"]

logger = logging.getLogger("pgmonkey.connections")


async def connect_async(
    cfg: Mapping[str, Any], *, autocommit: bool | None = None
) -> psycopg.AsyncConnection[Any]:
    """Open a new psycopg ``AsyncConnection`` as a configuration describes.

    ``connection_settings`` (except ``autocommit``) become libpq parameters; ``async_settings``
    are applied at session start, so they survive ``rollback()``.

    Args:
        cfg: A configuration (normalised by ``load_config``, or raw: it is normalised then).
        autocommit: Overrides ``connection_settings.autocommit`` when given.

    Returns:
        An open connection; the caller closes it.

    Raises:
        SessionSettingError: The server refused an ``async_settings`` entry.
        DatabaseConnectionError: The server is unreachable or refused the login.
    """
    config = normalised(cfg)
    params, ac, settings = connection_kwargs(
        config, session="async_settings", autocommit=autocommit
    )
    refuse_special_tls_files(params)
    params = await resolve_credentials_async(params)
    try:
        conn = await psycopg.AsyncConnection.connect(**params, autocommit=ac)
    except psycopg.OperationalError as exc:
        raise connect_error(exc, params, settings, "async_settings") from exc
    await check_for_pooler_async(conn, config, params)
    return conn


async def open_async_pool(
    cfg: Mapping[str, Any], *, wait: bool = True, name: str | None = None, **overrides: Any
) -> AsyncConnectionPool[Any]:
    """Create and open a psycopg_pool ``AsyncConnectionPool`` as a configuration describes.

    The async twin of :func:`pgmonkey.connections.open_pool`, using ``async_pool_settings``
    and ``async_settings``. The pool belongs to the running event loop.

    Args:
        cfg: A configuration (normalised by ``load_config``, or raw).
        wait: Check the server and wait for ``min_size`` connections before returning.
        name: The pool's name (default: ``async_pool_settings.name`` or psycopg_pool's).
        **overrides: psycopg_pool constructor arguments that win over ``async_pool_settings``
            (``check_on_checkout`` and ``metrics`` are understood too).

    Returns:
        The open pool; the caller closes it (``await pool.close()``).

    Raises:
        SessionSettingError: The server refused an ``async_settings`` entry.
        DatabaseConnectionError: The pool could not be opened.
    """
    plan = plan_pool(
        cfg,
        asynchronous=True,
        name=name,
        overrides=overrides,
        check_connection=check_and_sweep_async,
    )
    refuse_special_tls_files(plan.params)
    metrics = _metrics.attach(plan.metrics)
    if wait:
        probe_params = await resolve_credentials_async(plan.probe_params)
        try:
            probe = await psycopg.AsyncConnection.connect(**probe_params, autocommit=True)
        except psycopg.OperationalError as exc:
            raise plan.connect_error(exc, probe_params) from exc
        async with probe:
            await check_for_pooler_async(probe, plan.config, plan.params)
    connection_class = for_pool(AsyncPooledConnection, metrics)
    pool = new_async_pool(
        metrics,
        conninfo="",
        kwargs=pool_kwargs_param(plan.kwargs, asynchronous=True),
        open=False,
        connection_class=connection_class,
        **plan.pool_kwargs,
    )
    watch(connection_class, pool)
    try:
        await pool.open(wait=wait, timeout=plan.timeout)
    except PoolTimeout:
        await pool.close()
        raise plan.open_timeout_error(pool.name, pool.min_size) from None
    logger.debug("opened async pool %r (%s)", pool.name, describe_target(plan.params))
    return pool
