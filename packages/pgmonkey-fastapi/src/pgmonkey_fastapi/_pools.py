"""Opening and closing the pools of one app run (private).

Pools are always built with ``open=False`` and opened explicitly (psycopg_pool's advice), and
opening waits up to ``wait`` seconds for ``min_size`` connections so that a bad configuration
fails at startup with the real reason (wrong password, unreachable host), not at the first
request.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout

from pgmonkey.errors import DatabaseConnectionError

logger = logging.getLogger("pgmonkey.fastapi")

__all__ = ["close_async_pool", "close_pool", "open_async_pool", "open_pool"]

# Connection parameters worth naming in an error message (never the password).
_WHERE_KEYS = ("host", "hostaddr", "port", "dbname", "user")


def _build(cfg: Mapping[str, Any], *, asynchronous: bool, name: str) -> Any:
    """Build an unopened pool for ``cfg``.

    Stand-in until ``pgmonkey.connections.open_pool``/``open_async_pool`` land in the core:
    the only place that turns a configuration into a psycopg_pool object, on purpose minimal.
    """
    settings = {k: v for k, v in cfg.get("connection_settings", {}).items() if v not in (None, "")}
    autocommit = bool(settings.pop("autocommit", False))
    section = "async_pool_settings" if asynchronous else "pool_settings"
    pool_kwargs = dict(cfg.get(section) or {})
    if pool_kwargs.pop("check_on_checkout", False):
        pool_cls = AsyncConnectionPool if asynchronous else ConnectionPool
        pool_kwargs["check"] = pool_cls.check_connection
    pool_kwargs.pop("name", None)
    kwargs: dict[str, Any] = {"autocommit": autocommit}
    if asynchronous:
        return AsyncConnectionPool(
            make_conninfo("", **settings), kwargs=kwargs, open=False, name=name, **pool_kwargs
        )
    return ConnectionPool(
        make_conninfo("", **settings), kwargs=kwargs, open=False, name=name, **pool_kwargs
    )


def _where(cfg: Mapping[str, Any]) -> str:
    settings = cfg.get("connection_settings", {})
    return " ".join(f"{k}={settings[k]}" for k in _WHERE_KEYS if settings.get(k) not in (None, ""))


def _failure(
    cfg: Mapping[str, Any], name: str, wait: float, reason: str
) -> DatabaseConnectionError:
    return DatabaseConnectionError(
        f"pgmonkey_fastapi: could not open the {name!r} pool ({_where(cfg)}) "
        f"within {wait:g} s: {reason}"
    )


def _probe_reason(cfg: Mapping[str, Any], wait: float) -> str:
    """Why a single connection with the same parameters fails (psycopg's message)."""
    settings = {k: v for k, v in cfg.get("connection_settings", {}).items() if v not in (None, "")}
    settings.pop("autocommit", None)
    timeout = int(settings.get("connect_timeout") or 10)
    settings["connect_timeout"] = max(2, min(int(wait), timeout))
    try:
        psycopg.connect(make_conninfo("", **settings)).close()
    except psycopg.Error as exc:
        return str(exc).strip()
    return "the pool did not reach min_size connections (a single connection works)"


async def open_async_pool(
    cfg: Mapping[str, Any], *, name: str, wait: float | None
) -> AsyncConnectionPool[Any]:
    """Open an async pool; with ``wait``, wait that long for ``min_size`` connections."""
    pool: AsyncConnectionPool[Any] = _build(cfg, asynchronous=True, name=name)
    await pool.open(wait=False)
    if wait is not None:
        try:
            await pool.wait(timeout=wait)
        except PoolTimeout:
            await pool.close(timeout=0)
            import anyio.to_thread

            reason = await anyio.to_thread.run_sync(_probe_reason, cfg, wait)
            raise _failure(cfg, name, wait, reason) from None
    logger.debug("opened async pool %r", name)
    return pool


def open_pool(cfg: Mapping[str, Any], *, name: str, wait: float | None) -> ConnectionPool[Any]:
    """Open a sync pool (blocking: call it from a worker thread in async code)."""
    pool: ConnectionPool[Any] = _build(cfg, asynchronous=False, name=name)
    pool.open(wait=False)
    if wait is not None:
        try:
            pool.wait(timeout=wait)
        except PoolTimeout:
            pool.close(timeout=0)
            raise _failure(cfg, name, wait, _probe_reason(cfg, wait)) from None
    logger.debug("opened pool %r", name)
    return pool


async def close_async_pool(pool: AsyncConnectionPool[Any], timeout: float) -> None:
    """Close an async pool, giving borrowed connections ``timeout`` seconds to come back."""
    await pool.close(timeout=timeout)
    logger.debug("closed async pool %r", pool.name)


def close_pool(pool: ConnectionPool[Any], timeout: float) -> None:
    """Close a sync pool (blocking)."""
    pool.close(timeout=timeout)
    logger.debug("closed pool %r", pool.name)
