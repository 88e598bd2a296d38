"""The READMEs run as printed: the repository's and each distribution's (its PyPI page).

* The repository README and pgmonkey-core's show a ``config.yaml`` whose password (and host
  and port) come from the environment, then Python code that loads it. They run together, as
  a newcomer pastes them: the YAML block is written verbatim to ``config.yaml`` and every
  Python block runs unmodified next to it, against a throwaway server with SSL that has the
  role and database the YAML names. Only the environment points them at that server
  (``APP_DB_PASSWORD``, ``APP_DB_HOST``, ``APP_DB_PORT`` and libpq's ``PGSSLROOTCERT``).
* The other distributions' examples are files (their first line is ``# app.py`` and so on),
  written next to a ``config.yaml`` for a fresh database and exercised by a runner below;
  ``console`` blocks run command by command (``...`` matches anything).
* Each distribution's README is its landing page: what it is, how to install it, an
  example, and every URL of its ``[project.urls]``.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from pgmonkey import load_config
from pgmonkey.testing import PostgresServer, require_ssl, start_server

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
CORE_README = ROOT / "packages" / "pgmonkey-core" / "README.md"
PACKAGE_READMES = sorted((ROOT / "packages").glob("*/README.md"))
TIMEOUT = 120


def _blocks(language: str, path: Path = README) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", path.read_text(), flags=re.DOTALL | re.M)


def _file_name(block: str) -> str | None:
    """``app.py`` for a block whose first line is ``# app.py``."""
    match = re.match(r"# ([\w.-]+\.(?:py|yaml))\n", block)
    return match.group(1) if match else None


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, **env},
        check=False,
    )


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in paths]


# --------------------------------------------------------------------------- the root README


def test_ci_runs_the_readme_test_command() -> None:
    commands = [b.strip() for b in _blocks("bash") if "nox -t ci" in b]
    assert len(commands) == 1
    ci_script = (ROOT / ".ci" / "run").read_text()
    assert commands[0] in ci_script.splitlines()


