"""``PGMonkeyFastAPI``: pools opened by the app's lifespan, connections through ``Depends``."""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, Literal, cast, overload

import anyio.to_thread
from fastapi import Depends
from psycopg import AsyncConnection, Connection
from psycopg.rows import TupleRow
from typing_extensions import Self, TypeVar

from pgmonkey import load_config
from pgmonkey.errors import ConfigValidationError, DatabaseConnectionError
from pgmonkey_fastapi._dependencies import (
    AsyncConnectionDependency,
    AsyncDependencies,
    AsyncPoolDependency,
    ConnectionDependency,
    PoolDependency,
    SyncDependencies,
    build_async,
    build_sync,
)
from pgmonkey_fastapi._errors import PGMonkeyFastAPIError
from pgmonkey_fastapi._middleware import CommitBeforeResponseMiddleware
from pgmonkey_fastapi._pools import close_async_pool, close_pool, start_async_pool, start_pool
from pgmonkey_fastapi._registry import PoolRegistry

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.requests import HTTPConnection

logger = logging.getLogger("pgmonkey.fastapi")

__all__ = ["PGMonkeyFastAPI"]

_CONNECTION_TYPES = ("async_pool", "pool")
# Top-level keys that mark a mapping as one configuration (not a {name: config} mapping).
_CONFIG_KEYS = frozenset(
    {
        "connection_type",
        "connection_settings",
        "pool_settings",
        "async_pool_settings",
        "sync_settings",
        "async_settings",
        "postgresql",
    }
)
_SUPPORTS_SCOPE = "scope" in inspect.signature(Depends).parameters

# The connection type of the dependencies: AsyncConnection (``async_pool``, the default) or
# Connection (``pool``); the constructor's ``connection_type`` literal selects it.
_C = TypeVar(
    "_C",
    bound="AsyncConnection[Any] | Connection[Any]",
    default=AsyncConnection[TupleRow],
)
_AsyncDep = TypeVar("_AsyncDep")
_SyncDep = TypeVar("_SyncDep")


class _DefaultDependency(Generic[_AsyncDep, _SyncDep]):
    """``pg.connection``/``transaction``/``pool``: typed by the instance's connection type."""

    def __init__(self, index: int) -> None:
        self._index = index

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(
        self, obj: PGMonkeyFastAPI[AsyncConnection[TupleRow]], owner: type[Any]
    ) -> _AsyncDep: ...
    @overload
    def __get__(
        self, obj: PGMonkeyFastAPI[Connection[TupleRow]], owner: type[Any]
    ) -> _SyncDep: ...
    def __get__(
        self, obj: PGMonkeyFastAPI[Any] | None, owner: type[Any]
    ) -> Self | _AsyncDep | _SyncDep:
        if obj is None:
            return self
        return cast("_AsyncDep | _SyncDep", obj._for("default")[self._index])


def _sources(config: Any) -> dict[str, Any]:
    """``{database name: path or dict}`` from the constructor's ``config`` argument."""
    if isinstance(config, (str, os.PathLike)):
        return {"default": config}
    if not isinstance(config, Mapping):
        raise ConfigValidationError(
            f"expected a path, a configuration dict or a {{name: configuration}} dict, "
            f"got {type(config).__name__}",
            key_path=["config"],
        )
    if not config or _CONFIG_KEYS & set(config):
        return {"default": dict(config)}
    sources: dict[str, Any] = {}
    for name, source in config.items():
        if not isinstance(name, str) or not isinstance(source, (str, os.PathLike, Mapping)):
            raise ConfigValidationError(
                "each database needs a name (str) and a path or configuration dict",
                key_path=["config", str(name)],
            )
        sources[name] = source if isinstance(source, (str, os.PathLike)) else dict(source)
    if "default" not in sources:
        raise ConfigValidationError(
            f"the databases {sorted(sources)} have no 'default' entry "
            "(pg.connection, pg.transaction and pg.pool use it)",
            key_path=["config"],
        )
    return sources


