"""Running the ``pgmonkey`` command in-process, with its output and log records captured."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from dataclasses import dataclass, field

from pgmonkey_cli import main


@dataclass
class CliRun:
    """What one in-process run of ``pgmonkey`` produced."""

    argv: list[str]
    status: int
    stdout: str
    stderr: str
    records: list[logging.LogRecord] = field(default_factory=list)

    @property
    def text(self) -> str:
        """stdout, stderr and every log record (message and arguments), for searching."""
        logged = [f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in self.records]
        return "\n".join([self.stdout, self.stderr, *logged])


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        self.records.append(record)


_VERBOSE_LOGGERS = ("pgmonkey", "psycopg", "psycopg.pool")


def run_cli(*argv: str) -> CliRun:
    """Run ``pgmonkey *argv`` in this process at DEBUG level; restore logging afterwards.

    A root handler collects every record; the ``pgmonkey`` and ``psycopg`` loggers are set to
    DEBUG so that their records reach it whatever level the command gives the root logger.
    """
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    saved_levels = {name: logging.getLogger(name).level for name in _VERBOSE_LOGGERS}
    saved_showwarning = warnings.showwarning
    collect = _Collect()
    root.addHandler(collect)
    for name in _VERBOSE_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = main(list(argv))
            except SystemExit as exc:
                status = exc.code if isinstance(exc.code, int) else 1
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)
        warnings.showwarning = saved_showwarning
    return CliRun(list(argv), status, out.getvalue(), err.getvalue(), collect.records)
