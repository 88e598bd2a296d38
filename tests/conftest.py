"""Shared test configuration.

The servers come from :mod:`pgmonkey.testing`, whose pytest plugin is registered by installing
pgmonkey-core (the ``pytest11`` entry point): ``pg_server`` for the session, ``pg_database``
for a fresh database.
"""

from tests._drain import drain_server  # noqa: F401  (a fixture for the drain tests)
