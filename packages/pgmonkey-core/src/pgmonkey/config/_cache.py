"""``load_config_cached``: repeated loads of an unchanged file cost a ``stat`` call."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pgmonkey.config._api import evaluate, raise_first
from pgmonkey.config._secret_file import FileIdentity, FileSecret, file_identity
from pgmonkey.errors import ConfigFileError

__all__ = ["LoadedConfig", "clear_config_cache", "config_digest", "load_config_cached"]


def config_digest(cfg: Mapping[str, Any]) -> str:
    """Return the hex SHA-256 of a (normalised) configuration, usable as a cache key.

    The digest covers every value (the password too), serialised as canonical JSON, so a
    dict source and a file with the same settings give the same digest. A ``from_file``
    secret counts as its file, not its text: connections re-read a rotated file, so the
    configuration (and the pool the manager caches for it) stays the same.

    Args:
        cfg: A configuration as returned by :func:`~pgmonkey.config.load_config`.

    Returns:
        64 hexadecimal characters.
    """
    cfg = _by_reference(cfg)
    try:
        text = json.dumps(cfg, sort_keys=True, separators=(",", ":"), default=str)
    except (TypeError, ValueError):  # keys that do not sort together (1 and "b"), huge ints
        text = json.dumps(_canonical(cfg), sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _by_reference(value: Any) -> Any:
    """``value`` with each :class:`FileSecret` replaced by its ``{from_file: path}``."""
    if isinstance(value, FileSecret):
        return {"from_file": value.path}
    if isinstance(value, Mapping):
        return {key: _by_reference(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_by_reference(item) for item in value]
    return value


def _canonical(value: Any) -> Any:
    """``value`` with every mapping key as text (typed, so ``1`` and ``"1"`` stay apart)."""
    if isinstance(value, Mapping):
        return {
            key if isinstance(key, str) else f"{type(key).__name__}:{key!r}": _canonical(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value.bit_length() <= 64 else f"int:{value.bit_length()}:{value % 2**64}"
    return value


@dataclass(frozen=True, repr=False, eq=False)
class LoadedConfig:
    """A loaded configuration and its digest.

    Attributes:
        config: The normalised configuration (shared by every caller: do not mutate it).
        digest: :func:`config_digest` of ``config``.
        path: The file it came from.
    """

    config: dict[str, Any]
    digest: str
    path: str

    def __repr__(self) -> str:
        return f"LoadedConfig(path={self.path!r}, digest={self.digest[:12]!r})"


_FileKey = tuple[int, int, int, int]


@dataclass(frozen=True)
class _Entry:
    identity: _FileKey
    loaded: LoadedConfig
    env_deps: tuple[tuple[str, str | None], ...]
    file_deps: tuple[tuple[str, FileIdentity], ...]

    def __repr__(self) -> str:
        return f"_Entry({self.loaded!r})"


_cache: dict[tuple[str, bool, bool], _Entry] = {}
_lock = threading.Lock()


def _still_valid(entry: _Entry, identity: FileIdentity) -> bool:
    if identity != entry.identity:
        return False
    if entry.env_deps:
        environ = os.environ
        for name, value in entry.env_deps:
            if environ.get(name) != value:
                return False
    return all(file_identity(path) == known for path, known in entry.file_deps)


def load_config_cached(
    path: str | os.PathLike[str],
    *,
    resolve_env: bool = False,
    allow_sensitive_defaults: bool = False,
) -> LoadedConfig:
    """Load a configuration file, re-reading it only when it (or what it refers to) changed.

    The file's identity (device, inode, size, mtime_ns) is checked on every call; with
    ``resolve_env``, so are the environment variables and secret files it referenced. When
    nothing changed, the previous result is returned without reading or parsing anything.
    Errors are never cached.

    Args:
        path: The YAML file.
        resolve_env: As for :func:`~pgmonkey.config.load_config`.
        allow_sensitive_defaults: As for :func:`~pgmonkey.config.load_config`.

    Returns:
        The :class:`LoadedConfig` (its ``config`` is shared: do not mutate it).

    Raises:
        pgmonkey.errors.ConfigError: As for :func:`~pgmonkey.config.load_config`.
    """
    name = os.fspath(path)
    if not isinstance(name, str):
        raise ConfigFileError("the configuration path must be text, not bytes")
    key = (name, resolve_env, allow_sensitive_defaults)
    identity = file_identity(name)
    entry = _cache.get(key)
    if entry is not None and identity is not None and _still_valid(entry, identity):
        return entry.loaded
    outcome = evaluate(
        name,
        resolve_env=resolve_env,
        allow_sensitive_defaults=allow_sensitive_defaults,
        strict=False,
    )
    raise_first(outcome)
    loaded = LoadedConfig(
        config=outcome.config, digest=config_digest(outcome.config), path=str(name)
    )
    if identity is not None:
        with _lock:
            _cache[key] = _Entry(
                identity=identity,
                loaded=loaded,
                env_deps=tuple(outcome.env_deps.items()),
                file_deps=tuple(outcome.file_deps.items()),
            )
    return loaded


def clear_config_cache() -> None:
    """Forget every configuration remembered by :func:`load_config_cached`."""
    with _lock:
        _cache.clear()
