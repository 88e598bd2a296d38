"""Errors raised by the import and export commands."""

from __future__ import annotations

from pgmonkey.errors import ConfigError, PgMonkeyError
from pgmonkey_cli._exit import EXIT_OUTCOME_UNKNOWN

__all__ = [
    "CommitOutcomeUnknownError",
    "ExportDataError",
    "ImportDataError",
    "TransferError",
    "TransferUsageError",
]


class TransferError(PgMonkeyError):
    """Base class of the import/export failures (exit status 1)."""


class ImportDataError(TransferError):
    """An import was aborted; nothing was committed.

    Attributes:
        line: 1-based physical line of the data file where the problem is, when known.
        column: The table column concerned, when known.
    """

    def __init__(
        self, message: str, *, line: int | None = None, column: str | None = None
    ) -> None:
        self.line = line
        self.column = column
        super().__init__(message)


class CommitOutcomeUnknownError(TransferError):
    """The connection was lost during ``COMMIT`` and the outcome could not be learned.

    The rows may or may not be in the table (exit status 3: check before retrying).
    """

    exit_status = EXIT_OUTCOME_UNKNOWN


class ExportDataError(TransferError):
    """An export failed; no output file was left behind."""


class TransferUsageError(ConfigError):
    """Bad arguments or a bad settings file: nothing was attempted (exit status 2)."""
