"""The four pgmonkey connection types and the building blocks under them.

Building blocks (each opens something new; the caller closes it):

* :func:`connect` / :func:`connect_async`: a plain psycopg connection.
* :func:`open_pool` / :func:`open_async_pool`: an opened psycopg_pool pool.
* :func:`resolve_credentials` / :func:`resolve_credentials_async`: the connection parameters
  to connect with now (a rotated ``from_file`` secret re-read, the ``credential_provider``
  called); :class:`PooledConnection` / :class:`AsyncPooledConnection` do it for pools built
  elsewhere (``connection_class=``), and :func:`has_dynamic_credentials` tells when it matters.
  These classes also retry, for a few seconds, a connection attempt that failed only because
  no suitable server is up yet (a failover, a restart; see docs/scale-out.md).
* :func:`settle_pool_sizes`: ``min_size``/``max_size`` made consistent (a lone ``max_size``
  lowers psycopg_pool's default ``min_size``), for code that builds its own pool.

All of them apply ``connection_settings``, ``autocommit`` and the session settings
(``sync_settings`` for the sync ones, ``async_settings`` for the async ones) of a pgmonkey
configuration, and report failures as :class:`pgmonkey.errors.DatabaseConnectionError`.
Under ``pooler: pgbouncer`` they turn prepared statements off (``prepare_threshold=None``);
without a ``pooler`` key they warn (:class:`PoolerDetectedWarning`) when the server looks
like a pooler.

Wrapper types (what :class:`pgmonkey.PGConnectionManager` hands out): :class:`Connection`
(``normal``), :class:`ConnectionPool` (``pool``), :class:`AsyncConnection` (``async``) and
:class:`AsyncConnectionPool` (``async_pool``). ``with obj as conn:`` (``async with`` for the
async ones) yields a real psycopg connection. The names of earlier pgmonkey releases
(``PGNormalConnection``, ``PGPoolConnection``, ``PGAsyncConnection``,
``PGAsyncPoolConnection``) remain as aliases.

Process end: whatever pgmonkey opened and is still open is closed when the process ends, at
interpreter exit and at the end of a ``multiprocessing`` child (which skips ``atexit``).
:func:`close_at_exit` adds a clean-up of your own (the framework extensions close their pools
and connections through it).
"""

from pgmonkey._psycopg import require_psycopg

# First: a missing libpq is a PsycopgUnavailableError saying what to install, not psycopg's
# bare ImportError from the first module below that imports it.
require_psycopg()

from pgmonkey._lifecycle import close_at_exit
from pgmonkey.connections._async import AsyncConnection, AsyncConnectionPool
from pgmonkey.connections._base import BaseConnection
from pgmonkey.connections._connect import connect, open_pool
from pgmonkey.connections._connect_async import connect_async, open_async_pool
from pgmonkey.connections._credentials import (
    has_dynamic_credentials,
    resolve_credentials,
    resolve_credentials_async,
)
from pgmonkey.connections._params import POOL_DEFAULT_MIN_SIZE, settle_pool_sizes
from pgmonkey.connections._pooled import AsyncPooledConnection, PooledConnection
from pgmonkey.connections._pooler import PoolerDetectedWarning
from pgmonkey.connections._sync import Connection, ConnectionPool

PGNormalConnection = Connection
PGPoolConnection = ConnectionPool
PGAsyncConnection = AsyncConnection
PGAsyncPoolConnection = AsyncConnectionPool
PostgresBaseConnection = BaseConnection

__all__ = [
    "POOL_DEFAULT_MIN_SIZE",
    "AsyncConnection",
    "AsyncConnectionPool",
    "AsyncPooledConnection",
    "BaseConnection",
    "Connection",
    "ConnectionPool",
    "PGAsyncConnection",
    "PGAsyncPoolConnection",
    "PGNormalConnection",
    "PGPoolConnection",
    "PooledConnection",
    "PoolerDetectedWarning",
    "PostgresBaseConnection",
    "close_at_exit",
    "connect",
    "connect_async",
    "has_dynamic_credentials",
    "open_async_pool",
    "open_pool",
    "resolve_credentials",
    "resolve_credentials_async",
    "settle_pool_sizes",
]
