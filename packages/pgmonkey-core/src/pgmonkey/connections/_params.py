"""From a pgmonkey configuration to psycopg/psycopg_pool arguments (no I/O).

Session settings (``sync_settings``/``async_settings``) travel as ``-c name=value`` entries of
libpq's ``options`` startup parameter. The server applies them while the session starts, so they
cost no round trip, are in effect on every connection (pooled ones included), survive any
``rollback()`` and never leave a connection inside a transaction. An invalid name or value makes
the server refuse the connection with a FATAL error naming the parameter, which
:func:`connect_error` turns into a :class:`~pgmonkey.errors.SessionSettingError`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pgmonkey.config._deferred import reference_note, require_resolved
from pgmonkey.config._redact import describe_target, redact_exception, redact_text
from pgmonkey.connections._tls_files import explain_tls_files
from pgmonkey.errors import ConfigValidationError, DatabaseConnectionError, SessionSettingError

__all__ = [
    "POOL_KEYS",
    "PoolPlan",
    "connect_error",
    "connection_kwargs",
    "encode_options",
    "metrics_switch",
    "normalised",
    "plan_pool",
    "pool_arguments",
    "settle_pool_sizes",
]

#: The sections a normalised configuration always has (see ``pgmonkey.config.load_config``).
_SECTIONS = (
    "connection_settings",
    "pool_settings",
    "async_pool_settings",
    "sync_settings",
    "async_settings",
)

#: ``pool_settings`` keys handed to psycopg_pool as they are.
POOL_KEYS = frozenset(
    {
        "min_size",
        "max_size",
        "max_waiting",
        "num_workers",
        "timeout",
        "max_idle",
        "max_lifetime",
        "reconnect_timeout",
        "name",
    }
)

#: psycopg_pool's default ``min_size``; a lone ``max_size`` below it lowers ``min_size``.
POOL_DEFAULT_MIN_SIZE = 4

_GUC_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)*")
_PARAMETER_IN_MESSAGE = re.compile(r'parameter "([^"]+)"')
_TRUE = frozenset({"true", "yes", "on", "1"})


def normalised(cfg: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return ``cfg`` if it is already normalised, else ``load_config(cfg)``.

    Args:
        cfg: A configuration dict, normalised (from ``load_config``) or raw (as written in YAML).

    Returns:
        A configuration whose five sections are dicts (missing ones read as empty).
    """
    if isinstance(cfg.get("connection_type"), str) and all(
        isinstance(cfg.get(section), dict) for section in _SECTIONS
    ):
        return cfg
    from pgmonkey.config import load_config

    return load_config(dict(cfg))


