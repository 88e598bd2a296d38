"""``pip install pgmonkey-cli`` brings a libpq; without one, pgmonkey says what to install.

A fresh environment gets the CLI and the core from the local wheels. With psycopg-binary
installed (a dependency of the CLI where wheels exist) pgmonkey works without the system
libpq. Without it, a ``sitecustomize`` makes ``ctypes.util.find_library("pq")`` return
``None`` when ``PGMONKEY_TEST_HIDE_LIBPQ=1``: that is how a machine without libpq looks to
psycopg's pure-Python wrapper (the operating system's library is the one thing mocked).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.install.conftest import Venv, Wheels, make_venv

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

HIDE_LIBPQ = """\
import ctypes.util
import os

if os.environ.get("PGMONKEY_TEST_HIDE_LIBPQ") == "1":
    _find_library = ctypes.util.find_library

    def find_library(name):
        return None if name == "pq" else _find_library(name)

    ctypes.util.find_library = find_library
"""
HIDDEN = {"PGMONKEY_TEST_HIDE_LIBPQ": "1"}
LIBPQ_HINT = (
    "psycopg cannot load libpq: install psycopg's binary build, which brings its own libpq:"
    ' pip install "psycopg[binary]" (pgmonkey-cli depends on it where wheels exist); or install'
    " the system libpq (Debian/Ubuntu: apt install libpq5; Fedora/RHEL: dnf install libpq;"
    " macOS: brew install libpq)"
)
PSYCOPG_SAID = "psycopg said: no pq wrapper available. Attempts made: "


@pytest.fixture(scope="module")
def cli_venv(wheels: Wheels, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """``pip install pgmonkey-cli`` (with the local core) in a fresh environment."""
    venv = make_venv(tmp_path_factory.mktemp("venv") / "cli")
    venv.uv_pip("install", str(wheels.core), str(wheels.cli))
    (venv.site_packages / "sitecustomize.py").write_text(HIDE_LIBPQ)
    return venv


@pytest.fixture(scope="module")
def no_binary_venv(wheels: Wheels, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """The CLI, the core and two extensions with plain psycopg (no psycopg-binary wheel)."""
    venv = make_venv(tmp_path_factory.mktemp("venv") / "plain")
    venv.uv_pip(
        "install", str(wheels.core), str(wheels.cli), str(wheels.flask), str(wheels.fastapi)
    )
    venv.uv_pip("uninstall", "psycopg-binary")
    (venv.site_packages / "sitecustomize.py").write_text(HIDE_LIBPQ)
    return venv


def _config_file(tmp_path: Path, cfg: dict[str, Any]) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _pgconfig_test(
    venv: Venv, cfg: dict[str, Any], tmp_path: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``pgmonkey pgconfig test`` of a config file for ``cfg``, in ``venv``."""
    config = _config_file(tmp_path, cfg)
    return venv.command("pgmonkey", "pgconfig", "test", "--connconfig", str(config), env=env)


def test_the_cli_installs_psycopg_binary(cli_venv: Venv) -> None:
    code = "from importlib.metadata import version; print(version('psycopg-binary'))"
    assert cli_venv.run("-c", code).returncode == 0
    proc = cli_venv.command("pgmonkey", "--version", env=HIDDEN)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.splitlines()[-1].endswith("(binary implementation)")


def test_the_cli_works_without_system_libpq(
    cli_venv: Venv, pg_database: dict[str, Any], tmp_path: Path
) -> None:
    proc = _pgconfig_test(cli_venv, pg_database, tmp_path, HIDDEN)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_command_names_what_to_install_without_libpq(
    no_binary_venv: Venv, pg_database: dict[str, Any], tmp_path: Path
) -> None:
    proc = _pgconfig_test(no_binary_venv, pg_database, tmp_path, HIDDEN)
    assert proc.returncode == 1
    assert proc.stdout == ""
    first, second = proc.stderr.splitlines()
    assert first == f"pgmonkey: error: {LIBPQ_HINT}"
    assert second.startswith(f"  {PSYCOPG_SAID}")
    assert "libpq library not found" in second
    assert "Traceback" not in proc.stderr

    proc = no_binary_venv.command(
        "pgmonkey",
        "pgexport",
        "--table",
        "t",
        "--connconfig",
        str(tmp_path / "config.yaml"),
        env=HIDDEN,
    )
    assert (proc.returncode, proc.stderr.splitlines()[0]) == (1, f"pgmonkey: error: {LIBPQ_HINT}")


def test_version_still_works_and_says_libpq_is_missing(no_binary_venv: Venv) -> None:
    proc = no_binary_venv.command("pgmonkey", "--version", env=HIDDEN)
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("pgmonkey-core ")
    assert lines[-1] == "libpq unavailable (no libpq wrapper could be loaded)"
    assert proc.stderr.splitlines()[0] == f"pgmonkey: warning: {LIBPQ_HINT}"


def test_the_library_raises_a_pgmonkey_error_without_libpq(
    no_binary_venv: Venv, pg_database: dict[str, Any], tmp_path: Path
) -> None:
    _config_file(tmp_path, pg_database)
    code = (
        "import pgmonkey\n"
        "try:\n"
        "    pgmonkey.PGConnectionManager().get_database_connection('config.yaml')\n"
        "except pgmonkey.PsycopgUnavailableError as exc:\n"
        "    print(isinstance(exc, ImportError), isinstance(exc, pgmonkey.PgMonkeyError))\n"
        "    print(exc)\n"
    )
    proc = no_binary_venv.run("-c", code, env=HIDDEN, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[:2] == ["True True", LIBPQ_HINT]
    assert lines[2].startswith(PSYCOPG_SAID)


def test_plain_psycopg_uses_the_system_libpq_when_there_is_one(
    no_binary_venv: Venv, pg_database: dict[str, Any], tmp_path: Path
) -> None:
    """The same environment works once libpq is visible: only libpq was missing above."""
    proc = _pgconfig_test(no_binary_venv, pg_database, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    version = no_binary_venv.command("pgmonkey", "--version")
    assert version.stdout.splitlines()[-1].endswith("(python implementation)")


@pytest.mark.parametrize("extension", ["pgmonkey_flask", "pgmonkey_fastapi"])
def test_the_extensions_raise_the_pgmonkey_error_without_libpq(
    no_binary_venv: Venv, extension: str
) -> None:
    code = (
        "import pgmonkey\n"
        "try:\n"
        f"    import {extension}\n"
        "except pgmonkey.PsycopgUnavailableError as exc:\n"
        "    print(str(exc).splitlines()[0])\n"
    )
    proc = no_binary_venv.run("-c", code, env=HIDDEN)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, LIBPQ_HINT + "\n", "")


def test_pgmonkey_testing_raises_the_pgmonkey_error_without_libpq(no_binary_venv: Venv) -> None:
    code = (
        "import pgmonkey\n"
        "from pgmonkey.testing import ExternalServer\n"  # importing stays free of psycopg
        "try:\n"
        "    ExternalServer.from_dsn('host=127.0.0.1 user=u dbname=d')\n"
        "except pgmonkey.PsycopgUnavailableError as exc:\n"
        "    print(str(exc).splitlines()[0])\n"
    )
    proc = no_binary_venv.run("-c", code, env=HIDDEN)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, LIBPQ_HINT + "\n", "")
