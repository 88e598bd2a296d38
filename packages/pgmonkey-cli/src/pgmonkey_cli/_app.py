"""Builds the argument parser from the command modules and dispatches to them.

Each module in :mod:`pgmonkey_cli.commands` exposes ``register(subparsers)``, which adds its
sub-parser and sets ``handler`` (a callable taking the parsed namespace and returning an exit
code). Registration must stay cheap: heavy imports belong inside the handlers.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pgmonkey_cli._exit import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from pgmonkey_cli.commands import COMMAND_MODULES


def build_parser() -> argparse.ArgumentParser:
    """Return the ``pgmonkey`` parser with every command registered."""
    parser = argparse.ArgumentParser(
        prog="pgmonkey",
        description="pgmonkey: manage PostgreSQL connection configs, check servers, "
        "and move CSV data in and out of tables.",
    )
    parser.add_argument(
        "--version", action="store_true", help="show installed pgmonkey versions and exit"
    )
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks for unexpected errors"
    )
    subparsers = parser.add_subparsers(title="commands", dest="command", metavar="<command>")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``pgmonkey`` command and return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from pgmonkey_cli._versions import describe_versions

        print(describe_versions())
        return EXIT_OK
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    from pgmonkey_cli._errors import run_handler

    return run_handler(handler, args)


__all__ = ["EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]
