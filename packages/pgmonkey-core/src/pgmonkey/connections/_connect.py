"""Opening plain connections and pools (sync): the building blocks under the wrapper types."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from pgmonkey import _metrics
from pgmonkey.config._redact import describe_target
from pgmonkey.connections._credentials import (
    pool_kwargs_param,
    require_sync_provider,
    resolve_credentials,
)
from pgmonkey.connections._params import (
    connect_error,
    connection_kwargs,
    normalised,
    plan_pool,
)
from pgmonkey.connections._pooled import PooledConnection, check_and_sweep, for_pool, watch
from pgmonkey.connections._pooler import check_for_pooler
from pgmonkey.connections._timed_pools import new_pool
from pgmonkey.connections._tls_files import refuse_special_tls_files

__all__ = ["connect", "open_pool"]

logger = logging.getLogger("pgmonkey.connections")


def connect(cfg: Mapping[str, Any], *, autocommit: bool | None = None) -> psycopg.Connection[Any]:
    """Open a new psycopg connection as a configuration describes.

    ``connection_settings`` (except ``autocommit``) become libpq parameters; ``sync_settings``
    are applied at session start, so they survive ``rollback()``.

    Args:
        cfg: A configuration (normalised by ``load_config``, or raw: it is normalised then).
        autocommit: Overrides ``connection_settings.autocommit`` when given.

    Returns:
        An open connection; the caller closes it.

    Raises:
        SessionSettingError: The server refused a ``sync_settings`` entry.
        DatabaseConnectionError: The server is unreachable or refused the login.
    """
    config = normalised(cfg)
    params, ac, settings = connection_kwargs(
        config, session="sync_settings", autocommit=autocommit
    )
    refuse_special_tls_files(params)
    params = resolve_credentials(params)
    try:
        conn = psycopg.connect(**params, autocommit=ac)
    except psycopg.OperationalError as exc:
        raise connect_error(exc, params, settings, "sync_settings") from exc
    check_for_pooler(conn, config, params)
    return conn


def open_pool(
    cfg: Mapping[str, Any], *, wait: bool = True, name: str | None = None, **overrides: Any
) -> ConnectionPool[Any]:
    """Create and open a psycopg_pool ``ConnectionPool`` as a configuration describes.

    The pool is built with ``open=False`` and opened explicitly. With ``wait=True`` one
    connection is made first, so a wrong password, an unreachable host or a refused session
    setting is reported at once (within ``connect_timeout``); then the pool waits for
    ``min_size`` connections within its ``timeout``.

    Args:
        cfg: A configuration (normalised by ``load_config``, or raw).
        wait: Check the server and wait for ``min_size`` connections before returning.
        name: The pool's name (default: ``pool_settings.name`` or psycopg_pool's).
        **overrides: psycopg_pool constructor arguments that win over ``pool_settings``
            (``check_on_checkout`` and ``metrics`` are understood too).

    Returns:
        The open pool; the caller closes it.

    Raises:
        SessionSettingError: The server refused a ``sync_settings`` entry.
        DatabaseConnectionError: The pool could not be opened.
    """
    plan = plan_pool(
        cfg,
        asynchronous=False,
        name=name,
        overrides=overrides,
        check_connection=check_and_sweep,
    )
    refuse_special_tls_files(plan.params)
    require_sync_provider(plan.params)
    metrics = _metrics.attach(plan.metrics)
    if wait:
        probe_params = resolve_credentials(plan.probe_params)
        try:
            probe = psycopg.connect(**probe_params, autocommit=True)
        except psycopg.OperationalError as exc:
            raise plan.connect_error(exc, probe_params) from exc
        with probe:
            check_for_pooler(probe, plan.config, plan.params)
    connection_class = for_pool(PooledConnection, metrics)
    pool = new_pool(
        metrics,
        conninfo="",
        kwargs=pool_kwargs_param(plan.kwargs, asynchronous=False),
        open=False,
        connection_class=connection_class,
        **plan.pool_kwargs,
    )
    watch(connection_class, pool)
    try:
        pool.open(wait=wait, timeout=plan.timeout)
    except PoolTimeout:
        pool.close()
        raise plan.open_timeout_error(pool.name, pool.min_size) from None
    logger.debug("opened pool %r (%s)", pool.name, describe_target(plan.params))
    return pool
