"""Options shared by the commands, so that every command spells them the same way.

Every command that reads a connection configuration uses :func:`add_config_options` (or the
individual helpers): ``--connconfig`` (``--filepath`` too where pgmonkey 3.x accepted it),
``--resolve-env`` and ``--allow-sensitive-defaults``. The parsed values always land in
``args.connconfig``, ``args.resolve_env`` and ``args.allow_sensitive_defaults``, and
:func:`load_config_from_args` turns them into a loaded configuration.

This module imports nothing heavy: the core is imported inside :func:`load_config_from_args`.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "CONNECTION_TYPES",
    "DEFAULT_CONNECT_TIMEOUT",
    "add_allow_sensitive_defaults",
    "add_config_options",
    "add_connconfig",
    "add_connect_timeout",
    "add_connection_type",
    "add_json",
    "add_resolve_env",
    "load_config_from_args",
    "positive_int",
    "selected_connection_type",
]

CONNECTION_TYPES: tuple[str, ...] = ("normal", "pool", "async", "async_pool")
"""The four pgmonkey connection types, in the order the CLI lists them."""

RESOLVE_ENV_HELP = (
    "Resolve ${VAR} environment variable references and from_env/from_file secret "
    "references in the config file."
)
ALLOW_SENSITIVE_DEFAULTS_HELP = (
    "Allow ${VAR:-default} fallback values for sensitive keys like password. Only useful "
    "with --resolve-env."
)


def add_connconfig(
    parser: argparse.ArgumentParser,
    help: str = "Path to the connection config file.",
    *,
    filepath_alias: bool = False,
    required: bool = True,
) -> argparse.Action:
    """Add the connection-config path option; the value lands in ``args.connconfig``.

    Args:
        parser: The command's parser.
        help: The option's help text.
        filepath_alias: Spell it ``--filepath FILEPATH, --connconfig FILEPATH`` (the
            ``pgconfig`` and ``pgserverconfig`` commands of pgmonkey 3.x); otherwise
            ``--connconfig CONNCONFIG`` only.
        required: Whether the option must be given.

    Returns:
        The argparse action (e.g. to tweak it further).
    """
    if filepath_alias:
        return parser.add_argument(
            "--filepath",
            "--connconfig",
            dest="connconfig",
            metavar="FILEPATH",
            required=required,
            help=help,
        )
    return parser.add_argument(
        "--connconfig", dest="connconfig", metavar="CONNCONFIG", required=required, help=help
    )


DEFAULT_CONNECT_TIMEOUT = 10
"""Seconds a command waits for the server when neither the flag nor the config says."""

CONNECT_TIMEOUT_HELP = (
    "Seconds to wait for the server to answer when connecting (each attempt; libpq's "
    "connect_timeout, at least 2). Default: the config's connection_settings.connect_timeout, "
    f"or {DEFAULT_CONNECT_TIMEOUT} when the config sets none, so an unreachable or silent "
    "server fails with a timeout instead of hanging."
)


def positive_int(text: str) -> int:
    """An argparse ``type``: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def add_connect_timeout(parser: argparse.ArgumentParser) -> argparse.Action:
    """Add ``--connect-timeout SECONDS`` (``args.connect_timeout``, ``None`` when not given).

    :func:`load_config_from_args` applies it: the flag wins, then the config's
    ``connect_timeout``, then :data:`DEFAULT_CONNECT_TIMEOUT`.
    """
    return parser.add_argument(
        "--connect-timeout",
        dest="connect_timeout",
        type=positive_int,
        metavar="SECONDS",
        help=CONNECT_TIMEOUT_HELP,
    )


def add_resolve_env(parser: argparse.ArgumentParser) -> argparse.Action:
    """Add ``--resolve-env`` (``args.resolve_env``), with pgmonkey 3.x's help text."""
    return parser.add_argument("--resolve-env", action="store_true", help=RESOLVE_ENV_HELP)


