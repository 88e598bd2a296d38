"""Builds the argument parser from the command modules and dispatches to them.

Each module in :mod:`pgmonkey_cli.commands` exposes ``register(subparsers)``, which adds its
sub-parser and sets ``handler`` (a callable taking the parsed namespace and returning an exit
code). Registration must stay cheap: heavy imports belong inside the handlers.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from pgmonkey_cli._exit import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from pgmonkey_cli.commands import COMMAND_MODULES

DEBUG_HELP = "Show pgmonkey's debug log and the traceback of unexpected errors."


class PgMonkeyArgumentParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors take two lines and exit with status 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``<prog>: error: <message>`` and a hint, then exit with status 2."""
        self.exit(
            EXIT_USAGE,
            f"{self.prog}: error: {message}\nTry '{self.prog} --help' for more information.\n",
        )


def _subparser_actions(parser: argparse.ArgumentParser) -> list[argparse._SubParsersAction[Any]]:
    return [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]


def _finish(parser: argparse.ArgumentParser) -> None:
    """Give every command parser ``--debug``, and group parsers a help-printing handler."""
    groups = _subparser_actions(parser)
    if not groups:
        if not any("--debug" in a.option_strings for a in parser._actions):
            parser.add_argument(
                "--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP
            )
        return
    if parser.get_default("handler") is None:
        parser.set_defaults(handler=None, group_parser=parser)
    for group in groups:
        for child in dict.fromkeys(group.choices.values()):
            _finish(child)


def build_parser() -> argparse.ArgumentParser:
    """Return the ``pgmonkey`` parser with every command registered."""
    parser = PgMonkeyArgumentParser(
        prog="pgmonkey",
        description="pgmonkey: A tool to assist with database connections and manage data.",
    )
    parser.add_argument(
        "--version",
        action="store_true",
        help="show the installed pgmonkey distributions, psycopg and libpq, and exit",
    )
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    subparsers = parser.add_subparsers(title="commands", dest="command", help="Available commands")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    _finish(parser)
    # Commands that describe the CLI itself (completion) get the parser from the namespace:
    # importing this module from a command would be an import cycle.
    parser.set_defaults(root_parser=parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``pgmonkey`` command and return its exit status.

    Args:
        argv: The arguments; ``None`` (the ``pgmonkey`` process itself) reads ``sys.argv``
            and tunes the garbage collector for a short-lived process (see
            :func:`_tune_collector_for_a_command`); when the reader of its output goes away
            (``pgmonkey --version | true``) it stops quietly with status 141, as ``cat``
            would. Callers in a longer-lived process pass ``argv`` and are left alone.
    """
    if argv is None:
        _tune_collector_for_a_command()
        try:
            try:
                return _run(argv)
            finally:
                sys.stdout.flush()  # here, not at exit, so a closed pipe is seen (--help too)
        except BrokenPipeError:
            from pgmonkey_cli._errors import silence_stdout

            return silence_stdout()
    return _run(argv)


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    arguments = list(sys.argv[1:] if argv is None else argv)
    for argument in arguments:
        if "\x00" in argument:  # only possible in process: no file or name can hold one
            parser.error(f"argument {argument!r} contains a NUL character")
    args = parser.parse_args(arguments)
    if args.version:
        from pgmonkey_cli._versions import describe_versions

        versions, warnings = describe_versions()
        print(versions)
        for warning in warnings:
            print(f"pgmonkey: warning: {warning}", file=sys.stderr)
        return EXIT_OK
    handler = getattr(args, "handler", None)
    if handler is None:
        group: argparse.ArgumentParser = getattr(args, "group_parser", None) or parser
        group.print_help(sys.stderr)
        return EXIT_USAGE
    from pgmonkey_cli._errors import run_handler

    return run_handler(handler, args)


def _tune_collector_for_a_command() -> None:
    """Keep CPython's cycle collector out of a command's start-up and exit.

    A command imports psycopg, PyYAML and the config loader: tens of thousands of objects that
    live until the process ends. The automatic collector walks them again and again while
    they are created, and once more at exit, just before the operating system takes the
    memory back anyway: about 45 ms of a one-second ``pgimport`` here. Reference counting
    still frees everything that is not part of a cycle, and the commands' data paths (COPY
    chunks, rows) create no cycles, so memory stays flat; ``gc.freeze()`` at exit moves the
    survivors out of the final collection's way.
    """
    import atexit
    import gc

    gc.disable()
    atexit.register(gc.freeze)


__all__ = [
    "EXIT_FAILURE",
    "EXIT_OK",
    "EXIT_USAGE",
    "PgMonkeyArgumentParser",
    "build_parser",
    "main",
]
