"""What a pgmonkey configuration may contain: sections, keys and their types."""

from __future__ import annotations

import difflib
import functools
import logging
from collections.abc import Iterable

__all__ = [
    "BOOL",
    "CONNECTION_TYPES",
    "FLOAT",
    "GUC",
    "INT",
    "NEWER_LIBPQ_KEYS",
    "PGMONKEY_CONNECTION_KEYS",
    "POOLERS",
    "POOL_KEYS",
    "PORT",
    "PROVIDER",
    "SECTIONS",
    "SETTINGS_SECTIONS",
    "SSLMODES",
    "STR",
    "closest",
    "connection_key_kind",
    "libpq_keywords",
    "libpq_version",
]

CONNECTION_TYPES: tuple[str, ...] = ("normal", "pool", "async", "async_pool")
SSLMODES: tuple[str, ...] = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")

#: Every top-level key, in the order of the normalised result.
SECTIONS: tuple[str, ...] = (
    "connection_type",
    "pooler",  # only present in the normalised result when the configuration sets it
    "metrics",  # likewise; the OpenTelemetry switch of every type (pool sections may override)
    "connection_settings",
    "pool_settings",
    "async_pool_settings",
    "sync_settings",
    "async_settings",
)
POOL_SECTIONS: tuple[str, ...] = ("pool_settings", "async_pool_settings")
SETTINGS_SECTIONS: tuple[str, ...] = ("sync_settings", "async_settings")

#: Values of the top-level ``pooler`` key: what sits between pgmonkey and the server.
POOLERS: tuple[str, ...] = ("none", "pgbouncer")

#: libpq keywords newer than libpq 15, and the ``PQlibVersion()`` that introduced them.
NEWER_LIBPQ_KEYS: dict[str, int] = {
    "load_balance_hosts": 160000,
    "require_auth": 160000,
    "sslcertmode": 160000,
    "sslnegotiation": 170000,
}

# Value kinds.
STR = "str"
INT = "int"
FLOAT = "float"
BOOL = "bool"
PORT = "port"  # an int, or a comma-separated list of ports for multi-host strings
GUC = "guc"  # a session parameter value, sent as text
PROVIDER = "provider"  # a "package.module:function" imported when loading

#: ``connection_settings`` keys pgmonkey itself uses (not libpq keywords).
PGMONKEY_CONNECTION_KEYS: tuple[str, ...] = ("autocommit", "credential_provider")

#: Keys of ``pool_settings``/``async_pool_settings`` and their kinds.
POOL_KEYS: dict[str, str] = {
    "min_size": INT,
    "max_size": INT,
    "max_waiting": INT,
    "num_workers": INT,
    "timeout": FLOAT,
    "max_idle": FLOAT,
    "max_lifetime": FLOAT,
    "reconnect_timeout": FLOAT,
    "check_on_checkout": BOOL,
    "name": STR,
    "metrics": BOOL,
}

#: ``connection_settings`` keys whose kind is not plain text.
_TYPED_CONNECTION_KEYS: dict[str, str] = {
    "port": PORT,
    "connect_timeout": INT,
    "keepalives": INT,
    "keepalives_idle": INT,
    "keepalives_interval": INT,
    "keepalives_count": INT,
    "tcp_user_timeout": INT,
    "autocommit": BOOL,
    "credential_provider": PROVIDER,
}

# Always accepted, even if the libpq in use is too old to list them (libpq then reports them).
_BASELINE_LIBPQ: tuple[str, ...] = (
    "user",
    "password",
    "host",
    "hostaddr",
    "port",
    "dbname",
    "passfile",
    "service",
    "options",
    "sslmode",
    "sslcert",
    "sslkey",
    "sslrootcert",
    "sslpassword",
    "sslcrl",
    "connect_timeout",
    "application_name",
    "fallback_application_name",
    "client_encoding",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "target_session_attrs",
    "channel_binding",
    "gssencmode",
    "krbsrvname",
    "requirepeer",
)
_BASELINE_SET = frozenset(_BASELINE_LIBPQ)

#: Friendly hints for names people often write instead of the libpq keyword.
ALIASES: dict[str, str] = {
    "database": "dbname",
    "db": "dbname",
    "db_name": "dbname",
    "username": "user",
    "pass": "password",
    "passwd": "password",
    "pwd": "password",
    "hostname": "host",
    "server": "host",
    "ssl_mode": "sslmode",
    "ssl": "sslmode",
    "timeout": "connect_timeout",
    "appname": "application_name",
    "app_name": "application_name",
    "min": "min_size",
    "max": "max_size",
    "minconn": "min_size",
    "maxconn": "max_size",
}


@functools.lru_cache(maxsize=1)
def libpq_keywords() -> frozenset[str]:
    """Return every connection keyword the libpq in use accepts, plus a fixed baseline.

    The list comes from ``psycopg.pq.Conninfo.get_defaults()`` (``PQconndefaults``); it
    imports psycopg, so it is computed once and only asked when a key is not in the baseline.
    """
    names = set(_BASELINE_LIBPQ)
    try:
        from psycopg import pq

        for option in pq.Conninfo.get_defaults():
            names.add(option.keyword.decode("ascii", "replace"))
    except Exception:  # pragma: no cover - libpq unavailable: the baseline still works
        logging.getLogger("pgmonkey.config").debug("libpq keywords unavailable", exc_info=True)
    return frozenset(names)


def libpq_version() -> int:
    """The libpq version in use (``psycopg.pq.version()``, e.g. ``160002``); 0 if unknown."""
    try:
        from psycopg import pq

        return int(pq.version())
    except Exception:  # pragma: no cover - libpq unavailable
        return 0


def connection_key_kind(key: str) -> str | None:
    """Return the kind of a ``connection_settings`` key, or ``None`` for an unknown key."""
    kind = _TYPED_CONNECTION_KEYS.get(key)
    if kind is not None:
        return kind
    # The baseline answers the common keys without importing psycopg (CLI start-up).
    return STR if key in _BASELINE_SET or key in libpq_keywords() else None


def connection_keys() -> frozenset[str]:
    """Every valid ``connection_settings`` key (libpq keywords and pgmonkey's own)."""
    return libpq_keywords() | set(PGMONKEY_CONNECTION_KEYS)


def closest(key: object, candidates: Iterable[str], *, cutoff: float = 0.6) -> str | None:
    """Return the valid name closest to ``key`` (``difflib``, at least ``cutoff``), or ``None``."""
    text = str(key)
    pool = list(candidates)
    alias = ALIASES.get(text.lower())
    if alias is not None and alias in pool:
        return alias
    matches = difflib.get_close_matches(text, pool, n=1, cutoff=cutoff)
    if not matches:
        matches = difflib.get_close_matches(text.lower(), pool, n=1, cutoff=cutoff)
    return matches[0] if matches else None
