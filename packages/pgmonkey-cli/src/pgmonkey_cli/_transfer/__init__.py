r"""CSV import and export behind ``pgmonkey pgimport`` and ``pgmonkey pgexport``.

Private: the command modules are the only callers. The pieces, one job each:

* :mod:`._errors`: the error classes (all derive from :class:`pgmonkey.errors.PgMonkeyError`).
* :mod:`._names`: ``[schema.]table`` parsing, column-name normalisation, default file names.
* :mod:`._detect`: encoding, delimiter, quote character and header detection on a sample.
* :mod:`._settings`: the ``*.pgimport.yaml`` / ``*.pgexport.yaml`` settings files.
* :mod:`._types`: ``--infer-types`` (PostgreSQL types from a sample of values).
* :mod:`._stream`: the byte stream sent to ``COPY FROM STDIN`` (BOM, transcoding, ``\.``).
* :mod:`._importer` / :mod:`._exporter`: the two operations.
"""
