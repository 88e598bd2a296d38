"""Exit statuses shared by every command."""

EXIT_OK = 0
"""The operation succeeded."""
EXIT_FAILURE = 1
"""The operation was attempted and failed (connection refused, import aborted, ...)."""
EXIT_USAGE = 2
"""Bad usage or an invalid configuration: nothing was attempted."""
EXIT_OUTCOME_UNKNOWN = 3
"""The connection was lost while committing and the server could not be asked the outcome:
the change may or may not have been made (check before retrying)."""
EXIT_READER_GONE = 141
"""The reader of the output went away (``pgmonkey ... | head``): 128 + SIGPIPE, the status a
shell reports for ``cat`` or ``yes`` in the same place. Nothing is printed about it."""
