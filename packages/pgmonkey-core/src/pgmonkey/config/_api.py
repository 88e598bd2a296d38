"""``load_config`` and ``find_problems``: the loading pipeline.

file -> text -> YAML nodes -> plain tree (scalars as written) -> schema check with optional
interpolation of each used value -> normalised dict.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pgmonkey.config._extra import with_typed_extras
from pgmonkey.config._interpolate import Interpolator
from pgmonkey.config._loader import Marks, parse_text, read_file
from pgmonkey.config._normalise import Normaliser
from pgmonkey.config._secret_file import FileIdentity
from pgmonkey.config._warn import ConfigHint
from pgmonkey.errors import ConfigError, ConfigFileError

__all__ = [
    "ConfigReport",
    "ConfigSource",
    "Outcome",
    "check_config",
    "evaluate",
    "find_problems",
    "load_config",
]

logger = logging.getLogger("pgmonkey.config")

ConfigSource = str | os.PathLike[str] | Mapping[str, Any]


@dataclass
class Outcome:
    """Everything one load produced."""

    config: dict[str, Any]
    problems: list[ConfigError]
    source: str | None
    hints: list[ConfigHint] = field(default_factory=list)
    env_deps: dict[str, str | None] = field(default_factory=dict)
    file_deps: dict[str, FileIdentity] = field(default_factory=dict)


def evaluate(
    source: ConfigSource,
    *,
    resolve_env: bool,
    allow_sensitive_defaults: bool,
    strict: bool,
) -> Outcome:
    """Run the whole pipeline, collecting schema problems instead of raising them.

    Raises:
        ConfigFileError: The file cannot be read or is empty.
        ConfigSyntaxError: The file is not valid YAML.
        ConfigValidationError: The YAML cannot be represented (bad tags, duplicate keys).
    """
    marks: Marks = {}
    name: str | None = None
    if isinstance(source, Mapping):
        data: Any = source
    elif isinstance(source, str | os.PathLike):
        name = os.fspath(source)
        if not isinstance(name, str):
            raise ConfigFileError("the configuration path must be text, not bytes")
        text = read_file(name)
        parsed = parse_text(text, name)
        data, marks = with_typed_extras(parsed.data, text), parsed.marks
    else:
        raise ConfigFileError(
            f"expected a configuration file path or a dict, got {type(source).__name__}"
        )
    interpolator = (
        Interpolator(allow_sensitive_defaults=allow_sensitive_defaults, source=name)
        if resolve_env
        else None
    )
    normaliser = Normaliser(source=name, marks=marks, strict=strict, interpolator=interpolator)
    config = normaliser.run(data)
    outcome = Outcome(
        config=config, problems=normaliser.problems, source=name, hints=normaliser.hints
    )
    if interpolator is not None:
        outcome.env_deps = interpolator.env_deps
        outcome.file_deps = interpolator.file_deps
    return outcome


def raise_first(outcome: Outcome) -> None:
    """Raise the first problem of ``outcome`` (mentioning how many more there are)."""
    if not outcome.problems:
        return
    first = outcome.problems[0]
    more = len(outcome.problems) - 1
    if more:
        suffix = f" (and {more} more problem{'s' if more > 1 else ''}; "
        suffix += "`pgmonkey pgconfig validate` lists them all)"
        raise type(first)(first.message + suffix, source=first.source, key_path=first.key_path)
    raise first


def load_config(
    source: ConfigSource,
    resolve_env: bool = False,
    allow_sensitive_defaults: bool = False,
    strict: bool = False,
) -> dict[str, Any]:
    """Load, validate and normalise a pgmonkey configuration.

    Args:
        source: A YAML file path, or an already loaded dict (the same rules apply).
        resolve_env: Resolve ``${VAR}``, ``${VAR:-default}``, ``from_env`` and ``from_file``.
        allow_sensitive_defaults: Allow ``${VAR:-default}`` for sensitive keys (passwords...).
        strict: Unknown keys are errors instead of warnings.

    Returns:
        A new dict with the keys ``connection_type``, ``connection_settings``,
        ``pool_settings``, ``async_pool_settings``, ``sync_settings`` and ``async_settings``
        (plus ``pooler`` when set, and any other top-level section of the file, kept as
        written). Ports, timeouts and sizes are numbers, ``autocommit``/``check_on_checkout``
        booleans, session settings text; ``None`` and ``''`` connection settings are dropped.
        Without ``resolve_env``, ``${...}`` references and ``from_env``/``from_file``
        mappings are kept exactly as written (see :func:`check_config` for hints about them).

    Raises:
        pgmonkey.errors.ConfigFileError: Missing, unreadable, a directory, or empty.
        pgmonkey.errors.ConfigSyntaxError: Not valid YAML (with line and column).
        pgmonkey.errors.ConfigValidationError: A key or value breaks the schema.
        pgmonkey.errors.EnvInterpolationError: A reference cannot be resolved.

    Warns:
        UnknownConfigKeyWarning: An unknown key was ignored (``strict=False``).
        DeprecationWarning: The legacy top-level ``postgresql:`` wrapper was used.

    Example:
        >>> cfg = load_config({"connection_settings": {"port": "5432", "sslcert": ""}})
        >>> cfg["connection_settings"]
        {'port': 5432}
    """
    outcome = evaluate(
        source,
        resolve_env=resolve_env,
        allow_sensitive_defaults=allow_sensitive_defaults,
        strict=strict,
    )
    raise_first(outcome)
    logger.debug("configuration loaded from %s", outcome.source or "a dict")
    return outcome.config


@dataclass(frozen=True)
class ConfigReport:
    """What :func:`check_config` found.

    Attributes:
        problems: Every error, in file order; empty when the configuration is valid.
        hints: Valid but suspicious values (an unresolved ``${VAR}`` while ``resolve_env`` is
            off, a top-level section pgmonkey does not use), in file order.
    """

    problems: list[ConfigError]
    hints: list[ConfigHint]


def check_config(
    source: ConfigSource,
    *,
    resolve_env: bool = False,
    allow_sensitive_defaults: bool = False,
) -> ConfigReport:
    """Check a configuration with strict rules (unknown keys count) and collect hints.

    This is what ``pgmonkey pgconfig validate`` runs. Nothing is raised or warned.

    Args:
        source: A YAML file path or a dict.
        resolve_env: Also check that every reference resolves, and check the resolved values.
        allow_sensitive_defaults: Allow ``${VAR:-default}`` for sensitive keys.

    Returns:
        The problems and hints. A file that cannot be read or parsed gives a single problem.

    Example:
        >>> report = check_config({"connection_settings": {"password": "${APP_DB_PASSWORD}"}})
        >>> report.problems
        []
        >>> print(report.hints[0])  # doctest: +ELLIPSIS
        connection_settings.password: looks like an environment reference (${APP_DB_PASSWORD}) ...
    """
    try:
        outcome = evaluate(
            source,
            resolve_env=resolve_env,
            allow_sensitive_defaults=allow_sensitive_defaults,
            strict=True,
        )
    except ConfigError as exc:
        return ConfigReport(problems=[exc], hints=[])
    return ConfigReport(problems=list(outcome.problems), hints=list(outcome.hints))


def find_problems(
    source: ConfigSource,
    *,
    resolve_env: bool = False,
    allow_sensitive_defaults: bool = False,
) -> list[ConfigError]:
    """Return every problem of a configuration (strict rules: unknown keys count).

    Args:
        source: A YAML file path or a dict.
        resolve_env: Also check that every reference resolves.
        allow_sensitive_defaults: Allow ``${VAR:-default}`` for sensitive keys.

    Returns:
        The problems, in file order; empty when the configuration is valid. A file that
        cannot be read or parsed gives a single problem.
    """
    return check_config(
        source, resolve_env=resolve_env, allow_sensitive_defaults=allow_sensitive_defaults
    ).problems
