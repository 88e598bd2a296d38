"""Turns exceptions into short messages and exit statuses, without tracebacks or secrets.

Everything the CLI writes to stderr (errors, ``--debug`` tracebacks, warnings, log records of
pgmonkey and of the libraries under it) passes through :func:`redact_output`: the one
redaction of the core (:func:`pgmonkey.config.redact_text`) with the secrets of every
configuration this run loaded (:func:`remember_config`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any, TextIO

from pgmonkey_cli._exit import EXIT_FAILURE, EXIT_READER_GONE, EXIT_USAGE

__all__ = [
    "Handler",
    "format_error",
    "redact_output",
    "remember_config",
    "run_handler",
    "silence_stdout",
]

Handler = Callable[[argparse.Namespace], int]

_MAX_DETAIL = 300
_loaded_configs: list[Any] = []


def remember_config(cfg: Any) -> None:
    """Mask the secrets of ``cfg`` in everything this run writes to stderr from now on."""
    _loaded_configs.append(cfg)


def redact_output(text: str) -> str:
    """``text`` as the CLI may show it: the secrets of every loaded configuration masked."""
    if not _loaded_configs and "=" not in text and "://" not in text:
        return text  # nothing to mask: no need to import pgmonkey.config
    from pgmonkey.config import redact_text

    return redact_text(text, list(_loaded_configs))


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

    Configuration errors exit with 2, every other failure with 1 (or the error's own
    ``exit_status``, e.g. 3 for a commit whose outcome is unknown). The message goes to stderr
    on one or two lines; ``--debug`` adds the traceback. A failed import is explained: a
    damaged installation (the old ``pgmonkey`` distribution next to pgmonkey-core) or psycopg
    without a libpq wrapper, each with the command that fixes it. A configuration warning
    raised as an error (``-W error``, ``PYTHONWARNINGS=error``) is an invalid configuration
    (exit 2); any other warning raised as an error is a failure (exit 1). Unexpected
    exceptions (bugs) are reported the same way, with their type, and exit with 1.
    """
    _loaded_configs.clear()
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
        return int(getattr(exc, "exit_status", EXIT_FAILURE))
    except Warning as exc:
        _report(exc, args, unexpected=not _is_config_warning(exc))
        return EXIT_USAGE if _is_config_warning(exc) else EXIT_FAILURE
    except ImportError as exc:
        return _report_import_error(exc, args)
    except BrokenPipeError:
        return silence_stdout()
    except Exception as exc:
        _report(exc, args, unexpected=True)
        return EXIT_FAILURE


def silence_stdout() -> int:
    """Point stdout at /dev/null after its reader went away; return ``EXIT_READER_GONE``.

    ``pgmonkey ... | head``: what is still buffered, and whatever is printed until the process
    ends, goes nowhere instead of raising ``BrokenPipeError`` again when Python flushes at
    exit (which would print "Exception ignored" and exit with 120).
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)
    return EXIT_READER_GONE


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
    print(redact_output(f"pgmonkey: warning: {message}"), file=sys.stderr)


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact_output(super().format(record))


def _configure_output(debug: bool) -> None:
    """One-line warnings and log records on stderr (the CLI is an application).

    ``--debug`` shows pgmonkey's DEBUG records and other libraries' INFO records.
    """
    import warnings

    warnings.showwarning = _show_warning
    root = logging.getLogger()
    # One handler, however often main() runs in a process (tests, embedding): each earlier
    # one would print every record again, to a stderr that may have been closed since.
    for old in [h for h in root.handlers if getattr(h, "_pgmonkey_cli", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_RedactingFormatter("pgmonkey: %(levelname)s: %(name)s: %(message)s"))
    # A record that pgmonkey also issued as a warning (printed above) is not printed twice.
    handler.addFilter(lambda record: not getattr(record, "pgmonkey_warned", False))
    handler._pgmonkey_cli = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.INFO if debug else logging.WARNING)
    # --debug: pgmonkey's own DEBUG records (never secrets); other libraries stay at INFO.
    logging.getLogger("pgmonkey").setLevel(logging.DEBUG if debug else logging.NOTSET)


def _report(exc: BaseException, args: argparse.Namespace, *, unexpected: bool = False) -> None:
    debug = bool(getattr(args, "debug", False))
    if debug:
        trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        sys.stderr.write(redact_output(trace))
    message = format_error(exc)
    if unexpected:
        psycopg_error = type(exc).__module__.startswith("psycopg")
        if isinstance(exc, Warning):
            message = f"{type(exc).__name__} raised as an error: {message}"
        elif not psycopg_error:
            message = f"unexpected {type(exc).__name__}: {message}"
            if not debug and "\n" not in message:
                message += "\n  (run again with --debug to see the traceback)"
    print(redact_output(f"pgmonkey: error: {message}"), file=sys.stderr)