def add_allow_sensitive_defaults(parser: argparse.ArgumentParser) -> argparse.Action:
    """Add ``--allow-sensitive-defaults`` (``args.allow_sensitive_defaults``)."""
    return parser.add_argument(
        "--allow-sensitive-defaults", action="store_true", help=ALLOW_SENSITIVE_DEFAULTS_HELP
    )


def add_config_options(
    parser: argparse.ArgumentParser,
    help: str = "Path to the connection config file.",
    *,
    filepath_alias: bool = False,
    required: bool = True,
    connects: bool = False,
) -> None:
    """Add ``--connconfig`` (see :func:`add_connconfig`), ``--resolve-env`` and
    ``--allow-sensitive-defaults`` in one call; with ``connects``, ``--connect-timeout`` too
    (every command that connects to the server has it).
    """  # noqa: D205
    add_connconfig(parser, help, filepath_alias=filepath_alias, required=required)
    add_resolve_env(parser)
    add_allow_sensitive_defaults(parser)
    if connects:
        add_connect_timeout(parser)


def add_json(
    parser: argparse.ArgumentParser,
    help: str = "Print machine-readable JSON instead of text.",
) -> argparse.Action:
    """Add ``--json`` (``args.json``)."""
    return parser.add_argument("--json", action="store_true", help=help)


def add_connection_type(
    parser: argparse.ArgumentParser,
    help: str = "Connection type to use. Overrides the value in the config file.",
    *,
    choices: Sequence[str] = CONNECTION_TYPES,
) -> argparse.Action:
    """Add ``--connection-type {normal,pool,async,async_pool}`` (``args.connection_type``).

    The default is ``None``: use :func:`selected_connection_type` to fall back to the
    configuration's ``connection_type``.
    """
    return parser.add_argument(
        "--connection-type", dest="connection_type", choices=list(choices), help=help
    )


def load_config_from_args(
    args: argparse.Namespace, *, resolved: bool = True, **kwargs: Any
) -> dict[str, Any]:
    """Load ``args.connconfig`` with the namespace's env options.

    Args:
        args: A namespace from a parser set up with :func:`add_config_options` (a missing
            ``resolve_env``/``allow_sensitive_defaults`` counts as ``False``). When the
            parser has ``--connect-timeout`` (commands that connect), the configuration's
            ``connect_timeout`` is set from it, or to :data:`DEFAULT_CONNECT_TIMEOUT` when
            neither the flag nor the file gives one.
        resolved: Refuse a reference that cannot be used as written (a ``from_env`` mapping
            without ``--resolve-env``...; :func:`pgmonkey.config.require_resolved`), before
            anything is attempted. Commands that only print the configuration pass ``False``.
        **kwargs: Passed on to :func:`pgmonkey.config.load_config` (e.g. ``strict=True``).

    Returns:
        The normalised configuration dict (remembered: its secrets are masked in whatever
        the CLI writes to stderr, see :func:`pgmonkey_cli._errors.redact_output`).

    Raises:
        pgmonkey.errors.ConfigError: The file is missing or invalid (exit status 2).
    """
    from pgmonkey.config import load_config, require_resolved
    from pgmonkey_cli._errors import remember_config

    cfg = load_config(
        args.connconfig,
        resolve_env=bool(getattr(args, "resolve_env", False)),
        allow_sensitive_defaults=bool(getattr(args, "allow_sensitive_defaults", False)),
        **kwargs,
    )
    remember_config(cfg)  # its secrets are masked in every message from now on
    if resolved:
        require_resolved(cfg)
    if hasattr(args, "connect_timeout"):
        settings = cfg["connection_settings"]
        if args.connect_timeout is not None:
            settings["connect_timeout"] = args.connect_timeout
        elif settings.get("connect_timeout") is None:
            settings["connect_timeout"] = DEFAULT_CONNECT_TIMEOUT
    return cfg


def selected_connection_type(args: argparse.Namespace, cfg: dict[str, Any]) -> str:
    """Return ``--connection-type`` when given, else the config's ``connection_type``."""
    chosen = getattr(args, "connection_type", None)
    if chosen:
        return str(chosen)
    return str(cfg.get("connection_type") or "normal")