def _section(cfg: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = cfg.get(name)
    return dict(value) if isinstance(value, Mapping) else {}


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in _TRUE
    return bool(value)


def metrics_switch(cfg: Mapping[str, Any], section: str | None = None) -> bool:
    """Whether a connection or pool of ``cfg`` reports OpenTelemetry metrics.

    The pool section's own ``metrics`` key wins; else the top-level ``metrics`` (default on).

    Args:
        cfg: A normalised configuration.
        section: ``"pool_settings"`` or ``"async_pool_settings"`` for a pool, else ``None``.
    """
    value = cfg.get("metrics", True)
    if section is not None:
        value = _section(cfg, section).get("metrics", value)
    return _as_bool(value)


def encode_options(settings: Mapping[str, Any], user_options: str | None = None) -> str | None:
    """Build libpq's ``options`` value: the user's own options, then ``-c name=value`` entries.

    Backslashes and whitespace in values are escaped with a backslash, as the server's option
    splitter expects, so values such as ``"$user", public`` arrive intact.

    Args:
        settings: GUC name to value.
        user_options: ``connection_settings.options`` as written by the user, if any.

    Returns:
        The combined string, or ``None`` when there is nothing to send.

    Raises:
        SessionSettingError: A setting name is not a valid parameter name.
    """
    parts: list[str] = []
    if user_options:
        parts.append(str(user_options).strip())
    for name, value in settings.items():
        key = str(name)
        if not _GUC_NAME.fullmatch(key):
            raise SessionSettingError(
                f"session setting {key!r} is not a valid PostgreSQL parameter name", setting=key
            )
        text = _escape_option(_setting_text(value))
        parts.append(f"-c {key}={text}")
    joined = " ".join(p for p in parts if p)
    return joined or None


def _setting_text(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _escape_option(text: str) -> str:
    out = []
    for ch in text:
        if ch == "\\" or ch.isspace():
            out.append("\\")
        out.append(ch)
    return "".join(out)


def connection_kwargs(
    cfg: Mapping[str, Any], *, session: str, autocommit: bool | None = None
) -> tuple[dict[str, Any], bool, dict[str, Any]]:
    """Split a normalised configuration into psycopg ``connect()`` arguments.

    Args:
        cfg: A normalised configuration.
        session: ``"sync_settings"`` or ``"async_settings"``.
        autocommit: Overrides ``connection_settings.autocommit`` when not ``None``.

    Returns:
        ``(libpq_params, autocommit, session_settings)``; ``libpq_params`` carries the session
        settings in ``options``, and ``prepare_threshold=None`` (a psycopg ``connect()``
        argument: no server-side prepared statements) under ``pooler: pgbouncer``.

    Raises:
        ConfigValidationError: A reference was left unresolved where it cannot work as written.
    """
    require_resolved(cfg, ("connection_settings", session))
    params = {
        k: v for k, v in _section(cfg, "connection_settings").items() if v is not None and v != ""
    }
    configured_ac = params.pop("autocommit", False)
    ac = _as_bool(configured_ac) if autocommit is None else bool(autocommit)
    settings = {str(k): v for k, v in _section(cfg, session).items() if v is not None}
    options = encode_options(settings, params.pop("options", None))
    if options is not None:
        params["options"] = options
    if cfg.get("pooler") == "pgbouncer":
        params["prepare_threshold"] = None
    return params, ac, settings


def pool_arguments(
    cfg: Mapping[str, Any], *, section: str, name: str | None, overrides: Mapping[str, Any]
) -> tuple[dict[str, Any], bool]:
    """The psycopg_pool constructor arguments for a pool section.

    Args:
        cfg: A normalised configuration.
        section: ``"pool_settings"`` or ``"async_pool_settings"``.
        name: The pool's name (overrides ``name`` in the section).
        overrides: Extra constructor arguments that win over the section (``check_on_checkout``
            is understood too).

    Returns:
        ``(constructor_kwargs, check_on_checkout)``. A ``max_size`` given alone brings
        ``min_size`` down to it when psycopg_pool's default (4) would exceed it.

    Raises:
        ConfigValidationError: ``min_size`` exceeds ``max_size`` (overrides included), or a
            reference was left unresolved.
    """
    require_resolved(cfg, (section,))
    settings = _section(cfg, section)
    merged: dict[str, Any] = {k: v for k, v in settings.items() if k in POOL_KEYS}
    check = _as_bool(settings.get("check_on_checkout", False))
    extra = dict(overrides)
    if "check_on_checkout" in extra:
        check = _as_bool(extra.pop("check_on_checkout"))
    merged.update(extra)
    if name is not None:
        merged["name"] = name
    settle_pool_sizes(merged, section)
    return merged, check


def settle_pool_sizes(kwargs: dict[str, Any], section: str = "pool_settings") -> None:
    """Make psycopg_pool ``min_size``/``max_size`` arguments consistent, in place.

    A ``max_size`` given without ``min_size`` brings ``min_size`` down to it when
    psycopg_pool's default (``POOL_DEFAULT_MIN_SIZE``, 4) would exceed it, so
    ``max_size: 2`` alone gives a working pool of two connections.

    Args:
        kwargs: psycopg_pool constructor arguments (``ConnectionPool``/``AsyncConnectionPool``).
        section: The configuration section they came from, for the error message.

    Raises:
        ConfigValidationError: ``min_size`` is greater than ``max_size``.
    """
    max_size = kwargs.get("max_size")
    if isinstance(max_size, int) and kwargs.get("min_size") is None:
        kwargs["min_size"] = min(POOL_DEFAULT_MIN_SIZE, max_size)
    min_size = kwargs.get("min_size")
    if isinstance(min_size, int) and isinstance(max_size, int) and min_size > max_size:
        raise ConfigValidationError(
            f"min_size ({min_size}) cannot be greater than max_size ({max_size})",
            key_path=(section, "min_size"),
        )


def _reason(exc: BaseException) -> str:
    raw_lines: list[str] = []
    for raw in str(exc).splitlines():
        line = raw.strip()
        if line.startswith("connection failed: "):
            line = line[len("connection failed: ") :]
        raw_lines.append(line)
    lines: list[str] = []
    for line in explain_tls_files(raw_lines):
        if line and line not in lines:
            lines.append(line)
    text = "; ".join(lines) or type(exc).__name__
    return re.sub(r"\s+", " ", text)


def connect_error(
    exc: BaseException, params: Mapping[str, Any], settings: Mapping[str, Any], session: str
) -> DatabaseConnectionError:
    """Turn a failed connection attempt into a clear pgmonkey error.

    Args:
        exc: What psycopg raised.
        params: The libpq parameters used (only host, port, dbname and user are shown).
        settings: The session settings that were sent.
        session: The configuration section they came from, for the message.

    Returns:
        A :class:`SessionSettingError` when the server refused one of ``settings``, else a
        :class:`DatabaseConnectionError`. Neither carries a secret: the message and ``exc``
        itself (the new error's cause) are masked with :func:`pgmonkey.config.redact_text`,
        since libpq and the server quote misplaced values (a URL in ``dbname``).
    """
    redact_exception(exc, params)
    reason = redact_text(_reason(exc), params) + reference_note(params, settings, session)
    target = describe_target(params)
    if "timeout expired" in reason and params.get("connect_timeout") not in (None, ""):
        reason += f" (no answer within connect_timeout={params['connect_timeout']}s)"
    wanted = {k.lower(): k for k in settings}
    for match in _PARAMETER_IN_MESSAGE.finditer(reason):
        setting = wanted.get(match.group(1).lower())
        if setting is not None:
            return SessionSettingError(
                f"{session}.{setting} was refused by the server ({target}): {reason}",
                setting=setting,
            )
    return DatabaseConnectionError(f"could not connect to PostgreSQL ({target}): {reason}")


@dataclass(frozen=True)
class PoolPlan:
    """Everything needed to build and open a pool, sync or async (no I/O).

    Attributes:
        config: The normalised configuration.
        params: libpq parameters (for the probe connection and error messages).
        session: ``"sync_settings"`` or ``"async_settings"``.
        settings: The session settings sent (for error messages).
        kwargs: The pool's connection arguments (``autocommit`` included when set).
        pool_kwargs: The pool constructor arguments (``check`` included when asked for).
        timeout: Seconds to wait for ``min_size`` connections when opening.
        metrics: Whether the pool reports OpenTelemetry metrics (the section's ``metrics``).
    """

    config: Mapping[str, Any]
    params: dict[str, Any]
    session: str
    settings: dict[str, Any]
    kwargs: dict[str, Any]
    pool_kwargs: dict[str, Any]
    timeout: float
    metrics: bool = True

    @property
    def probe_params(self) -> dict[str, Any]:
        """The libpq parameters of the probe connection made before a pool opens.

        Without a ``connect_timeout`` in the configuration, the probe waits at most the
        pool's ``timeout`` (at least 2 s, libpq's minimum), so a server that accepts the
        TCP connection and never answers cannot hold ``open_pool`` longer than the pool
        itself would wait.
        """
        if self.params.get("connect_timeout") not in (None, ""):
            return self.params
        if not (math.isfinite(self.timeout) and self.timeout > 0):
            return self.params
        return {**self.params, "connect_timeout": max(2, math.ceil(self.timeout))}

    def connect_error(
        self, exc: BaseException, params: Mapping[str, Any] | None = None
    ) -> DatabaseConnectionError:
        """The clear error for a failed probe connection.

        Args:
            exc: What psycopg raised.
            params: The parameters the probe used (with resolved credentials, so they are
                masked too); default :attr:`probe_params`.
        """
        used = self.probe_params if params is None else params
        return connect_error(exc, used, self.settings, self.session)

    def open_timeout_error(self, name: str, min_size: int) -> DatabaseConnectionError:
        """The clear error for a pool that did not reach ``min_size`` in time."""
        return DatabaseConnectionError(
            f"pool {name!r} ({describe_target(self.params)}) could not open its "
            f"min_size={min_size} connections within timeout={self.timeout:g}s"
        )


def plan_pool(
    cfg: Mapping[str, Any],
    *,
    asynchronous: bool,
    name: str | None,
    overrides: Mapping[str, Any],
    check_connection: Callable[..., Any],
) -> PoolPlan:
    """The arguments of a ``pool`` (or, with ``asynchronous``, an ``async_pool``).

    Args:
        cfg: A configuration (normalised by ``load_config``, or raw).
        asynchronous: Use ``async_pool_settings``/``async_settings`` instead of the sync ones.
        name: The pool's name (overrides ``name`` in the section).
        overrides: Constructor arguments that win over the section (``metrics`` is
            understood too).
        check_connection: The pool's ``check`` callback when ``check_on_checkout`` is on and
            no ``check`` is given (``check_and_sweep`` of :mod:`pgmonkey.connections._pooled`).
    """
    config = normalised(cfg)
    session = "async_settings" if asynchronous else "sync_settings"
    section = "async_pool_settings" if asynchronous else "pool_settings"
    params, ac, settings = connection_kwargs(config, session=session)
    extra = dict(overrides)
    metrics = _as_bool(extra.pop("metrics", metrics_switch(config, section)))
    pool_kwargs, check = pool_arguments(config, section=section, name=name, overrides=extra)
    kwargs: dict[str, Any] = dict(params)
    if ac:
        kwargs["autocommit"] = True
    if check:
        pool_kwargs.setdefault("check", check_connection)
    timeout = float(pool_kwargs.get("timeout", 30.0))
    return PoolPlan(config, params, session, settings, kwargs, pool_kwargs, timeout, metrics)
