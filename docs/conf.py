"""Sphinx configuration for the pgmonkey documentation (``nox -s docs``)."""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "pgmonkey"
author = "The pgmonkey developers"
copyright = "2026, The pgmonkey developers"
release = importlib.metadata.version("pgmonkey-core")

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "pgmonkey_docs",
]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build", "examples", "_ext"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
nitpicky = False
# `nox -s docs` builds with -n: references to our own API must resolve; references to the
# standard library and third-party packages (no intersphinx, the build runs offline) cannot.
nitpick_ignore_regex = [
    (
        r"py:.*",
        r"(collections|os|typing|types|pathlib|argparse|asyncio|logging|subprocess|"
        r"contextlib|dataclasses|enum|ssl|socket|threading|concurrent|abc|datetime|io|"
        r"psycopg|psycopg_pool|yaml|flask|werkzeug|fastapi|starlette|anyio|django|pytest|"
        r"_pytest|cryptography)(\..*)?",
    ),
    (r"py:.*", r"(Any|Path|Mapping|Sequence|Iterator|Iterable|Callable|TypeVar|NoReturn)"),
    (r"py:.*", r"(Flask|FastAPI|APIRouter|Starlette|Request|Response|WebSocket|HTTPConnection)"),
    # psycopg's names in the signature of psycopg.Connection subclasses (PooledConnection).
    (r"py:.*", r"(PGconn|Row|RowFactory|AsyncRowFactory)"),
    # Private names (``_Scope``, ``pgmonkey._testing_base.ServerBase``) are not documented.
    (r"py:.*", r"(.*\.)?_[A-Za-z][\w.]*"),
    # Constants of a private module, described in environment.md rather than documented.
    (r"py:data", r"(SENSITIVE_KEYS|SENSITIVE_SUBSTRINGS)"),
    (r"py:.*", r"(str|int|float|bool|bytes|dict|list|tuple|set|frozenset|object|None|type)"),
    (
        r"py:.*",
        r"(BaseException|Exception|ValueError|TypeError|KeyError|RuntimeError|OSError|"
        r"TimeoutError|Warning|UserWarning|DeprecationWarning|ResourceWarning|RuntimeWarning)",
    ),
]

# No intersphinx: the build must pass offline with warnings as errors, and an unreachable
# inventory is a warning that cannot be suppressed.

html_theme = "furo"
html_title = "pgmonkey"
html_static_path: list[str] = []
