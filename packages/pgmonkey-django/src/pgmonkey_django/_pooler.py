"""What ``pooler: pgbouncer`` means for a Django ``DATABASES`` entry.

Behind PgBouncer in transaction mode every transaction may run on a different server
connection, so nothing may live in the session:

* no server-side prepared statements: Django's default (``prepare_threshold=None``), so an
  explicit ``prepare_threshold`` is refused;
* no session settings: the core already refuses ``sync_settings``/``async_settings`` and
  ``connection_settings.options`` under ``pooler: pgbouncer``; an ``options["options"]``
  given here and ``assume_role`` (``SET ROLE`` once per connection) are refused too;
* no server-side cursors outside transactions: ``DISABLE_SERVER_SIDE_CURSORS = True`` unless
  the caller passes ``disable_server_side_cursors=False`` explicitly;
* no Django pool: PgBouncer already pools the server connections, so a requested pool becomes
  persistent connections to PgBouncer (``CONN_MAX_AGE``), as when Django cannot pool.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pgmonkey.errors import ConfigValidationError

__all__ = ["POOL_REASON", "behind_pgbouncer", "refuse_session_state"]

POOL_REASON = (
    "the configuration says 'pooler: pgbouncer': PgBouncer already pools the server "
    "connections, and Django's pool in front of it would only add a second layer of idle "
    "connections"
)
"""Why no Django pool is used behind PgBouncer (in warnings and errors)."""

_WHY = (
    "PgBouncer in transaction mode may run each transaction on a different server "
    "connection, so session state is lost or leaks to other clients"
)


def behind_pgbouncer(loaded: Mapping[str, Any]) -> bool:
    """Whether a loaded configuration says ``pooler: pgbouncer``."""
    return loaded.get("pooler") == "pgbouncer"


def refuse_session_state(
    *,
    source: str | None,
    prepare_threshold: int | None,
    assume_role: str | None,
    extra_libpq_options: Any,
) -> None:
    """Refuse the ``database_config`` arguments that need session state behind PgBouncer.

    Raises:
        ConfigValidationError: Naming the argument and the reason.
    """
    if prepare_threshold is not None:
        raise ConfigValidationError(
            f"prepare_threshold={prepare_threshold} cannot be used with 'pooler: pgbouncer': "
            f"server-side prepared statements live in the session and {_WHY} (Django's "
            "default, no prepared statements, is what PgBouncer needs)",
            source=source,
            key_path=("pooler",),
        )
    if assume_role is not None:
        raise ConfigValidationError(
            "assume_role cannot be used with 'pooler: pgbouncer': Django runs SET ROLE once "
            f"per connection and {_WHY}; log in as that role instead",
            source=source,
            key_path=("pooler",),
        )
    if extra_libpq_options:
        raise ConfigValidationError(
            "options['options'] cannot be used with 'pooler: pgbouncer': PgBouncer refuses "
            f"the 'options' startup parameter, and {_WHY}; set them on the server instead "
            "(ALTER ROLE ... SET name = value)",
            source=source,
            key_path=("pooler",),
        )
