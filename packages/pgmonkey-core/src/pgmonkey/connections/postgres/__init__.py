"""Compatibility package: the connection modules of pgmonkey 3.x/4.x.

Each module re-exports today's object under its old name and warns (``DeprecationWarning``)
when first imported. Old import → new import:

* ``normal_connection.PGNormalConnection`` →
  ``from pgmonkey.connections import Connection``
* ``pool_connection.PGPoolConnection`` →
  ``from pgmonkey.connections import ConnectionPool``
* ``async_connection.PGAsyncConnection`` →
  ``from pgmonkey.connections import AsyncConnection``
* ``async_pool_connection.PGAsyncPoolConnection`` →
  ``from pgmonkey.connections import AsyncConnectionPool``
* ``base_connection.PostgresBaseConnection`` (also ``pgmonkey.connections.base``) →
  ``from pgmonkey.connections import BaseConnection``
* ``postgres_connection_factory.PostgresConnectionFactory`` →
  ``PGConnectionManager().get_database_connection_from_dict(cfg, connection_type)``

The old names *are* the new classes, so ``isinstance`` checks against what
:class:`pgmonkey.PGConnectionManager` returns keep working. Their constructors take the whole
pgmonkey configuration, as :class:`pgmonkey.PGConnectionManager` always did; the separate
``pool_settings``/``sync_settings``/``async_settings`` constructor arguments of the old classes
are gone (those sections belong in the configuration).
"""
