"""Sphinx configuration for the pgmonkey documentation (``nox -s docs``)."""

from __future__ import annotations

import importlib.metadata

project = "pgmonkey"
author = "The pgmonkey developers"
copyright = "2026, The pgmonkey developers"  # noqa: A001
release = importlib.metadata.version("pgmonkey-core")

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build", "examples"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
nitpicky = False

intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
}
intersphinx_disabled_reftypes = ["*"]
intersphinx_timeout = 1

html_theme = "furo"
html_title = "pgmonkey"
