"""``pgmonkey pgserverconfig``: postgresql.conf and pg_hba.conf settings a config needs.

Only argparse is imported here; the handler imports the rest when it runs.
"""

from __future__ import annotations

import argparse
from typing import Any

from pgmonkey_cli._options import add_config_options, add_json, positive_int

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``pgserverconfig`` command."""
    parser = subparsers.add_parser(
        "pgserverconfig", help="Generate suggested server configuration entries"
    )
    add_config_options(
        parser,
        "Path to the config you want settings generated.",
        filepath_alias=True,
        connects=True,
    )
    parser.add_argument(
        "--audit",
        action="store_true",
        help="Connect to the server and compare current settings against recommendations.",
    )
    parser.add_argument(
        "--processes",
        type=positive_int,
        default=1,
        metavar="N",
        help="Number of application processes (workers, replicas) that each open the "
        "config's pools. Default: 1.",
    )
    parser.add_argument(
        "--client-cidr",
        action="append",
        default=[],
        metavar="CIDR",
        help="Network the application connects from, e.g. 10.0.0.0/24 (repeatable). "
        "Used for the pg_hba.conf ADDRESS.",
    )
    add_json(parser)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from pgmonkey_cli._server.command import run

    return run(args)
