"""Shared test configuration.

The servers come from :mod:`pgmonkey.testing` (loaded with ``-p pgmonkey.testing`` in the
root ``pyproject.toml``): ``pg_server`` for the session, ``pg_database`` for a fresh database.
"""
