"""Small Sphinx helpers for the pgmonkey docs.

* ``pgmonkey-help`` directive: renders the real ``--help`` text of a ``pgmonkey`` command,
  straight from the CLI's argparse parser, so the CLI reference can never drift from the code.
* Module docstrings written with reStructuredText section titles (``Title`` underlined with
  ``===``) are turned into rubrics before autodoc renders them: section titles are not
  allowed inside a docstring, and the build treats that warning as an error.
"""

from __future__ import annotations

import argparse
import os
import re
from typing import Any, ClassVar

from docutils import nodes  # type: ignore[import-untyped]
from docutils.parsers.rst import directives  # type: ignore[import-untyped]
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

_UNDERLINE = re.compile(r"^(=+|-+|~+|\^+)$")
HELP_WIDTH = "88"


def _find_parser(words: list[str]) -> argparse.ArgumentParser:
    from pgmonkey_cli._app import build_parser

    parser = build_parser()
    for word in words:
        groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        for group in groups:
            if word in group.choices:
                parser = group.choices[word]
                break
        else:
            raise ValueError(f"pgmonkey-help: no command {' '.join(words)!r}")
    return parser


def help_text(words: list[str]) -> str:
    """Return ``pgmonkey <words> --help`` as the CLI prints it (88 columns)."""
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_WIDTH
    try:
        return _find_parser(words).format_help().rstrip()
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous


class PgMonkeyHelp(SphinxDirective):
    """``{pgmonkey-help} pgconfig test``: the command's help as a console block."""

    optional_arguments = 20
    has_content = False
    option_spec: ClassVar[dict[str, Any]] = {"caption": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        words = list(self.arguments)
        try:
            text = help_text(words)
        except Exception as exc:  # reported as a build warning (an error with -W)
            return [self.state.document.reporter.warning(str(exc), line=self.lineno)]
        command = " ".join(["pgmonkey", *words, "--help"])
        block = nodes.literal_block(f"$ {command}\n{text}", f"$ {command}\n{text}")
        block["language"] = "text"
        return [block]


def _rubrics(app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    """Replace ``Title`` / ``=====`` pairs in docstrings by ``.. rubric:: Title``."""
    i = 0
    while i < len(lines) - 1:
        title, underline = lines[i], lines[i + 1]
        if (
            title.strip()
            and not title.startswith(" ")
            and _UNDERLINE.match(underline.strip() or "x")
            and len(underline.strip()) >= len(title.strip())
        ):
            lines[i : i + 2] = [f".. rubric:: {title.strip()}"]
            if i + 1 < len(lines) and lines[i + 1].strip():
                lines.insert(i + 1, "")
        i += 1


def _same_object(a: str, b: str) -> bool:
    import importlib

    def load(path: str) -> Any:
        module, _, name = path.rpartition(".")
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError, ValueError):
            return None

    first = load(a)
    return first is not None and first is load(b)


def _resolve_reexports(
    app: Sphinx, env: Any, node: Any, contnode: nodes.Element
) -> nodes.Element | None:
    """Resolve ``pgmonkey.load_config`` to where it is documented (``pgmonkey.config``).

    The facade packages re-export names documented in their home modules; a reference to the
    re-exported path finds the documented object when both paths name the same object.
    """
    if node.get("refdomain") != "py":
        return None
    target = str(node.get("reftarget", ""))
    if not target.startswith("pgmonkey") or "." not in target:
        return None
    from sphinx.util.nodes import make_refnode

    domain = env.get_domain("py")
    short = target.rpartition(".")[2]
    for name, obj in domain.objects.items():
        if name.endswith("." + short) and name != target and _same_object(name, target):
            return make_refnode(app.builder, node["refdoc"], obj.docname, obj.node_id, contnode)
    return None


def _publish_schema(app: Sphinx, exception: Exception | None) -> None:
    """Write the configuration's JSON Schema where the template's first line points.

    ``https://pgmonkey.net/schema/pgmonkey.schema.json`` is this file of the built site; it is
    the same document as ``pgmonkey pgconfig schema`` prints.
    """
    if exception is not None or app.builder.format != "html":
        return
    import json
    from pathlib import Path

    from pgmonkey.config import json_schema

    target = Path(app.outdir) / "schema" / "pgmonkey.schema.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(json_schema(), indent=2) + "\n", encoding="utf-8")


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("pgmonkey-help", PgMonkeyHelp)
    app.connect("build-finished", _publish_schema)
    app.connect("autodoc-process-docstring", _rubrics)
    app.connect("missing-reference", _resolve_reexports)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
