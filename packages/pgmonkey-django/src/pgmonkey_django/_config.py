"""A pgmonkey configuration as a Django ``DATABASES`` entry."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping
from typing import Any, Literal, TypedDict, Union

from pgmonkey import load_config
from pgmonkey.config import require_resolved
from pgmonkey.connections import PooledConnection, settle_pool_sizes
from pgmonkey.errors import ConfigValidationError
from pgmonkey_django import _compat
from pgmonkey_django._options import join_options, render_session_options
from pgmonkey_django._pooler import POOL_REASON, behind_pgbouncer, refuse_session_state

__all__ = [
    "ENGINE",
    "DBConfig",
    "PgMonkeyDjangoWarning",
    "PoolFallbackWarning",
    "database_config",
    "databases",
]

logger = logging.getLogger("pgmonkey.django")

ENGINE = "django.db.backends.postgresql"
DEFAULT_FALLBACK_CONN_MAX_AGE = 600
"""``CONN_MAX_AGE`` when a requested pool is unavailable and ``pool_settings`` has no
``max_lifetime`` (which is used instead when given)."""

_POOL_TYPES = frozenset({"pool", "async_pool"})
_SESSION_SECTIONS = ("sync_settings", "async_settings")
_DIRECT_KEYS = {"dbname": "NAME", "user": "USER", "password": "PASSWORD", "host": "HOST"}
_ISOLATION_NAMES = {
    "read_uncommitted": "READ_UNCOMMITTED",
    "read_committed": "READ_COMMITTED",
    "repeatable_read": "REPEATABLE_READ",
    "serializable": "SERIALIZABLE",
}

PathOrDict = Union[str, "os.PathLike[str]", Mapping[str, Any]]


class PgMonkeyDjangoWarning(UserWarning):
    """Base class of the warnings pgmonkey-django emits."""


class PoolFallbackWarning(PgMonkeyDjangoWarning):
    """A pool was asked for but cannot be used here: persistent connections instead."""


class DBConfig(TypedDict, total=False):
    """One ``DATABASES`` entry, the shape of dj-database-url's ``DBConfig``.

    See https://docs.djangoproject.com/en/stable/ref/settings/#databases.
    """

    ENGINE: str
    NAME: str
    USER: str
    PASSWORD: str
    HOST: str
    PORT: str
    OPTIONS: dict[str, Any]
    CONN_MAX_AGE: int | None
    CONN_HEALTH_CHECKS: bool
    ATOMIC_REQUESTS: bool
    AUTOCOMMIT: bool
    DISABLE_SERVER_SIDE_CURSORS: bool
    TEST: dict[str, Any]
    TIME_ZONE: str | None


def _present(value: Any) -> bool:
    return value is not None and value != ""


def _source_name(config: PathOrDict) -> str | None:
    if isinstance(config, Mapping):
        return None
    return os.fspath(config)


def _isolation_level(value: Any) -> Any:
    from psycopg import IsolationLevel

    if isinstance(value, IsolationLevel):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return IsolationLevel(value)
        except ValueError:
            pass
    elif isinstance(value, str):
        key = value.strip().lower().replace(" ", "_").replace("-", "_")
        if key in _ISOLATION_NAMES:
            return IsolationLevel[_ISOLATION_NAMES[key]]
    allowed = ", ".join(repr(n.replace("_", " ")) for n in _ISOLATION_NAMES)
    raise ConfigValidationError(
        f"isolation_level={value!r} is not an isolation level; use one of {allowed} "
        "or a psycopg.IsolationLevel"
    )


def _fallback_conn_max_age(pool_settings: Mapping[str, Any]) -> int:
    lifetime = pool_settings.get("max_lifetime")
    if isinstance(lifetime, (int, float)) and not isinstance(lifetime, bool) and lifetime > 0:
        return int(lifetime)
    return DEFAULT_FALLBACK_CONN_MAX_AGE


def _pool_options(
    pool_settings: Mapping[str, Any], extra: Any, *, source: str | None
) -> dict[str, Any]:
    """``pool_settings`` (+ ``options["pool"]``) as the ``OPTIONS["pool"]`` value."""
    accepted = _compat.accepted_pool_keys()
    forbidden = _compat.forbidden_pool_keys()
    result: dict[str, Any] = {}
    dropped: list[str] = []
    for key, value in pool_settings.items():
        if key == "check_on_checkout" or not _present(value):
            continue
        if key in accepted:
            result[key] = value
        else:
            dropped.append(key)
    if dropped:
        warnings.warn(
            f"{source or 'pgmonkey config'}: pool_settings {', '.join(sorted(dropped))} "
            "not passed to Django's pool: this Django/psycopg_pool does not accept them",
            PgMonkeyDjangoWarning,
            stacklevel=4,
        )
    if isinstance(extra, Mapping):
        for key, value in extra.items():
            if key in forbidden:
                if key == "check":
                    hint = "use conn_health_checks=True (or pool_settings.check_on_checkout)"
                elif key in _compat.PGMONKEY_POOL_KEYS:
                    hint = "pgmonkey sets it (pgmonkey.connections.PooledConnection)"
                else:
                    hint = "Django sets it itself"
                raise ConfigValidationError(
                    f"{key!r} cannot be given to Django {_django_version()}'s pool: {hint}",
                    key_path=("options", "pool", key),
                )
            if key not in accepted:
                raise ConfigValidationError(
                    f"{key!r} is not a psycopg_pool.ConnectionPool option "
                    f"(accepted: {', '.join(sorted(accepted))})",
                    key_path=("options", "pool", key),
                )
            result[key] = value
    elif extra is not None and extra is not True:
        raise ConfigValidationError(
            "options['pool'] must be True or a dict of ConnectionPool options; "
            "use pool=False to turn pooling off",
            key_path=("options", "pool"),
        )
    settle_pool_sizes(result)
    return result


def _django_version() -> str:
    import django

    return ".".join(str(n) for n in django.VERSION[:3])


def database_config(
    path_or_dict: PathOrDict,
    *,
    pool: bool | Literal["auto"] = "auto",
    session_settings: Literal["sync_settings", "async_settings"] | None = "sync_settings",
    conn_max_age: int | None = None,
    conn_health_checks: bool | None = None,
    atomic_requests: bool | None = None,
    autocommit: bool | None = None,
    disable_server_side_cursors: bool | None = None,
    server_side_binding: bool | None = None,
    isolation_level: str | int | None = None,
    assume_role: str | None = None,
    prepare_threshold: int | None = None,
    test: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    resolve_env: bool = False,
    engine: str = ENGINE,
) -> DBConfig:
    """Build one Django ``DATABASES`` entry from a pgmonkey configuration.

    The configuration goes through :func:`pgmonkey.load_config` (validation, normalisation,
    and ``${VAR}``/``from_env``/``from_file`` when ``resolve_env`` is true).

    * ``connection_settings``: ``dbname``/``user``/``password``/``host``/``port`` become
      ``NAME``/``USER``/``PASSWORD``/``HOST``/``PORT``; every other libpq keyword goes to
      ``OPTIONS``. ``autocommit`` is left to Django (``AUTOCOMMIT``, see ``autocommit``).
    * ``pool_settings`` become ``OPTIONS["pool"]`` (only keys this Django and psycopg_pool
      accept; never ``open``/``kwargs``/``configure``, ``check`` only via health checks) with
      ``CONN_MAX_AGE = 0``; ``check_on_checkout`` becomes ``CONN_HEALTH_CHECKS``.
    * The session settings become ``-c name=value`` words of ``OPTIONS["options"]``, after
      any ``options`` from ``connection_settings``.
    * ``pooler: pgbouncer`` (transaction pooling): ``DISABLE_SERVER_SIDE_CURSORS = True``,
      no Django pool (persistent connections to PgBouncer instead, see ``pool``), and the
      arguments that need session state (``prepare_threshold``, ``assume_role``,
      ``options["options"]``) are refused; the core already refuses session settings there.

    Args:
        path_or_dict: A YAML file path or an already-loaded pgmonkey configuration dict.
        pool: ``True``/``False``, or ``"auto"``: pool when the configuration's
            ``connection_type`` is ``pool`` or ``async_pool``. A pool that cannot be used
            here (Django < 5.1, psycopg_pool missing or < 3.2, psycopg2) gives a
            :class:`PoolFallbackWarning` and persistent connections instead; the ``pool``
            key is never emitted where Django does not understand it. Under ``pooler:
            pgbouncer`` no Django pool is used either: ``"auto"`` quietly gives persistent
            connections to PgBouncer, ``True`` does the same with a
            :class:`PoolFallbackWarning`.
        session_settings: Which section holds the session settings (GUCs), or ``None``.
        conn_max_age: ``CONN_MAX_AGE`` when no pool is used. Default: ``0``, or, when a
            requested pool is unavailable, ``pool_settings.max_lifetime`` (else 600).
        conn_health_checks: ``CONN_HEALTH_CHECKS``. Default: ``check_on_checkout``.
        atomic_requests: ``ATOMIC_REQUESTS`` (omitted when ``None``: Django's default).
        autocommit: ``AUTOCOMMIT`` (omitted when ``None``).
        disable_server_side_cursors: ``DISABLE_SERVER_SIDE_CURSORS`` (PgBouncer in
            transaction mode). Default: ``True`` under ``pooler: pgbouncer``, else omitted.
        server_side_binding: ``OPTIONS["server_side_binding"]``.
        isolation_level: ``OPTIONS["isolation_level"]``: a name such as ``"serializable"``
            or ``"repeatable read"``, an int, or a ``psycopg.IsolationLevel``.
        assume_role: ``OPTIONS["assume_role"]`` (``SET ROLE`` on each connection).
        prepare_threshold: ``OPTIONS["prepare_threshold"]`` (Django's default: no prepared
            statements). Refused under ``pooler: pgbouncer``.
        test: ``TEST`` (e.g. ``{"NAME": ..., "MIRROR": "default"}``).
        options: Merged into ``OPTIONS`` last. ``options["options"]`` is appended to the
            libpq options string; ``options["pool"]`` (a dict) is merged into the pool
            options and checked against what ``ConnectionPool`` accepts.
        resolve_env: Resolve environment and secret-file references in the configuration.
        engine: ``ENGINE`` (e.g. ``"django.contrib.gis.db.backends.postgis"``).

    Returns:
        A new plain dict of Django keys.

    Raises:
        pgmonkey.errors.ConfigError: The configuration or an argument cannot be used; the
            message names the file and key, never a secret.
    """
    if pool not in (True, False, "auto"):
        raise ConfigValidationError(f"pool={pool!r}: use True, False or 'auto'")
    if session_settings is not None and session_settings not in _SESSION_SECTIONS:
        raise ConfigValidationError(
            f"session_settings={session_settings!r}: use 'sync_settings', 'async_settings' or None"
        )
    source = _source_name(path_or_dict)
    where = source or "pgmonkey config"
    loaded = load_config(
        dict(path_or_dict) if isinstance(path_or_dict, Mapping) else path_or_dict,
        resolve_env=resolve_env,
    )

    require_resolved(loaded)
    pgbouncer = behind_pgbouncer(loaded)
    extra: dict[str, Any] = dict(options or {})
    extra_pool = extra.pop("pool", None)
    extra_libpq_options = extra.pop("options", None)
    if pgbouncer:
        refuse_session_state(
            source=source,
            prepare_threshold=prepare_threshold,
            assume_role=assume_role,
            extra_libpq_options=extra_libpq_options,
        )

    connection = {
        k: v for k, v in dict(loaded.get("connection_settings") or {}).items() if _present(v)
    }
    yaml_autocommit = connection.pop("autocommit", None)
    if yaml_autocommit is False:
        warnings.warn(
            f"{where}: connection_settings.autocommit=false is ignored: Django manages "
            "transactions itself (pass autocommit=False to database_config for AUTOCOMMIT)",
            PgMonkeyDjangoWarning,
            stacklevel=2,
        )
    result: DBConfig = {"ENGINE": engine}
    for key, django_key in _DIRECT_KEYS.items():
        value = connection.pop(key, "")
        # A from_file secret stays the object it is: the pool's connections re-read it.
        text = value if isinstance(value, str) else str(value)
        result[django_key] = text  # type: ignore[literal-required]
    result["PORT"] = str(connection.pop("port", ""))
    opts: dict[str, Any] = connection

    # Session settings, appended to any libpq options already given.
    if session_settings is not None:
        gucs = loaded.get(session_settings) or {}
        if not isinstance(gucs, Mapping):
            raise ConfigValidationError(
                "must be a mapping of setting name to value",
                source=source,
                key_path=(session_settings,),
            )
        rendered = render_session_options(gucs, source=source, section=session_settings)
        if rendered:
            opts["options"] = join_options(opts.get("options"), rendered)

    # Pool or persistent connections.
    pool_settings: Mapping[str, Any] = loaded.get("pool_settings") or {}
    requested = (loaded.get("connection_type") in _POOL_TYPES) if pool == "auto" else pool
    use_pool = False
    if requested:
        reason = POOL_REASON if pgbouncer else _compat.pool_unavailable_reason()
        if pgbouncer and pool == "auto":
            logger.debug("%s: no Django pool behind PgBouncer (pooler: pgbouncer)", where)
        elif reason is None:
            use_pool = True
        else:
            warnings.warn(
                f"{where}: a connection pool was requested but {reason}; using persistent "
                "connections (CONN_MAX_AGE) instead",
                PoolFallbackWarning,
                stacklevel=2,
            )
    if extra_pool not in (None, False) and not use_pool:
        why = POOL_REASON if pgbouncer else _compat.pool_unavailable_reason()
        raise ConfigValidationError(
            f"options['pool'] given but no pool is used here ({why or 'pooling is off'})",
            key_path=("options", "pool"),
        )
    if use_pool:
        if conn_max_age not in (None, 0) and pool is True:
            raise ConfigValidationError(
                f"conn_max_age={conn_max_age} contradicts pool=True: Django's pool needs "
                "CONN_MAX_AGE = 0 (conn_max_age only applies when no pool is used)"
            )
        # Django's pool connects through this class: each new connection re-reads a rotated
        # from_file secret and calls the credential_provider, and an attempt made while no
        # server is up (a failover, a restart) is retried within half a second.
        opts["pool"] = {
            **_pool_options(pool_settings, extra_pool, source=source),
            "connection_class": PooledConnection,
        }
        result["CONN_MAX_AGE"] = 0
    elif "credential_provider" in connection:
        raise ConfigValidationError(
            "credential_provider needs Django's connection pool (Django >= 5.1 with "
            "psycopg_pool, no pooler: pgbouncer, pool not False): Django opens connections "
            "without a pool through psycopg.connect, which has no hook to call it",
            source=source,
            key_path=("connection_settings", "credential_provider"),
        )
    elif conn_max_age is not None:
        result["CONN_MAX_AGE"] = conn_max_age
    else:
        result["CONN_MAX_AGE"] = _fallback_conn_max_age(pool_settings) if requested else 0
    check = pool_settings.get("check_on_checkout")
    result["CONN_HEALTH_CHECKS"] = bool(
        conn_health_checks if conn_health_checks is not None else check
    )

    # Django's own OPTIONS keys.
    if isolation_level is not None:
        opts["isolation_level"] = _isolation_level(isolation_level)
    if assume_role is not None:
        opts["assume_role"] = assume_role
    if server_side_binding is not None:
        opts["server_side_binding"] = server_side_binding
    if prepare_threshold is not None:
        opts["prepare_threshold"] = prepare_threshold
    opts.update(extra)
    if extra_libpq_options:
        opts["options"] = join_options(opts.get("options"), str(extra_libpq_options))
    result["OPTIONS"] = opts

    if atomic_requests is not None:
        result["ATOMIC_REQUESTS"] = atomic_requests
    if autocommit is not None:
        result["AUTOCOMMIT"] = autocommit
    if disable_server_side_cursors is not None:
        result["DISABLE_SERVER_SIDE_CURSORS"] = disable_server_side_cursors
    elif pgbouncer:
        # Django's server-side cursors (QuerySet.iterator()) are WITH HOLD cursors outside
        # transactions, which transaction pooling cannot keep.
        result["DISABLE_SERVER_SIDE_CURSORS"] = True
    if test is not None:
        result["TEST"] = dict(test)
    logger.debug(
        "%s: DATABASES entry built (pool=%s, CONN_MAX_AGE=%s)",
        where,
        use_pool,
        result["CONN_MAX_AGE"],
    )
    return result


_KEYWORDS = frozenset(
    {
        "pool",
        "session_settings",
        "conn_max_age",
        "conn_health_checks",
        "atomic_requests",
        "autocommit",
        "disable_server_side_cursors",
        "server_side_binding",
        "isolation_level",
        "assume_role",
        "prepare_threshold",
        "test",
        "options",
        "resolve_env",
        "engine",
    }
)


def databases(
    mapping: Mapping[str, PathOrDict | tuple[PathOrDict, Mapping[str, Any]]],
) -> dict[str, DBConfig]:
    """Build a whole ``DATABASES`` setting, one :func:`database_config` call per alias.

    Args:
        mapping: alias -> a YAML path or config dict, or a ``(source, overrides)`` pair
            where ``overrides`` holds :func:`database_config` keyword arguments.

    Returns:
        alias -> ``DATABASES`` entry.

    Raises:
        pgmonkey.errors.ConfigError: An alias's configuration or overrides cannot be used.
    """
    result: dict[str, DBConfig] = {}
    for alias, spec in mapping.items():
        if isinstance(spec, tuple):
            pair: tuple[Any, ...] = spec
            if len(pair) != 2 or not isinstance(pair[1], Mapping):
                raise ConfigValidationError(
                    f"databases(): alias {alias!r}: use a path, a config dict, or a "
                    "(path_or_dict, {overrides}) pair"
                )
            source, overrides = pair
            unknown = sorted(set(overrides) - _KEYWORDS)
            if unknown:
                raise ConfigValidationError(
                    f"databases(): alias {alias!r}: unknown option(s) {', '.join(unknown)} "
                    f"(allowed: {', '.join(sorted(_KEYWORDS))})"
                )
            result[alias] = database_config(source, **overrides)
        else:
            result[alias] = database_config(spec)
    return result
