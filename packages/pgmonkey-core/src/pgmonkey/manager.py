"""``PGConnectionManager``: one YAML file, four kinds of cached connections.

Example:
    >>> from pgmonkey import PGConnectionManager
    >>> manager = PGConnectionManager()
    >>> pool = manager.get_database_connection("config.yaml", "pool")  # doctest: +SKIP
    >>> with pool as conn:  # doctest: +SKIP
    ...     conn.execute("SELECT 1").fetchone()
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Coroutine, Mapping
from types import TracebackType
from typing import Any, Literal, overload

from pgmonkey import _cache
from pgmonkey.config import config_digest, load_config, load_config_cached
from pgmonkey.connections import (
    AsyncConnection,
    AsyncConnectionPool,
    Connection,
    ConnectionPool,
)

__all__ = ["VALID_CONNECTION_TYPES", "PGConnectionManager"]

VALID_CONNECTION_TYPES = _cache.VALID_CONNECTION_TYPES

AnyConnection = Connection | ConnectionPool | AsyncConnection | AsyncConnectionPool

#: One token per manager: what it holds in the shared cache (never reused, unlike id()).
_holder_tokens = itertools.count(1)


class PGConnectionManager:
    """Hands out connections and pools from a process-wide cache.

    Every manager shares the same cache: two managers asking for the same configuration and
    type get the same object. The cache key is a digest of the resolved configuration plus the
    connection type (plus the event loop for the async types). Unchanged files are not re-read.

    Each manager *holds* what it handed out. :meth:`clear_cache` (and
    :meth:`clear_cache_async`, :meth:`close`, :meth:`aclose`, leaving ``with`` /
    ``async with PGConnectionManager()``) releases only this manager's holds, and an object is
    closed when no manager holds it any more: one part of a program clearing its manager never
    closes a pool another part is using (as in pgmonkey 3.x, whose managers were independent).
    :attr:`cache_info` describes what this manager holds. A manager that is garbage-collected
    keeps its holds (the objects it handed out may still be in use); what is still open at
    interpreter exit is closed then.

    The connection type is the ``connection_type`` argument, else the configuration's
    ``connection_type``, else ``normal``. For ``async`` and ``async_pool`` the call returns a
    coroutine to await.
    """

    VALID_CONNECTION_TYPES = VALID_CONNECTION_TYPES

    @property
    def _holder(self) -> int:
        # Created on first use (subclasses need not call __init__); setdefault keeps one
        # token when two threads get here first at once.
        return int(self.__dict__.setdefault("_pgmonkey_holder", next(_holder_tokens)))

    @overload
    def get_database_connection(
        self,
        config_file_path: str | os.PathLike[str],
        connection_type: Literal["normal"],
        *,
        force_reload: bool = ...,
        resolve_env: bool = ...,
        allow_sensitive_defaults: bool = ...,
    ) -> Connection: ...

    @overload
    def get_database_connection(
        self,
        config_file_path: str | os.PathLike[str],
        connection_type: Literal["pool"],
        *,
        force_reload: bool = ...,
        resolve_env: bool = ...,
        allow_sensitive_defaults: bool = ...,
    ) -> ConnectionPool: ...

    @overload
    def get_database_connection(
        self,
        config_file_path: str | os.PathLike[str],
        connection_type: Literal["async"],
        *,
        force_reload: bool = ...,
        resolve_env: bool = ...,
        allow_sensitive_defaults: bool = ...,
    ) -> Coroutine[Any, Any, AsyncConnection]: ...

    @overload
    def get_database_connection(
        self,
        config_file_path: str | os.PathLike[str],
        connection_type: Literal["async_pool"],
        *,
        force_reload: bool = ...,
        resolve_env: bool = ...,
        allow_sensitive_defaults: bool = ...,
    ) -> Coroutine[Any, Any, AsyncConnectionPool]: ...

    @overload
    def get_database_connection(
        self,
        config_file_path: str | os.PathLike[str],
        connection_type: str | None = ...,
        *,
        force_reload: bool = ...,
        resolve_env: bool = ...,
        allow_sensitive_defaults: bool = ...,
    ) -> Any: ...

    def get_database_connection(
        self,
        config_file_path: str | os.PathLike[str],
        connection_type: str | None = None,
        *,
        force_reload: bool = False,
        resolve_env: bool = False,
        allow_sensitive_defaults: bool = False,
    ) -> Any:
        """Return the cached connection object for a configuration file.

        Args:
            config_file_path: The YAML file.
            connection_type: ``normal``, ``pool``, ``async`` or ``async_pool``; default: the
                file's ``connection_type``, else ``normal``.
            force_reload: Replace the cached object with a new one. The old one is closed
                without breaking blocks that are using it (they finish first).
            resolve_env: Resolve ``${VAR}``, ``from_env`` and ``from_file`` references.
            allow_sensitive_defaults: Allow ``${VAR:-default}`` for sensitive keys.

        Returns:
            A :class:`~pgmonkey.connections.Connection` or
            :class:`~pgmonkey.connections.ConnectionPool`; for the async types a coroutine
            returning an :class:`~pgmonkey.connections.AsyncConnection` or
            :class:`~pgmonkey.connections.AsyncConnectionPool`.

        Raises:
            ConfigError: The file cannot be used or the connection type is unknown.
            DatabaseConnectionError: The connection or pool cannot be opened.
        """
        loaded = load_config_cached(
            config_file_path,
            resolve_env=resolve_env,
            allow_sensitive_defaults=allow_sensitive_defaults,
        )
        return _cache.lookup(
            loaded.config, loaded.digest, connection_type, force_reload, self._holder
        )

    def get_database_connection_from_dict(
        self,
        config_data_dictionary: Mapping[str, Any],
        connection_type: str | None = None,
        *,
        force_reload: bool = False,
        resolve_env: bool = False,
        allow_sensitive_defaults: bool = False,
    ) -> Any:
        """Like :meth:`get_database_connection`, from a configuration dict.

        Args:
            config_data_dictionary: The configuration as a dict (as written in YAML).
            connection_type: As for :meth:`get_database_connection`.
            force_reload: As for :meth:`get_database_connection`.
            resolve_env: As for :meth:`get_database_connection`.
            allow_sensitive_defaults: As for :meth:`get_database_connection`.

        Returns:
            As for :meth:`get_database_connection`.
        """
        config = load_config(
            dict(config_data_dictionary),
            resolve_env=resolve_env,
            allow_sensitive_defaults=allow_sensitive_defaults,
        )
        return _cache.lookup(
            config, config_digest(config), connection_type, force_reload, self._holder
        )

    @property
    def cache_info(self) -> dict[str, Any]:
        """What this manager holds (what :meth:`clear_cache` would release).

        ``{"size": n, "connection_types": {type: count}, "entries": [...]}``, with the type,
        host, port and dbname of each object; no secrets.
        """
        return _cache.info(self._holder)

    def clear_cache(self) -> None:
        """Release what this manager handed out; close what no other manager holds.

        Objects another manager also handed out stay open for it. Async objects are closed in
        their own loop when it is running (scheduled, when called from inside it: prefer
        ``await clear_cache_async()`` there).
        """
        _cache.clear(self._holder)

    async def clear_cache_async(self) -> None:
        """Like :meth:`clear_cache`, awaiting the closing of this loop's async objects."""
        await _cache.clear_async(self._holder)

    async def aclose(self) -> None:
        """Same as :meth:`clear_cache_async`: for ``async with PGConnectionManager():``."""
        await _cache.clear_async(self._holder)

    def close(self) -> None:
        """Same as :meth:`clear_cache`: for ``with PGConnectionManager():``."""
        _cache.clear(self._holder)

    def __enter__(self) -> PGConnectionManager:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> PGConnectionManager:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
