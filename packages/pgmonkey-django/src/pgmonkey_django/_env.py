"""``DATABASES`` entries from a pgmonkey file named by an environment variable.

The shape dj-database-url users know: ``DATABASES = {"default": config()}``.
"""

from __future__ import annotations

import os
from typing import Any

from pgmonkey.errors import ConfigValidationError
from pgmonkey_django._config import DBConfig, database_config

DEFAULT_ENV = "PGMONKEY_CONFIG"
"""The environment variable :func:`config` reads when no other is named."""


def config(
    env: str = DEFAULT_ENV,
    default: str | os.PathLike[str] | None = None,
    **options: Any,
) -> DBConfig:
    """Build a ``DATABASES`` entry from the pgmonkey file that an environment variable names.

    Example:
        >>> # settings.py
        >>> import pgmonkey_django
        >>> DATABASES = {"default": pgmonkey_django.config()}  # doctest: +SKIP
        >>> DATABASES = {  # doctest: +SKIP
        ...     "default": pgmonkey_django.config(default=BASE_DIR / "pgmonkey.yaml", pool=True)
        ... }

    Args:
        env: The variable holding the path of the pgmonkey YAML file. An empty value counts
            as unset.
        default: The path used when the variable is unset or empty. A relative path (in the
            variable or here) is taken from the current directory, as Django does.
        **options: Keyword arguments of :func:`database_config` (``pool``,
            ``conn_max_age``, ``resolve_env``, ...).

    Returns:
        The ``DATABASES`` entry :func:`database_config` builds from that file.

    Raises:
        pgmonkey.errors.ConfigError: The variable is unset with no default, or the file or
            an option cannot be used; the message names the variable and the file.
    """
    path = os.environ.get(env) or default
    if path is None:
        raise ConfigValidationError(
            f"pgmonkey_django.config(): the environment variable {env} is not set (or empty) "
            "and no default path was given: set it to the path of a pgmonkey YAML file"
        )
    return database_config(path, **options)
