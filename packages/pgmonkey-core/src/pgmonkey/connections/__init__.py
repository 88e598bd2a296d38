"""The four pgmonkey connection types and the building blocks under them.

Building blocks (each opens something new; the caller closes it):

* :func:`connect` / :func:`connect_async`: a plain psycopg connection.
* :func:`open_pool` / :func:`open_async_pool`: an opened psycopg_pool pool.

All of them apply ``connection_settings``, ``autocommit`` and the session settings
(``sync_settings`` for the sync ones, ``async_settings`` for the async ones) of a pgmonkey
configuration, and report failures as :class:`pgmonkey.errors.DatabaseConnectionError`.
"""

from pgmonkey.connections._connect import connect, open_pool
from pgmonkey.connections._connect_async import connect_async, open_async_pool

__all__ = ["connect", "connect_async", "open_async_pool", "open_pool"]
