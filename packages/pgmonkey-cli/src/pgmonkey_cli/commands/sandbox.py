"""``pgmonkey sandbox``: a local PostgreSQL made from a pgmonkey YAML file.

Only argparse is imported here; the handlers import :mod:`pgmonkey_cli._sandbox` when run.
"""

from __future__ import annotations

import argparse
from typing import Any

from pgmonkey_cli._options import add_allow_sensitive_defaults, add_connconfig, add_resolve_env

__all__ = ["register"]

DATA_DIR_HELP = (
    "Directory holding the sandboxes (one sub-directory per config file). Default: the "
    "per-user data directory, e.g. ~/.local/share/pgmonkey/sandboxes."
)


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", dest="data_dir", metavar="DIR", help=DATA_DIR_HELP)


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``sandbox`` command and its sub-commands."""
    parser = subparsers.add_parser(
        "sandbox",
        help="Run a local development PostgreSQL made from a config file",
        description="A persistent local PostgreSQL server that matches a pgmonkey config "
        "file: its role and password, database, host (127.0.0.1, localhost, ::1 or a "
        "unix-socket directory) and port. It keeps running after the command exits and "
        "keeps its data until 'pgmonkey sandbox destroy'.",
    )
    commands = parser.add_subparsers(dest="sandbox_command", help="sandbox commands")

    start = commands.add_parser(
        "start", help="Create (first time) and start the sandbox of a config file."
    )
    add_connconfig(start, "Path to the config file the sandbox is made from.")
    add_resolve_env(start)
    add_allow_sensitive_defaults(start)
    start.add_argument(
        "--ssl",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Turn SSL on (a CA and server certificate are made; their paths are printed) "
        "or off with --no-ssl. The choice is remembered; default: keep the last one (off).",
    )
    _add_data_dir(start)
    start.set_defaults(handler=_start)

    status = commands.add_parser(
        "status",
        help="Show a sandbox (exit status 0 when it runs), or list all without --connconfig.",
    )
    add_connconfig(status, "Path to the config file of the sandbox.", required=False)
    status.add_argument("--json", action="store_true", help="Print JSON instead of text.")
    _add_data_dir(status)
    status.set_defaults(handler=_status)

    stop = commands.add_parser("stop", help="Stop the sandbox of a config file (data is kept).")
    add_connconfig(stop, "Path to the config file of the sandbox.")
    _add_data_dir(stop)
    stop.set_defaults(handler=_stop)

    destroy = commands.add_parser(
        "destroy", help="Stop the sandbox of a config file and delete all its data."
    )
    add_connconfig(destroy, "Path to the config file of the sandbox.")
    destroy.add_argument("--yes", "-y", action="store_true", help="Do not ask for confirmation.")
    _add_data_dir(destroy)
    destroy.set_defaults(handler=_destroy)

    psql = commands.add_parser(
        "psql",
        help="Open psql on the sandbox with the config's parameters.",
        description="Open psql with the config's connection parameters. Arguments after "
        "'--' go to psql, e.g. pgmonkey sandbox psql --connconfig dev.yaml -- -c 'SELECT 1'.",
    )
    add_connconfig(psql, "Path to the config file of the sandbox.")
    add_resolve_env(psql)
    add_allow_sensitive_defaults(psql)
    _add_data_dir(psql)
    psql.add_argument("psql_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    psql.set_defaults(handler=_psql)


def _start(args: argparse.Namespace) -> int:
    from pgmonkey_cli._sandbox._run import start

    return start(args)


def _status(args: argparse.Namespace) -> int:
    from pgmonkey_cli._sandbox._run import status

    return status(args)


def _stop(args: argparse.Namespace) -> int:
    from pgmonkey_cli._sandbox._run import stop

    return stop(args)


def _destroy(args: argparse.Namespace) -> int:
    from pgmonkey_cli._sandbox._run import destroy

    return destroy(args)


def _psql(args: argparse.Namespace) -> int:
    from pgmonkey_cli._sandbox._run import psql

    return psql(args)
