"""Development tasks for the pgmonkey monorepo: ``nox -l`` lists them.

The full test suite, as CI runs it, is ``nox -t ci``. Every session installs what it needs
into its own virtual environment; PostgreSQL servers are started by the tests themselves
(``pgmonkey.testing``).
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).parent
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
PACKAGES = {
    "core": "packages/pgmonkey-core",
    "cli": "packages/pgmonkey-cli",
    "flask": "packages/pgmonkey-flask",
    "fastapi": "packages/pgmonkey-fastapi",
    "django": "packages/pgmonkey-django",
}
IMPORT_NAMES = {
    "core": "pgmonkey",
    "cli": "pgmonkey_cli",
    "flask": "pgmonkey_flask",
    "fastapi": "pgmonkey_fastapi",
    "django": "pgmonkey_django",
}
TEST_DIRS = {
    "core": ["tests/core"],
    "cli": ["tests/cli"],
    "flask": ["tests/ext_flask"],
    "fastapi": ["tests/ext_fastapi"],
    "django": ["tests/ext_django"],
}
TEST_REQUIREMENTS = [
    "pytest>=8",
    "pytest-asyncio>=0.24",
    "pytest-timeout>=2.3",
    "hypothesis>=6.100",
    "cryptography>=41",
    "psycopg[binary]",
]
FRAMEWORKS = {
    "flask": ["Flask", "httpx"],
    "fastapi": ["fastapi", "httpx", "uvicorn"],
    "django": ["Django"],
}

nox.needs_version = ">=2024.4.15"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["lint", "typecheck", "tests"]


def _add_pyenv_interpreters_to_path() -> None:
    """Let nox find every pyenv-installed CPython, not only the selected one."""
    pyenv_root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    found = sorted(glob.glob(os.path.join(pyenv_root, "versions", "3.1[0-9]*", "bin")))
    path = os.environ.get("PATH", "").split(os.pathsep)
    os.environ["PATH"] = os.pathsep.join([*(d for d in found if d not in path), *path])


_add_pyenv_interpreters_to_path()


def _local_packages(*names: str) -> list[str]:
    """Paths of the given local distributions (the core is always included)."""
    wanted = ["core", *(n for n in names if n != "core")]
    return [str(ROOT / PACKAGES[n]) for n in wanted]


def _install_editable(session: nox.Session, *names: str, extra: list[str] | None = None) -> None:
    args: list[str] = []
    for path in _local_packages(*names):
        args += ["-e", path]
    session.install(*args, *TEST_REQUIREMENTS, *(extra or []))


def _pytest(session: nox.Session, *paths: str) -> None:
    """Run pytest on ``paths``; posargs replace the paths."""
    targets = list(session.posargs) or [p for p in paths if (ROOT / p).exists()]
    session.run("python", "-m", "pytest", *targets, env={"PYTHONDONTWRITEBYTECODE": "1"})


@nox.session(python=PYTHONS, tags=["ci"])
@nox.parametrize("package", list(PACKAGES))
def tests(session: nox.Session, package: str) -> None:
    """Run one package's tests against real PostgreSQL servers."""
    deps = ["cli"] if package == "cli" else [package]
    _install_editable(session, *deps, extra=FRAMEWORKS.get(package, []))
    _pytest(session, *TEST_DIRS[package])


@nox.session(python=PYTHONS[0], tags=["ci"])
def minimums(session: nox.Session) -> None:
    """Run the core and CLI tests with the lowest allowed direct dependencies."""
    session.install(
        "--resolution=lowest-direct",
        *(sum((["-e", p] for p in _local_packages("cli")), [])),
    )
    session.install(*TEST_REQUIREMENTS[:-1], "--resolution=lowest-direct", "psycopg[binary]")
    _pytest(session, "tests/core", "tests/cli")


@nox.session(python=PYTHONS[-1], tags=["ci"])
def lint(session: nox.Session) -> None:
    """Check style and formatting with ruff."""
    session.install("ruff>=0.8")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHONS[0], tags=["ci"])
def typecheck(session: nox.Session) -> None:
    """Type-check every package with mypy --strict."""
    _install_editable(
        session,
        *PACKAGES,
        extra=["mypy>=1.13", "types-PyYAML", *sum(FRAMEWORKS.values(), []), "django-stubs"],
    )
    session.run(
        "mypy",
        *(f"{path}/src" for path in PACKAGES.values()),
    )


@nox.session(python=PYTHONS[-1], tags=["ci"])
def build(session: nox.Session) -> None:
    """Build a wheel and an sdist of each package, then install each wheel alone and import it."""
    session.install("build>=1.2", "check-wheel-contents>=0.6")
    dist = ROOT / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    for path in PACKAGES.values():
        session.run("python", "-m", "build", "--installer", "uv", "--outdir", str(dist), path)
    wheels = sorted(dist.glob("*.whl"))
    sdists = sorted(dist.glob("*.tar.gz"))
    if len(wheels) != len(PACKAGES) or len(sdists) != len(PACKAGES):
        session.error(f"expected {len(PACKAGES)} wheels and sdists, got {wheels} {sdists}")
    session.run("python", str(ROOT / "tools" / "check_dists.py"), str(dist))
    for key, import_name in IMPORT_NAMES.items():
        wheel = next(w for w in wheels if w.name.startswith(PACKAGES[key].split("/")[1].replace("-", "_")))
        venv = ROOT / ".nox" / "_isolated" / key
        shutil.rmtree(venv, ignore_errors=True)
        session.run("uv", "venv", "-q", "-p", sys.executable, str(venv), external=True)
        python = str(venv / "bin" / "python")
        local = [str(w) for w in wheels if w.name.startswith("pgmonkey_core")]
        session.run("uv", "pip", "install", "-q", "-p", python, *local, str(wheel), external=True)
        session.run(python, "-c", f"import {import_name}; print({import_name}.__name__, 'ok')", external=True)
