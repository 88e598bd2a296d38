"""Django ``DATABASES`` from a pgmonkey YAML file, with Django's native psycopg pool.

Example:
    >>> # settings.py
    >>> from pgmonkey_django import database_config, databases
    >>> DATABASES = {"default": database_config(BASE_DIR / "pg.yaml")}  # doctest: +SKIP
    >>> # or, as with dj-database-url, the file named by $PGMONKEY_CONFIG:
    >>> from pgmonkey_django import config
    >>> DATABASES = {"default": config(default=BASE_DIR / "pg.yaml")}  # doctest: +SKIP
    >>> DATABASES = databases({  # doctest: +SKIP
    ...     "default": "primary.yaml",
    ...     "replica": ("replica.yaml", {"pool": False, "conn_max_age": 60}),
    ... })

Add ``"pgmonkey_django"`` to ``INSTALLED_APPS`` (optional) for system checks, the
``pgmonkey_check`` management command, automatic fork safety, and the closing of every
connection and pool when a process ends.
"""

from pgmonkey_django._config import (
    ENGINE,
    DBConfig,
    PgMonkeyDjangoWarning,
    PoolFallbackWarning,
    database_config,
    databases,
)
from pgmonkey_django._env import DEFAULT_ENV, config
from pgmonkey_django._exit import close_connections_at_exit, close_opened_connections
from pgmonkey_django._fork import forget_inherited_connections, install_fork_safety
from pgmonkey_django._version import __version__

__all__ = [
    "DEFAULT_ENV",
    "ENGINE",
    "DBConfig",
    "PgMonkeyDjangoWarning",
    "PoolFallbackWarning",
    "__version__",
    "close_connections_at_exit",
    "close_opened_connections",
    "config",
    "database_config",
    "databases",
    "forget_inherited_connections",
    "install_fork_safety",
]
