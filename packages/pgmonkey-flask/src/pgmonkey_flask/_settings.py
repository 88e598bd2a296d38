"""Reading and checking the ``PGMONKEY_*`` keys of ``app.config`` (private)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask

from pgmonkey import load_config
from pgmonkey.errors import ConfigValidationError

__all__ = ["COMMIT_MODES", "CONNECTION_TYPES", "DEFAULT", "ExtensionSettings", "read_settings"]

DEFAULT = "default"
CONNECTION_TYPES = ("pool", "normal")
COMMIT_MODES = ("manual", "autocommit", "autocommit_include_redirect")
_ASYNC_TYPES = ("async", "async_pool")
_SOURCE = "app.config"


@dataclass(frozen=True)
class ExtensionSettings:
    """What ``init_app`` read from ``app.config``, checked and loaded.

    Attributes:
        configs: Database name -> normalised pgmonkey configuration (``"default"`` first).
        sources: Database name -> where its configuration came from (a path, or ``"dict"``).
        connection_type: ``"pool"`` or ``"normal"``.
        commit_mode: One of :data:`COMMIT_MODES`.
        resolve_env: Whether ``${VAR}`` references were resolved.
    """

    configs: Mapping[str, Mapping[str, Any]]
    sources: Mapping[str, str]
    connection_type: str
    commit_mode: str
    resolve_env: bool


def _invalid(key: str, message: str) -> ConfigValidationError:
    return ConfigValidationError(message, source=_SOURCE, key_path=[key])


def _choice(app: Flask, key: str, default: str, allowed: tuple[str, ...]) -> str:
    value = app.config.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str) or value.strip().lower() not in allowed:
        raise _invalid(key, f"must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value.strip().lower()


def _connection_type(app: Flask) -> str:
    value = app.config.get("PGMONKEY_CONNECTION_TYPE")
    if isinstance(value, str) and value.strip().lower() in _ASYNC_TYPES:
        raise _invalid(
            "PGMONKEY_CONNECTION_TYPE",
            f"{value!r} is not supported by the Flask extension: Flask runs each async view in "
            "a fresh event loop, so an async connection or pool (bound to one loop) cannot be "
            "shared between requests. Use 'pool' (the default) or 'normal'; async views can "
            "still use the sync connection from pg.connection().",
        )
    return _choice(app, "PGMONKEY_CONNECTION_TYPE", "pool", CONNECTION_TYPES)


def _describe(source: object) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return "dict"


def _key(name: str) -> str:
    return "PGMONKEY_CONFIG" if name == DEFAULT else f"PGMONKEY_DATABASES.{name}"


def _load(source: object, key: str, resolve_env: bool) -> dict[str, Any]:
    if isinstance(source, Mapping):
        return load_config(dict(source), resolve_env=resolve_env)
    if isinstance(source, (str, os.PathLike)):
        return load_config(source, resolve_env=resolve_env)
    raise _invalid(
        key, f"must be a path to a pgmonkey YAML file or a dict, got {type(source).__name__}"
    )


def read_settings(app: Flask) -> ExtensionSettings:
    """Read, check and load every ``PGMONKEY_*`` key of ``app.config``.

    Raises:
        ConfigError: A key is missing or invalid, or a configuration cannot be loaded (the
            core's errors name the file and the key).
    """
    resolve_env = bool(app.config.get("PGMONKEY_RESOLVE_ENV", False))
    connection_type = _connection_type(app)
    commit_mode = _choice(app, "PGMONKEY_COMMIT_MODE", "manual", COMMIT_MODES)
    sources: dict[str, object] = {}
    default = app.config.get("PGMONKEY_CONFIG")
    if default is not None:
        sources[DEFAULT] = default
    extra = app.config.get("PGMONKEY_DATABASES") or {}
    if not isinstance(extra, Mapping):
        raise _invalid(
            "PGMONKEY_DATABASES", "must be a dict of database name -> path or dict of settings"
        )
    for name, source in extra.items():
        if not isinstance(name, str) or not name:
            raise _invalid("PGMONKEY_DATABASES", f"database names must be strings, got {name!r}")
        if name == DEFAULT and DEFAULT in sources:
            raise _invalid(
                "PGMONKEY_DATABASES",
                "'default' is already given by PGMONKEY_CONFIG; use another name",
            )
        sources[name] = source
    if not sources:
        raise _invalid(
            "PGMONKEY_CONFIG",
            "is not set: give the path of a pgmonkey YAML file (or a dict) before init_app()",
        )
    configs = {name: _load(source, _key(name), resolve_env) for name, source in sources.items()}
    return ExtensionSettings(
        configs=configs,
        sources={name: _describe(source) for name, source in sources.items()},
        connection_type=connection_type,
        commit_mode=commit_mode,
        resolve_env=resolve_env,
    )
