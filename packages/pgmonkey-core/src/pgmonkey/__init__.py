"""pgmonkey: one YAML file, four kinds of psycopg 3 connections.

Example:
    >>> from pgmonkey import PGConnectionManager
    >>> manager = PGConnectionManager()
    >>> conn = manager.get_database_connection("config.yaml", "pool")  # doctest: +SKIP
    >>> with conn as c:  # doctest: +SKIP
    ...     c.execute("SELECT 1").fetchone()
"""

from typing import TYPE_CHECKING, Any

from pgmonkey._version import __version__
from pgmonkey.errors import (
    ConfigError,
    ConfigFileError,
    ConfigSyntaxError,
    ConfigValidationError,
    CredentialProviderError,
    DatabaseConnectionError,
    EnvInterpolationError,
    PgMonkeyError,
    PoolExhaustedError,
    PostgresNotFoundError,
    PsycopgUnavailableError,
    SessionSettingError,
    TestServerError,
)

if TYPE_CHECKING:
    from pgmonkey.config import load_config, redact_config
    from pgmonkey.manager import PGConnectionManager


def __getattr__(name: str) -> Any:
    # Loaded on first use: PGConnectionManager imports psycopg and psycopg_pool, the config
    # functions PyYAML. ``pgmonkey.errors``, the CLI's start-up and the pytest plugin (which
    # pytest loads in every run) import this package without paying for either.
    if name == "PGConnectionManager":
        from pgmonkey.manager import PGConnectionManager

        return PGConnectionManager
    if name in ("load_config", "redact_config"):
        from pgmonkey import config

        return getattr(config, name)
    raise AttributeError(f"module 'pgmonkey' has no attribute {name!r}")


__all__ = [
    "ConfigError",
    "ConfigFileError",
    "ConfigSyntaxError",
    "ConfigValidationError",
    "CredentialProviderError",
    "DatabaseConnectionError",
    "EnvInterpolationError",
    "PGConnectionManager",
    "PgMonkeyError",
    "PoolExhaustedError",
    "PostgresNotFoundError",
    "PsycopgUnavailableError",
    "SessionSettingError",
    "TestServerError",
    "__version__",
    "load_config",
    "redact_config",
]
