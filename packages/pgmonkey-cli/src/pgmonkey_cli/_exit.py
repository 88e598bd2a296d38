"""Exit statuses shared by every command."""

EXIT_OK = 0
"""The operation succeeded."""
EXIT_FAILURE = 1
"""The operation was attempted and failed (connection refused, import aborted, ...)."""
EXIT_USAGE = 2
"""Bad usage or an invalid configuration: nothing was attempted."""
EXIT_READER_GONE = 141
"""The reader of the output went away (``pgmonkey ... | head``): 128 + SIGPIPE, the status a
shell reports for ``cat`` or ``yes`` in the same place. Nothing is printed about it."""
