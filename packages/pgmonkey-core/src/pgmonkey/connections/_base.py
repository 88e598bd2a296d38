"""What the four connection types share, without any I/O."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any, ClassVar

from pgmonkey.config._redact import describe_target, redact_text
from pgmonkey.connections._params import normalised
from pgmonkey.errors import DatabaseConnectionError, PoolExhaustedError

__all__ = ["BaseConnection"]


class BaseConnection:
    """Common state of :class:`Connection`, :class:`ConnectionPool` and their async twins.

    Attributes:
        config: The normalised configuration (contains the password: never print it).
        connection_type: ``"normal"``, ``"pool"``, ``"async"`` or ``"async_pool"``.
    """

    connection_type: ClassVar[str] = ""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config: Mapping[str, Any] = normalised(config)
        self._closed = False
        self._opened = False  # set once the underlying connection or pool was first opened
        # One stack of open ``with`` blocks per thread/task (immutable tuples, never shared).
        self._blocks: ContextVar[tuple[Any, ...]] = ContextVar(
            f"pgmonkey_blocks_{id(self):x}", default=()
        )

    @property
    def closed(self) -> bool:
        """Whether ``disconnect()`` closed this object for good (pools only)."""
        return self._closed

    @property
    def autocommit(self) -> bool:
        """Whether connections are in autocommit mode (``connection_settings.autocommit``)."""
        value = self.config.get("connection_settings", {}).get("autocommit", False)
        return bool(value)

    @property
    def target(self) -> str:
        """Host, port, database and user (:func:`pgmonkey.config.describe_target`: no secret)."""
        return describe_target(self.config.get("connection_settings", {}))

    def _handle(self) -> Any:
        """The underlying psycopg connection or pool (``None`` when there is none now)."""
        return None

    @property
    def state(self) -> str:
        """``"not opened yet"``, ``"open"`` or ``"closed"``.

        Whether the underlying psycopg connection (or pool) is open now; ``"closed"`` once it
        was opened and then closed (by ``disconnect()``, the server or the manager).
        """
        handle = self._handle()
        if handle is not None and not handle.closed:
            return "open"
        return "closed" if self._opened or self._closed else "not opened yet"

    def __repr__(self) -> str:
        return f"<{type(self).__module__}.{type(self).__qualname__} {self.target} ({self.state})>"

    def _top_block(self) -> Any:
        stack = self._blocks.get()
        return stack[-1] if stack else None

    def _current(self) -> Any:
        """The connection of this thread's/task's innermost block (``None`` outside one)."""
        top = self._top_block()
        return None if top is None else top[1]

    # -- errors shared by the sync and async twins (messages only, no I/O)

    def _no_block_error(self, block: str) -> DatabaseConnectionError:
        return DatabaseConnectionError(
            f"pool.cursor() needs a borrowed connection: use `{block} pool as conn:` first"
        )

    def _closed_error(self) -> DatabaseConnectionError:
        return DatabaseConnectionError(
            f"this pool ({self.target}) was closed; get a new one from PGConnectionManager"
        )

    def _other_loop_error(self, what: str) -> DatabaseConnectionError:
        return DatabaseConnectionError(
            f"this async {what} ({self.target}) belongs to another running event "
            "loop; get one from PGConnectionManager inside this loop"
        )

    def _exhausted_error(self, pool: Any) -> PoolExhaustedError:
        return PoolExhaustedError(
            f"no connection of pool {pool.name!r} ({self.target}, max_size={pool.max_size}) "
            f"became free within timeout={pool.timeout:g}s"
        )

    def _test_error(self, what: str, exc: BaseException) -> DatabaseConnectionError:
        reason = redact_text(str(exc), self.config)
        return DatabaseConnectionError(f"{what} test failed ({self.target}): {reason}")
