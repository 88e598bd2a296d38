"""pgmonkey: one YAML file, four kinds of psycopg 3 connections.

Example:
    >>> from pgmonkey import PGConnectionManager
    >>> manager = PGConnectionManager()
    >>> conn = manager.get_database_connection("config.yaml", "pool")  # doctest: +SKIP
    >>> with conn as c:  # doctest: +SKIP
    ...     c.execute("SELECT 1").fetchone()
"""

from pgmonkey._version import __version__
from pgmonkey.config import load_config, redact_config
from pgmonkey.errors import (
    ConfigError,
    ConfigFileError,
    ConfigSyntaxError,
    ConfigValidationError,
    DatabaseConnectionError,
    EnvInterpolationError,
    PgMonkeyError,
    PoolExhaustedError,
    PostgresNotFoundError,
    SessionSettingError,
    TestServerError,
)
from pgmonkey.manager import PGConnectionManager

__all__ = [
    "ConfigError",
    "ConfigFileError",
    "ConfigSyntaxError",
    "ConfigValidationError",
    "DatabaseConnectionError",
    "EnvInterpolationError",
    "PGConnectionManager",
    "PgMonkeyError",
    "PoolExhaustedError",
    "PostgresNotFoundError",
    "SessionSettingError",
    "TestServerError",
    "__version__",
    "load_config",
    "redact_config",
]