class PGMonkeyFastAPI(Generic[_C]):
    """pgmonkey pools for a FastAPI app, opened and closed by its lifespan.

    Pools are created inside the lifespan, one set per app run and per worker process, never
    at import time, so repeated ``with TestClient(app)`` runs and forking servers work.

    Example:
        >>> from typing import Annotated
        >>> from fastapi import Depends, FastAPI
        >>> from psycopg import AsyncConnection
        >>> from psycopg.rows import TupleRow
        >>> pg = PGMonkeyFastAPI("config/pg.yaml")
        >>> app = FastAPI(lifespan=pg.lifespan)
        >>> Conn = Annotated[AsyncConnection[TupleRow], Depends(pg.connection)]
        >>> Tx = Annotated[AsyncConnection[TupleRow], pg.depends_transaction()]

    Args:
        config: A configuration file path, a configuration dict, or several databases as
            ``{"default": path_or_dict, "replica": path_or_dict}`` (a ``default`` entry is
            required). Files are read at each app startup.
        connection_type: ``"async_pool"`` (async dependencies for ``async def`` routes) or
            ``"pool"`` (sync dependencies, run by FastAPI in its threadpool, for ``def``
            routes; make ``max_size`` cover the concurrent sync routes).
        wait: Seconds to wait at startup for each pool's ``min_size`` connections; a bad
            configuration then fails the startup with the reason. ``None``: do not wait.
        close_timeout: Seconds given to borrowed connections to come back at shutdown.
        resolve_env: Resolve ``${VAR}``/``from_env``/``from_file`` references in the
            configuration (see :func:`pgmonkey.load_config`).
        state_key: Name of the pools in the lifespan state (``request.state.<key>``) and in
            ``app.state`` while the app runs; change it to use two instances in one app.

    Attributes:
        connection: Dependency lending one connection of ``default`` for the request
            (committed when the request's dependencies exit, rolled back on an exception).
        transaction: Dependency running the request in a transaction on that same connection.
        pool: Dependency returning the ``default`` pool, to borrow only when needed.
    """

    connection = _DefaultDependency[AsyncConnectionDependency, ConnectionDependency](0)
    transaction = _DefaultDependency[AsyncConnectionDependency, ConnectionDependency](1)
    pool = _DefaultDependency[AsyncPoolDependency, PoolDependency](2)

    @overload
    def __init__(
        self: PGMonkeyFastAPI[AsyncConnection[TupleRow]],
        config: str | os.PathLike[str] | Mapping[str, Any],
        connection_type: Literal["async_pool"] = "async_pool",
        *,
        wait: float | None = 10.0,
        close_timeout: float = 5.0,
        resolve_env: bool = False,
        state_key: str = "pgmonkey",
    ) -> None: ...
    @overload
    def __init__(
        self: PGMonkeyFastAPI[Connection[TupleRow]],
        config: str | os.PathLike[str] | Mapping[str, Any],
        connection_type: Literal["pool"],
        *,
        wait: float | None = 10.0,
        close_timeout: float = 5.0,
        resolve_env: bool = False,
        state_key: str = "pgmonkey",
    ) -> None: ...
    @overload
    def __init__(
        self: PGMonkeyFastAPI[Any],
        config: str | os.PathLike[str] | Mapping[str, Any],
        connection_type: str,
        *,
        wait: float | None = 10.0,
        close_timeout: float = 5.0,
        resolve_env: bool = False,
        state_key: str = "pgmonkey",
    ) -> None: ...
    def __init__(
        self,
        config: str | os.PathLike[str] | Mapping[str, Any],
        connection_type: str = "async_pool",
        *,
        wait: float | None = 10.0,
        close_timeout: float = 5.0,
        resolve_env: bool = False,
        state_key: str = "pgmonkey",
    ) -> None:
        if connection_type not in _CONNECTION_TYPES:
            raise ConfigValidationError(
                f"connection_type must be 'async_pool' or 'pool', not {connection_type!r}",
                key_path=["connection_type"],
            )
        self._sources = _sources(config)
        self.connection_type = connection_type
        self.asynchronous = connection_type == "async_pool"
        self.wait = wait
        self.close_timeout = close_timeout
        self.resolve_env = resolve_env
        self.state_key = state_key
        self._deps: dict[str, AsyncDependencies | SyncDependencies] = {}
        self._isolation: Any = None
        self._for("default")

    def __repr__(self) -> str:
        return f"<PGMonkeyFastAPI {sorted(self._sources)} {self.connection_type}>"

    @property
    def names(self) -> list[str]:
        """The configured database names."""
        return list(self._sources)

    # -- dependencies

    def _for(self, name: str) -> AsyncDependencies | SyncDependencies:
        deps = self._deps.get(name)
        if deps is None:
            if name not in self._sources:
                raise PGMonkeyFastAPIError(
                    f"unknown database {name!r}; configured: {', '.join(map(repr, self._sources))}"
                )
            build = build_async if self.asynchronous else build_sync
            deps = self._deps[name] = build(self._registry_for, name)
        return deps

    @overload
    def connection_for(
        self: PGMonkeyFastAPI[AsyncConnection[TupleRow]], name: str
    ) -> AsyncConnectionDependency: ...
    @overload
    def connection_for(
        self: PGMonkeyFastAPI[Connection[TupleRow]], name: str
    ) -> ConnectionDependency: ...
    def connection_for(self, name: str) -> AsyncConnectionDependency | ConnectionDependency:
        """The ``connection`` dependency of database ``name`` (the same object on each call)."""
        return self._for(name).connection

    @overload
    def transaction_for(
        self: PGMonkeyFastAPI[AsyncConnection[TupleRow]], name: str
    ) -> AsyncConnectionDependency: ...
    @overload
    def transaction_for(
        self: PGMonkeyFastAPI[Connection[TupleRow]], name: str
    ) -> ConnectionDependency: ...
    def transaction_for(self, name: str) -> AsyncConnectionDependency | ConnectionDependency:
        """The ``transaction`` dependency of database ``name`` (the same object on each call)."""
        return self._for(name).transaction

    @overload
    def pool_for(
        self: PGMonkeyFastAPI[AsyncConnection[TupleRow]], name: str
    ) -> AsyncPoolDependency: ...
    @overload
    def pool_for(self: PGMonkeyFastAPI[Connection[TupleRow]], name: str) -> PoolDependency: ...
    def pool_for(self, name: str) -> AsyncPoolDependency | PoolDependency:
        """The ``pool`` dependency of database ``name`` (the same object on each call)."""
        return self._for(name).pool

    def depends_transaction(self, name: str = "default") -> Any:
        """``Depends(pg.transaction_for(name))`` that commits before the response.

        With FastAPI >= 0.121 this is ``Depends(..., scope="function")``. On older versions a
        plain ``Depends`` is returned: combine it with :meth:`init_app` (or
        :class:`CommitBeforeResponseMiddleware`) to commit before the response there too.
        """
        transaction = self._for(name).transaction
        if _SUPPORTS_SCOPE:
            return Depends(transaction, scope="function")  # type: ignore[call-arg,unused-ignore]
        return Depends(transaction)

    def _registry_for(self, request: HTTPConnection) -> PoolRegistry:
        state = request.scope.get("state")
        registry = state.get(self.state_key) if state else None
        if registry is None:
            app = request.scope.get("app")
            registry = getattr(getattr(app, "state", None), self.state_key, None)
        if not isinstance(registry, PoolRegistry) or registry.closed:
            raise PGMonkeyFastAPIError(
                f"no open pgmonkey pools in the request state (key {self.state_key!r}): run the "
                "app with lifespan=pg.lifespan or call pg.init_app(app); in tests use "
                "'with TestClient(app)' or pgmonkey_fastapi.testing.lifespan(app)"
            )
        return registry

    # -- lifespan

    async def _open(self) -> PoolRegistry:
        pools: dict[str, Any] = {}
        try:
            for name, source in self._sources.items():
                cfg = load_config(source, resolve_env=self.resolve_env)
                pool_name = f"{self.state_key}.{name}"
                try:
                    if self.asynchronous:
                        pools[name] = await start_async_pool(cfg, name=pool_name, wait=self.wait)
                    else:
                        pools[name] = await anyio.to_thread.run_sync(
                            partial(start_pool, cfg, name=pool_name, wait=self.wait)
                        )
                except DatabaseConnectionError as exc:
                    # Same error type, with the database and pool named up front.
                    exc.args = (f"cannot open the {pool_name!r} pool: {exc}", *exc.args[1:])
                    raise
        except BaseException:
            for pool in pools.values():
                if self.asynchronous:
                    await close_async_pool(pool, 0)
                else:
                    await anyio.to_thread.run_sync(close_pool, pool, 0)
            raise
        return PoolRegistry(self, pools, asynchronous=self.asynchronous)

    @asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[dict[str, Any]]:
        """Open the pools, yield them as lifespan state, close them at shutdown.

        Use as ``FastAPI(lifespan=pg.lifespan)``, or compose it in your own lifespan with
        ``async with pg.lifespan(app) as state: yield {**state, ...}``.
        """
        registry = await self._open()
        app_state = getattr(app, "state", None)
        if app_state is not None:
            setattr(app_state, self.state_key, registry)
        logger.info("pgmonkey pools open: %s", ", ".join(registry))
        try:
            yield {self.state_key: registry}
        finally:
            if app_state is not None and getattr(app_state, self.state_key, None) is registry:
                delattr(app_state, self.state_key)
            await registry.aclose(self.close_timeout)
            logger.info("pgmonkey pools closed: %s", ", ".join(registry))

    def init_app(self, app: FastAPI, *, commit_before_response: bool = True) -> None:
        """Wrap ``app``'s own lifespan with this one and install the commit middleware.

        At startup the pools open first, then the app's lifespan runs (it can use
        ``app.state.<state_key>``); at shutdown the app's lifespan ends first, then the
        pools close. Both states are merged. ``on_event`` is never used.

        Args:
            app: The FastAPI (or Starlette) application.
            commit_before_response: Add :class:`CommitBeforeResponseMiddleware`, so that
                ``Depends(pg.transaction)`` commits before the response on every FastAPI
                version.
        """
        router = app.router
        user_lifespan = router.lifespan_context
        if user_lifespan == self.lifespan or getattr(user_lifespan, "_pgmonkey", None) is self:
            raise PGMonkeyFastAPIError(
                "this PGMonkeyFastAPI already manages the app's lifespan "
                "(pass lifespan=pg.lifespan or call pg.init_app(app), not both or twice)"
            )

        @asynccontextmanager
        async def lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
            async with self.lifespan(app) as ours, user_lifespan(app) as theirs:
                clash = set(ours) & set(theirs or {})
                if clash:
                    raise PGMonkeyFastAPIError(
                        f"the app's lifespan state uses the key(s) {sorted(clash)} already "
                        "taken by pgmonkey; pass PGMonkeyFastAPI(..., state_key=...)"
                    )
                yield {**(theirs or {}), **ours}

        lifespan._pgmonkey = self  # type: ignore[attr-defined]
        router.lifespan_context = lifespan
        if commit_before_response and not any(
            getattr(m, "cls", None) is CommitBeforeResponseMiddleware for m in app.user_middleware
        ):
            app.add_middleware(CommitBeforeResponseMiddleware)

    # -- test isolation hooks (see pgmonkey_fastapi.testing)

    def _isolation_register(self, registry: PoolRegistry) -> None:
        if self._isolation is not None:
            self._isolation._registries.append(registry)
