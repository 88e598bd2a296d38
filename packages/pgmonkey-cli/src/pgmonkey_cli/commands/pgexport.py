"""``pgmonkey pgexport``: write a table, view or query to a CSV file, streaming."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pgmonkey_cli._options import add_config_options, add_json
from pgmonkey_cli.commands.pgimport import add_format_options, format_overrides

__all__ = ["register"]

DESCRIPTION = """\
Export a table, view, materialized view or query to a CSV file with COPY ... TO STDOUT,
streamed straight to disk. NULL is written as an unquoted empty field and the empty string
as "" (PostgreSQL's CSV convention), so pgimport restores both exactly.

The default file name comes from the table: public.people -> people.csv, sales.people ->
sales.people.csv; other characters are percent-encoded, so it never leaves the current
directory. An existing file is never replaced without --overwrite, and only regular
files are replaced, atomically; "-" writes to standard output. The format
(delimiter, quote, encoding, header, NULL) is kept next to the file in
people.pgexport.yaml, written on first use; flags override it.
"""


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``pgexport`` command."""
    parser = subparsers.add_parser(
        "pgexport",
        help="Export PostgreSQL table data to a CSV file",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--table",
        help="Name of the source table, view or materialized view (schema.table or table).",
    )
    what.add_argument(
        "--query",
        help='A query to export instead, e.g. "SELECT * FROM people WHERE ...": exactly one '
        "SELECT, VALUES, TABLE or WITH query (a trailing ; is allowed), checked by the server "
        "before it runs and run read-only. It is SQL: never build it from untrusted input.",
    )
    add_config_options(parser, connects=True)
    parser.add_argument(
        "--export-file",
        "--export_file",  # pgmonkey 3.x spelling, still accepted
        dest="export_file",
        metavar="EXPORT_FILE",
        help="Path to the CSV file to export to (default: based on table name); - for "
        "standard output. A FIFO, the terminal or /dev/null is written as a stream.",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="Replace the export file if it exists (only regular files are ever replaced).",
    )
    add_format_options(parser)
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="Print nothing but errors (no progress bar)."
    )
    add_json(
        parser,
        "Print a JSON summary (rows, seconds, the format, the settings file...) on stdout "
        "instead of the text messages; errors stay on stderr.",
    )
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pgmonkey_cli._transfer._connect import connect, load_connection_config
    from pgmonkey_cli._transfer._errors import TransferUsageError
    from pgmonkey_cli._transfer._exporter import ExportRequest, run_export
    from pgmonkey_cli.commands.pgimport import print_summary

    if args.json and args.export_file == "-":
        raise TransferUsageError(
            "--json with --export-file -: standard output carries the data; export to a "
            "file to get the JSON summary"
        )
    cfg = load_connection_config(args)
    request = ExportRequest(
        table=args.table,
        query=args.query,
        export_file=Path(args.export_file) if args.export_file else None,
        overrides=format_overrides(args),
        overwrite=args.overwrite,
        quiet=args.quiet or args.json,
        progress=not (args.quiet or args.json) and sys.stderr.isatty(),
    )
    # With --export_file - the data is stdout: every message goes to stderr.
    out = sys.stderr if args.export_file == "-" else sys.stdout
    result = run_export(request, lambda: connect(cfg, autocommit=False), out)
    if args.json:
        print_summary("pgexport", result.summary())
    return 0
