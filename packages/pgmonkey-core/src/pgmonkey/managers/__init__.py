"""Compatibility package: ``pgmonkey.managers.pgconnection_manager`` of pgmonkey 3.x/4.x.

Deprecated: ``from pgmonkey import PGConnectionManager``.
"""
