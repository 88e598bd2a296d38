"""``pgmonkey pgconfig``: create, test, validate and show configurations; generate code.

Only argparse is imported here; each handler imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pgmonkey_cli._options import (
    add_allow_sensitive_defaults,
    add_config_options,
    add_connconfig,
    add_connection_type,
    add_json,
    add_resolve_env,
)

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``pgconfig`` command and its sub-commands."""
    parser = subparsers.add_parser("pgconfig", help="Manage database configurations")
    commands = parser.add_subparsers(dest="pgconfig_command", help="pgconfig commands")

    create = commands.add_parser("create", help="Create a new database configuration file.")
    create.add_argument(
        "--type",
        choices=["pg"],
        default="pg",
        help='Database type for the configuration template. Default is "pg".',
    )
    add_connconfig(
        create, "Path to where you want your configuration file created.", filepath_alias=True
    )
    create.add_argument(
        "--force", action="store_true", help="Overwrite the file if it already exists."
    )
    create.set_defaults(handler=_create)

    test = commands.add_parser(
        "test", help="Test the database connection using a configuration file."
    )
    add_config_options(
        test,
        "Path to the configuration file you want to test.",
        filepath_alias=True,
        connects=True,
    )
    add_connection_type(test, "Connection type to test. Overrides the value in the config file.")
    test.add_argument(
        "--all", action="store_true", help="Test all four connection types, one after another."
    )
    add_json(test)
    test.set_defaults(handler=_test)

    code = commands.add_parser(
        "generate-code", help="Generate Python code to connect using a configuration file."
    )
    add_connconfig(code, "Path to the configuration file you want to use.", filepath_alias=True)
    add_connection_type(
        code, "Connection type for generated code. Overrides the value in the config file."
    )
    code.add_argument(
        "--library",
        choices=["pgmonkey", "psycopg"],
        default="pgmonkey",
        help='Target library for generated code. "pgmonkey" (default) generates code using '
        'pgmonkey. "psycopg" generates code using psycopg/psycopg_pool directly.',
    )
    add_resolve_env(code)
    add_allow_sensitive_defaults(code)
    code.set_defaults(handler=_generate_code)

    validate = commands.add_parser(
        "validate", help="Check a configuration file and list every problem in it."
    )
    add_config_options(
        validate, "Path to the configuration file you want to check.", filepath_alias=True
    )
    add_json(validate)
    validate.set_defaults(handler=_validate)

    show = commands.add_parser(
        "show", help="Print the effective configuration, with secrets redacted."
    )
    add_config_options(
        show, "Path to the configuration file you want to show.", filepath_alias=True
    )
    add_json(show, "Print the configuration as JSON instead of YAML.")
    show.set_defaults(handler=_show)

    schema = commands.add_parser(
        "schema",
        help="Print the JSON Schema of pgmonkey configuration files (for editors).",
        description="Print the JSON Schema that pgmonkey configuration files follow, generated "
        "from the rules the loader itself validates with. Point your editor's YAML support at "
        "it (the template's first line does: '# yaml-language-server: $schema=...'), or save "
        "it: pgmonkey pgconfig schema > pgmonkey.schema.json",
    )
    schema.set_defaults(handler=_schema)


def _schema(args: argparse.Namespace) -> int:
    import json

    from pgmonkey.config import json_schema

    print(json.dumps(json_schema(), indent=2))
    return 0


def _create(args: argparse.Namespace) -> int:
    from pgmonkey_cli._create import create_config

    return create_config(args)


def _test(args: argparse.Namespace) -> int:
    from pgmonkey_cli._install import conflicting_distribution
    from pgmonkey_cli._tester import run_test

    # Damaged files surface as a failed import, which run_handler explains.
    conflict = conflicting_distribution()
    if conflict is not None:
        print(f"pgmonkey: warning: {conflict}", file=sys.stderr)

    return run_test(args)


def _generate_code(args: argparse.Namespace) -> int:
    from pgmonkey_cli._codegen import generate_code

    return generate_code(args)


def _validate(args: argparse.Namespace) -> int:
    from pgmonkey_cli._inspect import validate

    return validate(args)


def _show(args: argparse.Namespace) -> int:
    from pgmonkey_cli._inspect import show

    return show(args)
