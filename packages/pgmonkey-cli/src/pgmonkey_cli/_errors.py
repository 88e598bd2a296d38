"""Turns exceptions into short messages and exit statuses, without tracebacks or secrets."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable
from typing import TextIO

from pgmonkey_cli._exit import EXIT_FAILURE, EXIT_USAGE

__all__ = ["Handler", "format_error", "run_handler"]

Handler = Callable[[argparse.Namespace], int]

_MAX_DETAIL = 300


def format_error(exc: BaseException) -> str:
    """Return ``exc``'s message on at most two lines.

    The first non-empty line of the message is kept as is; further lines (psycopg's
    "Multiple connection attempts failed" details, for instance) are joined on a second line.
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    first, rest = lines[0], lines[1:]
    if not rest:
        return first
    detail = "; ".join(rest)
    if len(detail) > _MAX_DETAIL:
        detail = detail[: _MAX_DETAIL - 3] + "..."
    return f"{first}\n  {detail}"


def run_handler(handler: Handler, args: argparse.Namespace) -> int:
    """Call ``handler`` and map pgmonkey's errors to exit statuses.

    Configuration errors exit with 2, every other failure with 1. The message goes to stderr
    on one or two lines; ``--debug`` adds the traceback. A failed import is explained: a
    damaged installation (the old ``pgmonkey`` distribution next to pgmonkey-core) or psycopg
    without a libpq wrapper, each with the command that fixes it. A configuration warning
    raised as an error (``-W error``, ``PYTHONWARNINGS=error``) is an invalid configuration
    (exit 2); any other warning raised as an error is a failure (exit 1). Unexpected
    exceptions (bugs) are reported the same way, with their type, and exit with 1.
    """
    _configure_output(bool(getattr(args, "debug", False)))
    try:
        from pgmonkey.errors import ConfigError, PgMonkeyError
    except ImportError as exc:
        return _report_import_error(exc, args)

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
    except Warning as exc:
        _report(exc, args, unexpected=not _is_config_warning(exc))
        return EXIT_USAGE if _is_config_warning(exc) else EXIT_FAILURE
    except ImportError as exc:
        return _report_import_error(exc, args)
    except BrokenPipeError:
        # `pgmonkey ... | head`: the reader went away; nothing left to say.
        sys.stderr.close()
        return EXIT_FAILURE
    except Exception as exc:
        _report(exc, args, unexpected=True)
        return EXIT_FAILURE


def _report_import_error(exc: ImportError, args: argparse.Namespace) -> int:
    """Explain an import that failed: a damaged installation, psycopg without libpq, or a bug."""
    from pgmonkey_cli._install import diagnose, psycopg_problem

    diagnosis = diagnose()
    if diagnosis is not None:
        if getattr(args, "debug", False):
            traceback.print_exception(type(exc), exc, exc.__traceback__)
        print(f"pgmonkey: error: {diagnosis}", file=sys.stderr)
        return EXIT_FAILURE
    problem = psycopg_problem()
    _report(exc if problem is None else problem, args, unexpected=problem is None)
    return EXIT_FAILURE


def _is_config_warning(exc: Warning) -> bool:
    # Only pgmonkey.config raises ConfigWarning, so if it is not imported this is not one
    # (and the CLI does not pay for importing it).
    module = sys.modules.get("pgmonkey.config._warn")
    return module is not None and isinstance(exc, module.ConfigWarning)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    print(f"pgmonkey: warning: {message}", file=sys.stderr)


def _configure_output(debug: bool) -> None:
    """One-line warnings and log records on stderr (the CLI is an application).

    ``--debug`` shows pgmonkey's DEBUG records and other libraries' INFO records.
    """
    import logging
    import warnings

    warnings.showwarning = _show_warning
    root = logging.getLogger()
    # One handler, however often main() runs in a process (tests, embedding): each earlier
    # one would print every record again, to a stderr that may have been closed since.
    for old in [h for h in root.handlers if getattr(h, "_pgmonkey_cli", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("pgmonkey: %(levelname)s: %(name)s: %(message)s"))
    handler._pgmonkey_cli = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.INFO if debug else logging.WARNING)
    # --debug: pgmonkey's own DEBUG records (never secrets); other libraries stay at INFO.
    logging.getLogger("pgmonkey").setLevel(logging.DEBUG if debug else logging.NOTSET)


def _report(exc: BaseException, args: argparse.Namespace, *, unexpected: bool = False) -> None:
    debug = bool(getattr(args, "debug", False))
    if debug:
        traceback.print_exception(type(exc), exc, exc.__traceback__)
    message = format_error(exc)
    if unexpected:
        psycopg_error = type(exc).__module__.startswith("psycopg")
        if isinstance(exc, Warning):
            message = f"{type(exc).__name__} raised as an error: {message}"
        elif not psycopg_error:
            message = f"unexpected {type(exc).__name__}: {message}"
            if not debug and "\n" not in message:
                message += "\n  (run again with --debug to see the traceback)"
    print(f"pgmonkey: error: {message}", file=sys.stderr)
