"""What the running Django and psycopg_pool support (pooling, pool options)."""

from __future__ import annotations

import inspect
from functools import lru_cache

import django

__all__ = [
    "CHECK_IN_POOL_DICT",
    "DJANGO_POOL",
    "DJANGO_POOL_KEYS",
    "FORBIDDEN_POOL_KEYS",
    "MIN_POOL_VERSION",
    "PGMONKEY_POOL_KEYS",
    "accepted_pool_keys",
    "django_accepts_check",
    "django_has_pool",
    "django_pool_keys",
    "forbidden_pool_keys",
    "pool_unavailable_reason",
    "psycopg_pool_version",
]

DJANGO_POOL = (5, 1)
"""First Django version with the native psycopg pool (``OPTIONS["pool"]``)."""

CHECK_IN_POOL_DICT = (6, 1)
"""First Django version that lets ``OPTIONS["pool"]`` carry ``check`` (5.1-6.0 pass it too)."""

MIN_POOL_VERSION = (3, 2)
"""Django's pool passes ``check=`` to ``ConnectionPool``, which psycopg_pool 3.1 rejects."""

DJANGO_POOL_KEYS = frozenset({"conninfo", "kwargs", "open", "configure"})
"""Keys Django passes to ``ConnectionPool`` itself: also giving them is a ``TypeError``."""

PGMONKEY_POOL_KEYS = frozenset({"connection_class"})
"""Keys ``database_config`` sets itself (``connection_class``: pgmonkey's ``PooledConnection``)."""

FORBIDDEN_POOL_KEYS = DJANGO_POOL_KEYS | PGMONKEY_POOL_KEYS
"""Keys ``options["pool"]`` may not carry."""


def django_has_pool(version: tuple[int, ...] | None = None) -> bool:
    """Whether this Django (or ``version``) understands ``OPTIONS["pool"]``."""
    return tuple((version or django.VERSION)[:2]) >= DJANGO_POOL


def django_accepts_check(version: tuple[int, ...] | None = None) -> bool:
    """Whether ``OPTIONS["pool"]`` may contain ``check`` on this Django (or ``version``)."""
    return tuple((version or django.VERSION)[:2]) >= CHECK_IN_POOL_DICT


def django_pool_keys(version: tuple[int, ...] | None = None) -> frozenset[str]:
    """The ``OPTIONS["pool"]`` keys that make this Django's ``ConnectionPool()`` call fail."""
    if django_accepts_check(version):
        return DJANGO_POOL_KEYS
    return DJANGO_POOL_KEYS | {"check"}


def forbidden_pool_keys(version: tuple[int, ...] | None = None) -> frozenset[str]:
    """The keys ``options["pool"]`` of ``database_config`` may not carry on this Django."""
    return django_pool_keys(version) | PGMONKEY_POOL_KEYS


def _version_tuple(text: str) -> tuple[int, ...]:
    parts: list[int] = []
    for piece in text.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
        if digits != piece:
            break
    return tuple(parts)


@lru_cache(maxsize=1)
def psycopg_pool_version() -> tuple[int, ...] | None:
    """The installed psycopg_pool version, or ``None`` when it cannot be imported."""
    try:
        import psycopg_pool
    except ImportError:
        return None
    return _version_tuple(getattr(psycopg_pool, "__version__", "0"))


@lru_cache(maxsize=1)
def _constructor_keys() -> frozenset[str]:
    from psycopg_pool import ConnectionPool

    params = inspect.signature(ConnectionPool.__init__).parameters
    return frozenset(
        name
        for name, p in params.items()
        if name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    )


def accepted_pool_keys(version: tuple[int, ...] | None = None) -> frozenset[str]:
    """The ``OPTIONS["pool"]`` keys this Django and the installed psycopg_pool both accept.

    Empty when psycopg_pool is not installed.
    """
    if psycopg_pool_version() is None:
        return frozenset()
    return _constructor_keys() - forbidden_pool_keys(version)


def pool_unavailable_reason(version: tuple[int, ...] | None = None) -> str | None:
    """Why Django's native pool cannot be used here, or ``None`` when it can."""
    current = tuple((version or django.VERSION)[:3])
    if not django_has_pool(current):
        shown = ".".join(str(n) for n in current)
        return f"Django {shown} has no connection pool (it needs Django >= 5.1)"
    pool_version = psycopg_pool_version()
    if pool_version is None:
        return "psycopg_pool is not installed (pip install 'psycopg[pool]')"
    if pool_version[:2] < MIN_POOL_VERSION:
        shown = ".".join(str(n) for n in pool_version)
        return f"psycopg_pool {shown} is too old for Django's pool (it needs >= 3.2)"
    try:
        from django.db.backends.postgresql.psycopg_any import is_psycopg3
    except ImportError:
        return "neither psycopg nor psycopg2 is installed"
    if not is_psycopg3:
        return "Django uses psycopg2, and its pool needs psycopg 3"
    return None
