"""``pgmonkey pgimport``: load a CSV or text file into a table, losslessly and atomically."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pgmonkey_cli._options import add_config_options, add_json

__all__ = ["add_format_options", "register"]

DESCRIPTION = """\
Import a CSV or text file into a table in one transaction: either every row is imported
exactly, or nothing is (the error names the line, the column and the problem).

On first use the file's encoding, delimiter, quote character and header are detected and
written next to it (data.csv -> data.pgimport.yaml); later runs read that file. Flags
override it. Detection refuses rather than guesses (damaged UTF-8, an unlikely code page, a
first line that may or may not be a header) and says which flag to give. A missing table is
created from the header (text columns, or --infer-types). An unquoted empty field is NULL,
a quoted "" is the empty string (as in PostgreSQL's COPY).

If the connection is lost during COMMIT, pgimport asks the server what happened: exit
status 0 if it committed (with a warning), 1 if it rolled back, 3 if it cannot be learned
(check before retrying: the message gives the query that tells).

--jobs N splits the file at record boundaries and runs N COPY streams, still all or
nothing: into an existing table with two-phase commit (the server needs
max_prepared_transactions >= N), into a new table or with --truncate through a staging
table. What an interrupted run leaves (prepared transactions, staging tables named
pgmonkey_import_*) is cleaned by the next run, or by --cleanup.
"""


def _jobs(value: str) -> int | None:
    from pgmonkey_cli._transfer._parallel import MAX_JOBS

    if value == "auto":
        return None
    try:
        jobs = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'auto', got {value!r}") from None
    if not 1 <= jobs <= MAX_JOBS:
        raise argparse.ArgumentTypeError(f"expected 1 to {MAX_JOBS} (or auto), got {jobs}")
    return jobs


def _char(value: str) -> str:
    named = {"\\t": "\t", "tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    return named.get(value.lower() if len(value) > 1 else value, value)


def add_format_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--delimiter``, ``--quote``, ``--encoding``, ``--header/--no-header``, ``--null``."""
    group = parser.add_argument_group("CSV format (overrides the settings file)")
    group.add_argument(
        "--delimiter", type=_char, help="Field delimiter: one character, or tab/'\\t'."
    )
    group.add_argument("--quote", type=_char, help='Quote character (default ").')
    group.add_argument(
        "--encoding", help="File encoding: utf-8, utf-8-sig, utf-16, latin-1, cp1252, ..."
    )
    group.add_argument(
        "--header",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Whether the first record holds the column names (detection decides only on "
        "evidence, and asks otherwise).",
    )
    group.add_argument(
        "--null",
        metavar="TEXT",
        help='Unquoted text meaning NULL (default: the empty field; a quoted "" is never NULL).',
    )


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``pgimport`` command."""
    parser = subparsers.add_parser(
        "pgimport",
        help="Import CSV and text files to the PostgreSQL database",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--import-file",
        "--import_file",  # pgmonkey 3.x spelling, still accepted
        dest="import_file",
        metavar="IMPORT_FILE",
        help="Path to the file to import (required unless --cleanup).",
    )
    parser.add_argument(
        "--table",
        help="(Required unless --cleanup.) "
        "Name of the target table in the database (schema.table or table; "
        "double-quote a name containing dots: '\"my.table\"').",
    )
    add_config_options(parser, connects=True)
    add_format_options(parser)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--if-exists",
        dest="if_exists",
        choices=["append", "truncate", "fail"],
        default="append",
        help="When the table exists: append rows (default), empty it first (same "
        "transaction), or fail.",
    )
    mode.add_argument(
        "--truncate",
        dest="if_exists",
        action="store_const",
        const="truncate",
        help="Same as --if-exists truncate.",
    )
    parser.add_argument(
        "--infer-types",
        action="store_true",
        help="When creating the table, pick integer/bigint/numeric/boolean/date/timestamp "
        "columns from a sample, only where the server gives every sampled value back as "
        "written (default: all text).",
    )
    parser.add_argument(
        "--jobs",
        type=_jobs,
        default=None,
        metavar="N",
        help="COPY streams to run in parallel, 1 to 8, all or nothing (default auto: 1 below "
        "64 MiB, else from the file size and the cores).",
    )
    parser.add_argument(
        "--cleanup",
        action="store_true",
        help="Only finish or remove what interrupted --jobs runs left in the database "
        "(prepared transactions, staging tables); import nothing.",
    )
    parser.add_argument(
        "--config-only",
        action="store_true",
        help="Only detect the format and write the settings file; import nothing.",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="Print nothing but errors (no progress bar)."
    )
    add_json(
        parser,
        "Print a JSON summary (rows, seconds, the format, the settings file...) on stdout "
        "instead of the text messages; errors stay on stderr.",
    )
    parser.set_defaults(handler=_handle)


def format_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The format flags that were given (``None`` for the others)."""
    return {
        "encoding": args.encoding,
        "delimiter": args.delimiter,
        "quote": args.quote,
        "header": args.header,
        "null": args.null,
    }


def print_summary(command: str, summary: dict[str, Any]) -> None:
    """Print ``--json``'s one JSON document on stdout."""
    import json

    print(json.dumps({"command": command, **summary}, indent=2))


def _handle(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pgmonkey_cli._transfer._connect import connect, load_connection_config
    from pgmonkey_cli._transfer._errors import TransferUsageError
    from pgmonkey_cli._transfer._importer import ImportRequest, run_import

    if args.cleanup:
        return _cleanup(args)
    # An empty value is given (and refused later, saying why); only an absent flag is missing.
    missing = [
        f for f, v in (("--import-file", args.import_file), ("--table", args.table)) if v is None
    ]
    if missing:
        raise TransferUsageError(f"the following arguments are required: {', '.join(missing)}")
    cfg = None if args.config_only else load_connection_config(args)
    request = ImportRequest(
        data_file=Path(args.import_file),
        table=args.table,
        overrides=format_overrides(args),
        config_only=args.config_only,
        infer_types=args.infer_types,
        if_exists=args.if_exists,
        quiet=args.quiet or args.json,
        progress=not (args.quiet or args.json) and sys.stderr.isatty(),
        jobs=args.jobs,
    )
    result = run_import(request, lambda: connect(cfg or {}, autocommit=False), sys.stdout)
    if args.json:
        print_summary("pgimport", result.summary())
    return 0


def _cleanup(args: argparse.Namespace) -> int:
    """``--cleanup``: clean the leftovers of interrupted ``--jobs`` runs, nothing else."""
    from pgmonkey_cli._transfer._connect import (
        connect,
        driver_log_demoted,
        load_connection_config,
        messenger,
    )
    from pgmonkey_cli._transfer._leftovers import clean_leftovers

    quiet = args.quiet or args.json
    say = messenger(quiet, sys.stdout)
    cfg = load_connection_config(args)
    with driver_log_demoted():
        conn = connect(cfg, autocommit=True)
        try:
            done = clean_leftovers(conn, say=say)
        finally:
            conn.close()
    if not done.describe():
        say("No leftovers of interrupted pgimport --jobs runs.")
    if args.json:
        print_summary(
            "pgimport",
            {
                "cleanup": True,
                "committed": done.committed,
                "rolled_back": done.rolled_back,
                "dropped": done.dropped,
                "failed": done.failed,
            },
        )
    return 1 if done.failed else 0
