"""System checks for the known traps of Django + psycopg pools (``manage.py check``).

IDs: ``pgmonkey.E001`` pool on a Django without pooling; ``E002`` psycopg_pool missing or
too old; ``E003`` ``CONN_MAX_AGE`` with a pool; ``E004`` psycopg2 with a pool; ``E005`` a
pool option Django sets itself; ``E006`` a pool option psycopg_pool does not know;
``W001`` empty placeholder values in ``OPTIONS``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import django
from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from pgmonkey_django import _compat

__all__ = ["check_database", "check_databases"]

TAG = "pgmonkey"


def _is_postgres(engine: Any) -> bool:
    return isinstance(engine, str) and ("postgresql" in engine or "postgis" in engine)


def _django_version() -> str:
    return ".".join(str(n) for n in django.VERSION[:3])


def check_database(alias: str, entry: Mapping[str, Any]) -> list[CheckMessage]:
    """Check one ``DATABASES`` entry; non-PostgreSQL engines give nothing."""
    if not _is_postgres(entry.get("ENGINE")):
        return []
    messages: list[CheckMessage] = []
    obj = f"DATABASES[{alias!r}]"
    options = entry.get("OPTIONS") or {}
    empties = sorted(k for k, v in options.items() if v == "")
    if empties:
        messages.append(
            Warning(
                f"OPTIONS has empty values for {', '.join(empties)}.",
                hint="Remove the empty placeholders (pgmonkey_django.database_config drops "
                "them): libpq reads some of them as real values.",
                obj=obj,
                id="pgmonkey.W001",
            )
        )
    if "pool" not in options:
        return messages
    pool = options["pool"]
    if not _compat.django_has_pool():
        messages.append(
            Error(
                f"OPTIONS['pool'] is given but Django {_django_version()} has no connection "
                "pool: psycopg rejects it as 'invalid connection option \"pool\"' "
                "(even pool=False).",
                hint="Remove the 'pool' key, or upgrade to Django >= 5.1. "
                "pgmonkey_django.database_config() never emits it here.",
                obj=obj,
                id="pgmonkey.E001",
            )
        )
        return messages
    if not pool:
        return messages
    reason = _compat.pool_unavailable_reason()
    if reason is not None and "psycopg_pool" in reason:
        messages.append(
            Error(
                f"OPTIONS['pool'] is set but {reason}.",
                hint="pip install 'psycopg[pool]>=3.2' (or 'psycopg-pool>=3.2').",
                obj=obj,
                id="pgmonkey.E002",
            )
        )
    elif reason is not None:
        messages.append(
            Error(
                f"OPTIONS['pool'] is set but {reason}.",
                hint="pip install 'psycopg[binary]' (psycopg 3).",
                obj=obj,
                id="pgmonkey.E004",
            )
        )
    if entry.get("CONN_MAX_AGE", 0) != 0:
        messages.append(
            Error(
                f"CONN_MAX_AGE is {entry.get('CONN_MAX_AGE')!r} with OPTIONS['pool']: Django "
                'raises "Pooling doesn\'t support persistent connections."',
                hint="Set CONN_MAX_AGE = 0; the pool's max_lifetime/max_idle decide how long "
                "connections live.",
                obj=obj,
                id="pgmonkey.E003",
            )
        )
    if isinstance(pool, Mapping):
        messages.extend(_check_pool_keys(pool, obj))
    return messages


def _check_pool_keys(pool: Mapping[str, Any], obj: str) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    # connection_class is database_config's own (PooledConnection): Django never passes it.
    forbidden = sorted(set(pool) & _compat.django_pool_keys())
    if forbidden:
        hint = "Remove them: Django passes them to ConnectionPool itself."
        if "check" in forbidden:
            hint += " For 'check', set CONN_HEALTH_CHECKS = True (before Django 6.1)."
        messages.append(
            Error(
                f"OPTIONS['pool'] contains {', '.join(forbidden)}: Django "
                f'{_django_version()} fails with "ConnectionPool() got multiple values '
                'for keyword argument".',
                hint=hint,
                obj=obj,
                id="pgmonkey.E005",
            )
        )
    accepted = _compat.accepted_pool_keys()
    if accepted:
        unknown = sorted(set(pool) - accepted - _compat.forbidden_pool_keys())
        if unknown:
            messages.append(
                Error(
                    f"OPTIONS['pool'] contains {', '.join(unknown)}, which the installed "
                    "psycopg_pool.ConnectionPool does not accept.",
                    hint=f"Accepted: {', '.join(sorted(accepted))}.",
                    obj=obj,
                    id="pgmonkey.E006",
                )
            )
    return messages


@register(TAG)
def check_databases(
    app_configs: Iterable[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Check every PostgreSQL entry of ``settings.DATABASES``."""
    messages: list[CheckMessage] = []
    for alias, entry in (getattr(settings, "DATABASES", None) or {}).items():
        if isinstance(entry, Mapping):
            messages.extend(check_database(alias, entry))
    return messages
