"""``PGMonkey.test_isolation()``: every connection of an app inside one rolled-back transaction.

While the block is active, each configured database is served by ONE pinned connection (taken
lazily on first use) whose outer transaction is rolled back when the block ends, so nothing a
test does reaches the database. Inside it, the application keeps its real semantics:

* each app context (request, CLI command, ``with app.app_context()``) works above its own
  savepoint; what it leaves uncommitted is rolled back at teardown, as in production;
* ``conn.commit()`` (also the one ``after_request`` issues in the ``autocommit`` modes) and the
  successful end of an outermost ``conn.transaction()`` block make the work durable *until the
  end of the isolation block* (the savepoints are released and re-created);
* ``conn.rollback()`` rolls back to the context's savepoint; ``conn.close()`` does nothing;
* an explicit ``commit()`` inside a ``conn.transaction()`` block is still refused, as psycopg
  does.

For connections configured with ``autocommit: true`` the pinned connection runs inside the
outer transaction as well; an app context's work is kept at its teardown (it would have been
committed statement by statement) unless a statement failed.

This mirrors Flask-SQLAlchemy-Lite's ``test_isolation()``. It is meant for tests that run the
app in one thread (``app.test_client()``); concurrent requests would share the connection.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus

if TYPE_CHECKING:
    from typing_extensions import LiteralString

logger = logging.getLogger("pgmonkey.flask")

__all__ = ["Isolation", "PinnedConnection"]

_PATCHED = ("commit", "rollback", "close", "transaction")
_COMMIT_FORBIDDEN = (
    "Explicit commit() forbidden within a Transaction context. "
    "(Transaction will be automatically committed on successful exit from context.)"
)


class PinnedConnection:
    """One connection held for the whole isolation block, with emulated commit/rollback."""

    def __init__(self, conn: psycopg.Connection[Any], give_back: Callable[[], None]) -> None:
        self.conn = conn
        self._give_back = give_back
        self._names = (f"pgmonkey_isolation_{n}" for n in itertools.count())
        self._autocommit = conn.autocommit
        self._original_transaction = conn.transaction
        if self._autocommit:
            conn.autocommit = False
        # The outer transaction starts implicitly with the first savepoint.
        self._stack: list[str] = [self._savepoint()]
        for method in _PATCHED:
            setattr(conn, method, getattr(self, f"_{method}"))

    # -- savepoints -------------------------------------------------------------------------
    def _exec(self, template: LiteralString, name: str) -> None:
        self.conn.execute(sql.SQL(template).format(sql.Identifier(name)))

    def _savepoint(self) -> str:
        name = next(self._names)
        self._exec("SAVEPOINT {}", name)
        return name

    def _failed(self) -> bool:
        return self.conn.info.transaction_status == TransactionStatus.INERROR

    def _make_durable(self) -> None:
        """Release every savepoint (work joins the outer transaction), then re-create them."""
        if self._failed():
            self._exec("ROLLBACK TO SAVEPOINT {}", self._stack[-1])
        depth = len(self._stack)
        self._exec("RELEASE SAVEPOINT {}", self._stack[0])
        self._stack = [self._savepoint() for _ in range(depth)]

    # -- app contexts -----------------------------------------------------------------------
    def enter_context(self) -> str | None:
        """Start an app context's work; returns the token to give to :meth:`exit_context`."""
        if self._autocommit:
            return None
        name = self._savepoint()
        self._stack.append(name)
        return name

    def exit_context(self, token: str | None) -> None:
        """End an app context: undo what it left uncommitted (or keep it, for autocommit)."""
        if self.conn.closed:
            return
        if token is None:
            if self._failed():
                self._exec("ROLLBACK TO SAVEPOINT {}", self._stack[-1])
            else:
                self._make_durable()
            return
        if token not in self._stack:  # already undone by an enclosing context
            return
        index = self._stack.index(token)
        self._exec("ROLLBACK TO SAVEPOINT {}", token)
        self._exec("RELEASE SAVEPOINT {}", token)
        del self._stack[index:]

    # -- the methods the app sees -----------------------------------------------------------
    def _commit(self) -> None:
        if getattr(self.conn, "_num_transactions", 0):
            raise psycopg.ProgrammingError(_COMMIT_FORBIDDEN)
        self._make_durable()

    def _rollback(self) -> None:
        if getattr(self.conn, "_num_transactions", 0):
            raise psycopg.ProgrammingError(
                "Explicit rollback() forbidden within a Transaction context. "
                "(Either raise Rollback() or allow an exception to propagate out of the "
                "context.)"
            )
        self._exec("ROLLBACK TO SAVEPOINT {}", self._stack[-1])

    def _close(self) -> None:
        logger.debug("close() ignored on a connection pinned by test_isolation()")

    @contextmanager
    def _transaction(
        self, savepoint_name: str | None = None, force_rollback: bool = False
    ) -> Iterator[psycopg.Transaction]:
        outermost = not getattr(self.conn, "_num_transactions", 0)
        with self._original_transaction(savepoint_name, force_rollback) as tx:
            yield tx
        if outermost and not force_rollback:
            self._make_durable()

    # -- end --------------------------------------------------------------------------------
    def finish(self) -> None:
        """Roll the outer transaction back, restore the connection and give it back."""
        conn = self.conn
        for method in _PATCHED:
            conn.__dict__.pop(method, None)
        try:
            if not conn.closed:
                conn.rollback()
                conn.autocommit = self._autocommit
        except psycopg.Error:
            logger.warning("could not roll back the test isolation transaction", exc_info=True)
            conn.close()
        finally:
            self._give_back()


class Isolation:
    """The pinned connections of one active ``test_isolation()`` block (one per database)."""

    def __init__(self) -> None:
        self._pinned: dict[str, PinnedConnection] = {}
        self._lock = threading.Lock()

    def pinned(
        self, name: str, acquire: Callable[[], tuple[psycopg.Connection[Any], Callable[[], None]]]
    ) -> PinnedConnection:
        """The pinned connection of ``name``, acquired on first use."""
        with self._lock:
            pinned = self._pinned.get(name)
            if pinned is None:
                conn, give_back = acquire()
                try:
                    pinned = PinnedConnection(conn, give_back)
                except BaseException:
                    give_back()
                    raise
                self._pinned[name] = pinned
            return pinned

    def finish(self) -> None:
        """Roll back and give back every pinned connection."""
        with self._lock:
            pinned, self._pinned = self._pinned, {}
        for item in pinned.values():
            item.finish()
