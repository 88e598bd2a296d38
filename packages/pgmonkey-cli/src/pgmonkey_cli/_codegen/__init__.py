"""``pgmonkey pgconfig generate-code``: runnable programs for 4 connection types x 2 libraries.

The programs read the YAML file at run time (so no secret is ever printed) by its absolute
path (so they run from any directory). stdout carries only the program, ready for
``pgmonkey pgconfig generate-code ... > app.py``.
"""

from __future__ import annotations

import argparse
import os
import textwrap

from pgmonkey_cli._codegen import _templates as t
from pgmonkey_cli._exit import EXIT_OK

__all__ = ["LIBRARIES", "TITLES", "generate_code", "render"]

LIBRARIES = ("pgmonkey", "psycopg")

TITLES: dict[tuple[str, str], str] = {
    ("pgmonkey", "normal"): "Generated normal synchronous connection code using pgmonkey.",
    ("pgmonkey", "pool"): "Generated pooled synchronous connection code using pgmonkey.",
    ("pgmonkey", "async"): "Generated asynchronous connection code using pgmonkey.",
    ("pgmonkey", "async_pool"): "Generated asynchronous pooled connection code using pgmonkey.",
    ("psycopg", "normal"): "Generated normal synchronous connection code using psycopg.",
    ("psycopg", "pool"): "Generated pooled synchronous connection code using psycopg_pool.",
    ("psycopg", "async"): "Generated asynchronous connection code using psycopg.",
    ("psycopg", "async_pool"): (
        "Generated asynchronous pooled connection code using psycopg_pool."
    ),
}

_PGMONKEY_COMMENTS = {
    "normal": (
        "Get a normal (synchronous) PostgreSQL connection",
        "Use the connection",
    ),
    "pool": (
        "Get a pooled PostgreSQL connection",
        "Use the pool - each 'with' block acquires and releases a connection",
    ),
    "async": (
        "Get an async PostgreSQL connection",
        "Use the connection asynchronously",
    ),
    "async_pool": (
        "Get an async pooled PostgreSQL connection",
        "Use the pool - each 'async with' block acquires and releases a connection",
    ),
}

_PSYCOPG_IMPORTS = {
    "normal": "import psycopg\nimport yaml\n",
    "pool": "import psycopg\nimport yaml\nfrom psycopg_pool import ConnectionPool\n",
    "async": "import asyncio\n\nimport psycopg\nimport yaml\n",
    "async_pool": (
        "import asyncio\n\nimport psycopg\nimport yaml\n"
        "from psycopg_pool import AsyncConnectionPool\n"
    ),
}


def render(
    connection_type: str,
    library: str,
    config_file: str,
    *,
    resolve_env: bool = False,
    allow_sensitive_defaults: bool = False,
) -> str:
    """Return the program for one connection type and library.

    Args:
        connection_type: ``normal``, ``pool``, ``async`` or ``async_pool``.
        library: ``pgmonkey`` (through :class:`pgmonkey.PGConnectionManager`) or ``psycopg``
            (psycopg and psycopg_pool directly).
        config_file: The configuration path written into the program (made absolute).
        resolve_env: Resolve ``${VAR}``/``from_env``/``from_file`` references at run time.
        allow_sensitive_defaults: Passed on to pgmonkey (``library="pgmonkey"`` only).
    """
    title = TITLES[(library, connection_type)]
    path_literal = repr(os.path.abspath(config_file))
    is_async = connection_type.startswith("async")
    if library == "pgmonkey":
        manager_args = ""
        if resolve_env:
            manager_args = ", resolve_env=True"
            if allow_sensitive_defaults:
                manager_args += ", allow_sensitive_defaults=True"
        comment, use_comment = _PGMONKEY_COMMENTS[connection_type]
        text = t.PGMONKEY_ASYNC if is_async else t.PGMONKEY_SYNC
        report = textwrap.indent(t.REPORT_ASYNC if is_async else t.REPORT_SYNC, " " * 8)
        # The path goes in last: a file name containing "__TYPE__" must stay as it is.
        return (
            text.replace("__TITLE__", title)
            .replace("__TYPE__", connection_type)
            .replace("__MANAGER_ARGS__", manager_args)
            .replace("__COMMENT__", comment)
            .replace("__USE_COMMENT__", use_comment)
            .replace("__REPORT__", report)
            .replace("__CONFIG_FILE__", path_literal)
        )
    imports = _PSYCOPG_IMPORTS[connection_type]
    if resolve_env:
        imports = "import os\nimport re\nimport stat\nimport sys\n" + (
            imports if imports.startswith("import asyncio") else "\n" + imports
        )
        imports = imports.replace("import asyncio\n\n", "import asyncio\nimport os\n", 1)
    else:
        imports = "import sys\n" + ("" if imports.startswith("import asyncio") else "\n") + imports
    imports = _sort_imports(imports)
    parts = [
        t.PSYCOPG_HEADER.replace("__IMPORTS__", imports),
        t.PSYCOPG_ENV if resolve_env else "",
        t.PSYCOPG_COMMON.replace(
            "__RESOLVE__", "    config = resolve_env(config)\n" if resolve_env else ""
        )
        .replace("__SESSION_SECTION__", "async_settings" if is_async else "sync_settings")
        .replace("__POOL_SECTION__", "async_pool_settings" if is_async else "pool_settings"),
        t.PSYCOPG_APPLY_ASYNC if is_async else t.PSYCOPG_APPLY_SYNC,
        t.PSYCOPG_MAIN[connection_type].replace(
            "__REPORT__", t.REPORT_ASYNC if is_async else t.REPORT_SYNC
        ),
    ]
    return "".join(parts).replace("__TITLE__", title).replace("__CONFIG_FILE__", path_literal)


def _sort_imports(block: str) -> str:
    """Order an import block the isort way: standard library first, then third party."""
    lines = {line for line in block.splitlines() if line.strip()}
    stdlib = sorted(x for x in lines if x.split()[1] in {"asyncio", "os", "re", "stat", "sys"})
    third = sorted((x for x in lines if x not in stdlib), key=lambda x: (x.startswith("from"), x))
    return "\n".join(stdlib) + "\n\n" + "\n".join(third) + "\n"


def generate_code(args: argparse.Namespace) -> int:
    """Validate ``args.connconfig`` and print the requested program on stdout."""
    from pgmonkey.errors import ConfigError
    from pgmonkey_cli._options import load_config_from_args, selected_connection_type

    cfg = load_config_from_args(args, resolved=False)
    connection_type = selected_connection_type(args, cfg)
    if args.library == "psycopg" and cfg["connection_settings"].get("credential_provider"):
        raise ConfigError(
            "a credential provider is called by pgmonkey for each new connection; a plain "
            "psycopg program cannot call it. Generate the program with --library pgmonkey",
            source=args.connconfig,
            key_path=("connection_settings", "credential_provider"),
        )
    print(
        render(
            connection_type,
            args.library,
            args.connconfig,
            resolve_env=args.resolve_env,
            allow_sensitive_defaults=args.allow_sensitive_defaults,
        ),
        end="",
    )
    return EXIT_OK
