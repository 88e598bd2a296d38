"""Opening plain connections and pools (sync): the building blocks under the wrapper types."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from pgmonkey.connections._params import (
    connect_error,
    connection_kwargs,
    describe_target,
    normalised,
    pool_arguments,
)
from pgmonkey.connections._pooler import check_for_pooler
from pgmonkey.errors import DatabaseConnectionError

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
            (``check_on_checkout`` is understood too).

    Returns:
        The open pool; the caller closes it.

    Raises:
        SessionSettingError: The server refused a ``sync_settings`` entry.
        DatabaseConnectionError: The pool could not be opened.
    """
    config = normalised(cfg)
    params, ac, settings = connection_kwargs(config, session="sync_settings")
    pool_kwargs, check = pool_arguments(
        config, section="pool_settings", name=name, overrides=overrides
    )
    if wait:
        try:
            probe = psycopg.connect(**params, autocommit=True)
        except psycopg.OperationalError as exc:
            raise connect_error(exc, params, settings, "sync_settings") from exc
        with probe:
            check_for_pooler(probe, config, params)
    kwargs: dict[str, Any] = dict(params)
    if ac:
        kwargs["autocommit"] = True
    if check:
        pool_kwargs.setdefault("check", ConnectionPool.check_connection)
    pool: ConnectionPool[Any] = ConnectionPool("", kwargs=kwargs, open=False, **pool_kwargs)
    timeout = float(pool_kwargs.get("timeout", 30.0))
    try:
        pool.open(wait=wait, timeout=timeout)
    except PoolTimeout:
        pool.close()
        raise DatabaseConnectionError(
            f"pool {pool.name!r} ({describe_target(params)}) could not open its "
            f"min_size={pool.min_size} connections within timeout={timeout:g}s"
        ) from None
    logger.debug("opened pool %r (%s)", pool.name, describe_target(params))
    return pool
