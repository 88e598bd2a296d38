"""Turns exceptions into short messages and exit statuses, without tracebacks or secrets."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable

from pgmonkey_cli._exit import EXIT_FAILURE, EXIT_USAGE

Handler = Callable[[argparse.Namespace], int]


def run_handler(handler: Handler, args: argparse.Namespace) -> int:
    """Call ``handler`` and map pgmonkey's errors to exit statuses.

    Configuration errors exit with 2, every other failure with 1. The message goes to stderr
    on one line; ``--debug`` adds the traceback.
    """
    from pgmonkey.errors import ConfigError, PgMonkeyError

    try:
        return handler(args)
    except KeyboardInterrupt:
        print("pgmonkey: interrupted", file=sys.stderr)
        return 130
    except ConfigError as exc:
        _report(exc, args)
        return EXIT_USAGE
    except PgMonkeyError as exc:
        _report(exc, args)
        return EXIT_FAILURE


def _report(exc: BaseException, args: argparse.Namespace) -> None:
    if getattr(args, "debug", False):
        traceback.print_exception(exc)
    print(f"pgmonkey: error: {exc}", file=sys.stderr)