@pytest.mark.parametrize("readme", [README, CORE_README], ids=_ids([README, CORE_README]))
def test_readme_yaml_example_is_a_valid_config(
    readme: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (block,) = [b for b in _blocks("yaml", readme) if "connection_settings" in b]
    path = tmp_path / "config.yaml"
    path.write_text(block)
    monkeypatch.setenv("APP_DB_PASSWORD", "s3cret-from-env")
    monkeypatch.delenv("APP_DB_HOST", raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no unknown keys, no surprises
        cfg = load_config(path, resolve_env=True)
    assert cfg["connection_settings"]["password"] == "s3cret-from-env"
    assert cfg["connection_settings"]["host"] == "db.example.com"
    assert cfg["connection_type"] == "pool"


APP_PASSWORD = secrets.token_urlsafe(12)


@pytest.fixture(scope="module")
def app_server() -> Iterator[PostgresServer]:
    """A server with SSL, the role ``app`` and the database ``app`` the README's YAML names."""
    bindir = require_ssl()
    with start_server(
        ssl=True, bindir=bindir, roles={"app": APP_PASSWORD}, databases={"app": "app"}
    ) as server:
        yield server


README_OUTPUT = {
    README: [[r"^PostgreSQL \d+"], [r"^\(1,\)$"]],
    CORE_README: [[r"^\('app', 'app'\)$"]],
}


@pytest.mark.parametrize("readme", list(README_OUTPUT), ids=_ids(list(README_OUTPUT)))
def test_readme_examples_run_together(
    readme: Path, app_server: PostgresServer, tmp_path: Path
) -> None:
    (config,) = [b for b in _blocks("yaml", readme) if _file_name(b) == "config.yaml"]
    (tmp_path / "config.yaml").write_text(config)
    assert app_server.certificates is not None
    env = {
        "APP_DB_PASSWORD": APP_PASSWORD,
        "APP_DB_HOST": app_server.host,
        "APP_DB_PORT": str(app_server.port),
        "PGSSLROOTCERT": str(app_server.certificates.ca_cert),
    }
    blocks = _blocks("python", readme)
    assert len(blocks) == len(README_OUTPUT[readme])
    for code, expected in zip(blocks, README_OUTPUT[readme], strict=True):
        proc = _run([sys.executable, "-W", "error", "-c", code], tmp_path, env)
        assert (proc.returncode, proc.stderr) == (0, ""), proc.stderr
        for pattern in expected:
            assert re.search(pattern, proc.stdout, re.M), f"{pattern!r} not in {proc.stdout!r}"


# --------------------------------------------------------------------------- landing pages


def _project_urls(package: Path) -> list[str]:
    text = (package / "pyproject.toml").read_text()
    section = text.split("[project.urls]\n", 1)[1].split("\n[", 1)[0]
    return re.findall(r'^\w+ = "(https://[^"]+)"$', section, flags=re.M)


@pytest.mark.parametrize("readme", PACKAGE_READMES, ids=_ids(PACKAGE_READMES))
def test_each_distribution_readme_is_a_landing_page(readme: Path) -> None:
    dist = readme.parent.name
    text = readme.read_text()
    assert text.startswith(f"# {dist}\n\n")
    assert any(
        line == f"pip install {dist}" for b in _blocks("bash", readme) for line in b.split("\n")
    )
    assert _blocks("python", readme) or _blocks("console", readme)
    assert "## Links" in text
    urls = _project_urls(readme.parent)
    assert {"https://github.com/RexBytes/pgmonkey/issues"} <= set(urls)
    assert [url for url in urls if url not in text] == []


# --------------------------------------------------------------------------- package examples


@dataclass
class Runner:
    """How the example files of one README are exercised, and what must be printed."""

    stdout: list[str]
    code: str | None = None
    notes_table: bool = False
    argv: list[str] = field(default_factory=list)


# Starlette's TestClient announces its move to httpx2 (the root pyproject ignores it too).
_IGNORE_STARLETTE = "ignore:Using `httpx` with `starlette.testclient` is deprecated"
PACKAGE_RUNNERS = {
    "pgmonkey-flask": Runner(
        stdout=[r"^201$", r"^\{'notes': \['hello'\]\}$"],
        code=(
            "import sys; sys.path.insert(0, '.'); from app import create_app\n"
            "client = create_app().test_client()\n"
            "print(client.post('/notes/hello').status_code)\n"
            "print(client.get('/notes').json)"
        ),
        notes_table=True,
    ),
    "pgmonkey-fastapi": Runner(
        stdout=[r"1 passed"],
        code=(
            "import sys, pytest; sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider',"
            f" '-p', 'no:asyncio', '-W', {_IGNORE_STARLETTE!r}]))"
        ),
        notes_table=True,
    ),
    "pgmonkey-django": Runner(
        stdout=[r"^database pgmonkey_test_\w+$"],
        code=(
            "import os, sys; sys.path.insert(0, '.')\n"
            "os.environ['DJANGO_SETTINGS_MODULE'] = 'settings'\n"
            "import django; django.setup()\n"
            "from django.db import connection\n"
            "with connection.cursor() as cur:\n"
            "    cur.execute('SELECT current_database()')\n"
            "    print('database', cur.fetchone()[0])\n"
            "connection.close()"
        ),
    ),
    "pgmonkey-cli": Runner(stdout=[]),  # its console block says what is printed
}
"""pgmonkey-core's README runs with its own config.yaml in test_readme_examples_run_together."""
EXAMPLE_READMES = [p for p in PACKAGE_READMES if p.parent.name in PACKAGE_RUNNERS]


def test_every_distribution_readme_has_a_runner() -> None:
    assert {p.parent.name for p in PACKAGE_READMES} == {*PACKAGE_RUNNERS, "pgmonkey-core"}


def _matches(expected: list[str], actual: str) -> bool:
    """Doctest-style comparison: ``...`` matches anything (also across lines)."""
    want = "\n".join(expected).strip()
    pattern = ".*?".join(re.escape(part) for part in want.split("..."))
    return re.fullmatch(pattern, actual.strip(), flags=re.DOTALL) is not None


def _run_console(block: str, cwd: Path) -> None:
    commands: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            commands.append((line[2:], []))
        else:
            commands[-1][1].append(line)
    for line, expected in commands:
        words = shlex.split(line)
        assert words[0] == "pgmonkey", line
        argv = [sys.executable, "-m", "pgmonkey_cli", *words[1:]]
        proc = subprocess.run(
            argv,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=TIMEOUT,
            env={**os.environ, "COLUMNS": "88"},
            check=False,
        )
        assert proc.returncode == 0, f"$ {line}\n{proc.stdout}"
        assert _matches(expected, proc.stdout), (
            f"$ {line}\n--- expected\n" + "\n".join(expected) + f"\n--- got\n{proc.stdout}"
        )


@pytest.mark.parametrize("readme", EXAMPLE_READMES, ids=_ids(EXAMPLE_READMES))
def test_distribution_readme_examples_run(
    readme: Path, pg_database: dict[str, Any], tmp_path: Path
) -> None:
    runner = PACKAGE_RUNNERS[readme.parent.name]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(pg_database))
    if runner.notes_table:
        settings = load_config(pg_database)["connection_settings"]
        with psycopg.connect(**settings, autocommit=True) as conn:
            conn.execute("CREATE TABLE notes (text text)")
    python = _blocks("python", readme)
    for block in python:
        name = _file_name(block)
        assert name is not None, f"{readme}: a Python example names its file on its first line"
        (tmp_path / name).write_text(block)
    for block in _blocks("console", readme):
        _run_console(block, tmp_path)
    if runner.code is not None:
        proc = _run([sys.executable, "-W", "error", "-c", runner.code], tmp_path, {})
        assert proc.returncode == 0, proc.stdout + proc.stderr
        for pattern in runner.stdout:
            assert re.search(pattern, proc.stdout, re.M), f"{pattern!r} not in {proc.stdout!r}"
    assert python or _blocks("console", readme)
