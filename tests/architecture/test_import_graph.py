"""No import cycle inside any of the five packages.

The graph is built from the source files with :mod:`ast`, so it sees every import: at module
level, inside functions, and under ``if TYPE_CHECKING:``. A lazy or type-only import is the
usual way to hide a cycle, not to remove it: here the modules of each package must form a
layering (a module never needs, even for its annotations, a module that needs it).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "pgmonkey": "packages/pgmonkey-core/src",
    "pgmonkey_cli": "packages/pgmonkey-cli/src",
    "pgmonkey_flask": "packages/pgmonkey-flask/src",
    "pgmonkey_fastapi": "packages/pgmonkey-fastapi/src",
    "pgmonkey_django": "packages/pgmonkey-django/src",
}


def _module_name(src: Path, path: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(
    node: ast.Import | ast.ImportFrom, module: str, is_package: bool, modules: set[str]
) -> set[str]:
    """The modules of ``modules`` that ``node`` (in ``module``) imports.

    ``from pkg import sub`` with ``sub`` a module names ``pkg.sub`` only: importing a
    submodule runs its package's ``__init__`` in any case, which is no cycle.
    """
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names} & modules
    base = node.module or ""
    if node.level:
        parent = module.split(".")
        if not is_package:
            parent = parent[:-1]
        parent = parent[: len(parent) - (node.level - 1)]
        base = ".".join([*parent, *([base] if base else [])])
    submodules = {f"{base}.{alias.name}" for alias in node.names} & modules
    if len(submodules) < len(node.names) and base in modules:
        submodules.add(base)  # a name defined in ``base`` itself
    return submodules


def import_graph(import_name: str, src: Path) -> dict[str, set[str]]:
    """``{module: modules of the same package it imports anywhere in its source}``."""
    files = {_module_name(src, p): p for p in sorted((src / import_name).rglob("*.py"))}
    modules = set(files)
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        graph[name] = {
            target
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for target in _imported(node, name, path.name == "__init__.py", modules)
        } - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as ``[a, b, ..., a]``, or ``None`` if it is acyclic."""
    done: set[str] = set()
    path: list[str] = []
    on_path: set[str] = set()

    def visit(node: str) -> list[str] | None:
        path.append(node)
        on_path.add(node)
        for target in sorted(graph[node]):
            if target in on_path:
                return [*path[path.index(target) :], target]
            if target not in done and (cycle := visit(target)):
                return cycle
        on_path.discard(path.pop())
        done.add(node)
        return None

    for start in sorted(graph):
        if start not in done and (cycle := visit(start)):
            return cycle
    return None


@pytest.mark.parametrize("import_name", list(PACKAGES))
def test_no_import_cycle(import_name: str) -> None:
    graph = import_graph(import_name, ROOT / PACKAGES[import_name])
    assert len(graph) > 1, f"no modules found for {import_name}"
    cycle = find_cycle(graph)
    assert cycle is None, f"import cycle in {import_name}: {' -> '.join(cycle or [])}"


def test_a_cycle_is_found_and_named(tmp_path: Path) -> None:
    """The checker sees lazy and type-only imports, and relative ones."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from pkg import a\n")
    (package / "a.py").write_text("from . import b\n")
    (package / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.c import C\n"
    )
    (package / "c.py").write_text("def f():\n    from pkg.a import x\n")
    graph = import_graph("pkg", tmp_path)
    assert graph == {"pkg": {"pkg.a"}, "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.c"}, "pkg.c": {"pkg.a"}}
    assert find_cycle(graph) == ["pkg.a", "pkg.b", "pkg.c", "pkg.a"]
    (package / "c.py").write_text("import json\n")
    assert find_cycle(import_graph("pkg", tmp_path)) is None
