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
    "add_allow_sensitive_defaults",
    "add_config_options",
    "add_connconfig",
    "add_connection_type",
    "add_json",
    "add_resolve_env",
    "load_config_from_args",
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
) -> None:
    """Add ``--connconfig`` (see :func:`add_connconfig`), ``--resolve-env`` and
    ``--allow-sensitive-defaults`` in one call.
    """  # noqa: D205
    add_connconfig(parser, help, filepath_alias=filepath_alias, required=required)
    add_resolve_env(parser)
    add_allow_sensitive_defaults(parser)


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
            ``resolve_env``/``allow_sensitive_defaults`` counts as ``False``).
        resolved: Refuse a reference that cannot be used as written (a ``from_env`` mapping
            without ``--resolve-env``...; :func:`pgmonkey.config.require_resolved`), before
            anything is attempted. Commands that only print the configuration pass ``False``.
        **kwargs: Passed on to :func:`pgmonkey.config.load_config` (e.g. ``strict=True``).

    Returns:
        The normalised configuration dict.

    Raises:
        pgmonkey.errors.ConfigError: The file is missing or invalid (exit status 2).
    """
    from pgmonkey.config import load_config, require_resolved

    cfg = load_config(
        args.connconfig,
        resolve_env=bool(getattr(args, "resolve_env", False)),
        allow_sensitive_defaults=bool(getattr(args, "allow_sensitive_defaults", False)),
        **kwargs,
    )
    if resolved:
        require_resolved(cfg)
    return cfg


def selected_connection_type(args: argparse.Namespace, cfg: dict[str, Any]) -> str:
    """Return ``--connection-type`` when given, else the config's ``connection_type``."""
    chosen = getattr(args, "connection_type", None)
    if chosen:
        return str(chosen)
    return str(cfg.get("connection_type") or "normal")
