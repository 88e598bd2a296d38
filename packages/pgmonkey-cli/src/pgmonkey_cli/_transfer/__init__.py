r"""CSV import and export behind ``pgmonkey pgimport`` and ``pgmonkey pgexport``.

Private: the command modules are the only callers. The pieces, one job each:

* :mod:`._errors`: the error classes (all derive from :class:`pgmonkey.errors.PgMonkeyError`).
* :mod:`._names`: ``[schema.]table`` parsing, column-name normalisation, default file names.
* :mod:`._detect`: encoding, delimiter, quote character and header detection on a sample.
* :mod:`._settings`: the ``*.pgimport.yaml`` / ``*.pgexport.yaml`` settings files, the CSV
  format and the result both operations report.
* :mod:`._types`: ``--infer-types`` (PostgreSQL types from a sample of values).
* :mod:`._stream`: the byte stream sent to ``COPY FROM STDIN`` (BOM, transcoding, ``\.``).
* :mod:`._copyout`: ``COPY TO STDOUT`` into a file.
* :mod:`._connect`: the connection, catalog lookup, informational messages.
* :mod:`._importer` / :mod:`._exporter`: the two operations.
"""
