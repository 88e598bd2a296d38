"""Turning a loaded pgmonkey configuration into a pool or a plain connection (private).

The core owns this logic (``pgmonkey.connections.open_pool`` / ``connect``). Until those land,
:func:`_build_pool` and :func:`_connect` are deliberately minimal stand-ins: they are the only
places in this package that translate a configuration into psycopg objects, so switching to
the core is a two-line change.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo
from psycopg_pool import ConnectionPool, PoolTimeout

from pgmonkey.errors import DatabaseConnectionError

logger = logging.getLogger("pgmonkey.flask")

__all__ = ["connect", "open_pool"]

# Connection parameters worth naming in an error message (never the password).
_WHERE_KEYS = ("host", "port", "dbname", "user")


def _libpq_params(cfg: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    settings = {
        k: v for k, v in (cfg.get("connection_settings") or {}).items() if v not in (None, "")
    }
    autocommit = bool(settings.pop("autocommit", False))
    return settings, autocommit


def _sync_options(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Session settings as a libpq ``options`` startup parameter (survives rollbacks)."""
    gucs = cfg.get("sync_settings") or {}
    if not gucs:
        return {}
    escaped = {
        name: str(value).replace("\\", "\\\\").replace(" ", "\\ ") for name, value in gucs.items()
    }
    return {"options": " ".join(f"-c {name}={value}" for name, value in escaped.items())}


def where(cfg: Mapping[str, Any]) -> str:
    """``host=... port=... dbname=... user=...`` for messages (no secret)."""
    settings = cfg.get("connection_settings") or {}
    return " ".join(f"{k}={settings[k]}" for k in _WHERE_KEYS if settings.get(k) not in (None, ""))


def _build_pool(cfg: Mapping[str, Any], *, name: str) -> ConnectionPool[Any]:
    """Build an unopened pool (stand-in for ``pgmonkey.connections.open_pool``)."""
    settings, autocommit = _libpq_params(cfg)
    settings.update(_sync_options(cfg))
    pool_kwargs = dict(cfg.get("pool_settings") or {})
    if pool_kwargs.pop("check_on_checkout", False):
        pool_kwargs["check"] = ConnectionPool.check_connection
    pool_kwargs.pop("name", None)
    return ConnectionPool(
        make_conninfo("", **settings),
        kwargs={"autocommit": autocommit},
        open=False,
        name=name,
        **pool_kwargs,
    )


def open_pool(cfg: Mapping[str, Any], *, name: str) -> ConnectionPool[Any]:
    """Build and open a pool, waiting for ``min_size`` connections.

    Raises:
        DatabaseConnectionError: The pool could not reach ``min_size`` connections within its
            ``timeout`` (wrong password, unreachable host, ...); the message names the server.
    """
    pool = _build_pool(cfg, name=name)
    pool.open(wait=True, timeout=float(pool.timeout))
    return pool


def pool_failure(cfg: Mapping[str, Any], name: str, exc: BaseException) -> DatabaseConnectionError:
    """A clear error for a pool that could not be opened (probing one connection for why)."""
    reason = str(exc).strip()
    if isinstance(exc, PoolTimeout):
        try:
            connect(cfg).close()
        except psycopg.Error as probe:
            reason = str(probe).strip()
    return DatabaseConnectionError(
        f"pgmonkey_flask: could not open the {name!r} pool ({where(cfg)}): {reason}"
    )


def connect(cfg: Mapping[str, Any]) -> psycopg.Connection[Any]:
    """Open one plain connection (stand-in for ``pgmonkey.connections.connect``)."""
    settings, autocommit = _libpq_params(cfg)
    settings.update(_sync_options(cfg))
    return psycopg.connect(make_conninfo("", **settings), autocommit=autocommit)
