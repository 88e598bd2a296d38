"""Every example in docs/ runs as printed, against a real PostgreSQL server.

* Python examples are files under ``docs/examples/`` shown with ``literalinclude``; each one is
  listed in ``SCRIPTS`` below with what it must print, and runs as a subprocess with
  ``-W error`` in a temporary directory holding ``config.yaml`` for a fresh database.
* ``console`` blocks in the pages are shell sessions: every ``$ pgmonkey ...`` line runs as
  ``python -m pgmonkey_cli ...`` (``$ django-admin ...`` as ``python -m django ...``) and its
  output (stdout and stderr) must match the lines printed under it (``...`` matches
  anything, as in doctest). ``$ echo $?`` shows the previous exit status. The blocks of one
  page run in order in one directory, seeded with ``config.yaml`` and the files of
  ``docs/examples/<page>/``.
* YAML examples are valid pgmonkey configurations (no warnings).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml

from pgmonkey import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
EXAMPLES = DOCS / "examples"
PAGES = sorted(
    p for p in DOCS.rglob("*.md") if "_build" not in p.parts and "examples" not in p.parts
)
TIMEOUT = 120

Config = dict[str, Any]


# --------------------------------------------------------------------------- what runs


@dataclass
class Script:
    """A Python example and what it must print."""

    stdout: list[str]
    """Regular expressions that must all match somewhere in stdout."""
    prepare: Callable[[Config, Path], object] | None = None
    """Writes extra files (the config is already written to config.yaml)."""
    env: dict[str, str] = field(default_factory=dict)
    argv: list[str] = field(default_factory=list)
    runner: str | None = None
    """Python code run instead of the file itself (``{path}`` is the example's path)."""


def _write_yaml(path: Path, cfg: Config) -> None:
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))


def _django_settings_dir(cfg: Config, tmp: Path) -> None:
    shutil.copy(EXAMPLES / "django" / "settings.py", tmp / "settings.py")


def _copy_example(page: str, name: str) -> Callable[[Config, Path], None]:
    """Copy ``<page>/<name>`` next to config.yaml."""

    def prepare(cfg: Config, tmp: Path) -> None:
        shutil.copy(EXAMPLES / page / name, tmp / name)

    return prepare


def _django_two_aliases(cfg: Config, tmp: Path) -> None:
    shutil.copy(EXAMPLES / "django" / "databases.py", tmp / "databases.py")
    _write_yaml(tmp / "replica.yaml", cfg)


def _with_replica(page: str, name: str) -> Callable[[Config, Path], None]:
    """Copy ``<page>/<name>`` next to config.yaml, with replica.yaml (the same database)."""

    def prepare(cfg: Config, tmp: Path) -> None:
        shutil.copy(EXAMPLES / page / name, tmp / name)
        _write_yaml(tmp / "replica.yaml", cfg)
        with psycopg.connect(**load_config(cfg)["connection_settings"]) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS notes (id serial PRIMARY KEY, text text)")

    return prepare


def _django_pgbouncer(cfg: Config, tmp: Path) -> None:
    shutil.copy(EXAMPLES / "django" / "pgbouncer.py", tmp / "pgbouncer.py")
    _write_yaml(tmp / "pgbouncer.yaml", {**cfg, "pooler": "pgbouncer"})


def _recipe_runner(module: str, function: str, fake: str) -> str:
    """Python code importing ``module`` next to the example, faking its cloud credential.

    ``fake`` replaces the recipe's SDK credential with one giving ``TOKEN``; the code makes
    ``TOKEN`` a new role's password and connects with ``credential_provider`` naming
    ``module:function``.
    """
    code = (
        "import os, secrets, sys\n"
        "sys.path.insert(0, os.path.dirname(PATH))\n"
        "import psycopg\n"
        "from psycopg import sql\n"
        f"import {module} as recipe\n"
        "from pgmonkey import load_config\n"
        "from pgmonkey.connections import connect\n"
        "TOKEN = 'token-' + secrets.token_hex(16)\n"
        f"{fake}"
        "admin = load_config('config.yaml')['connection_settings']\n"
        "role = 'cloud_' + secrets.token_hex(4)\n"
        "with psycopg.connect(**admin, autocommit=True) as c:\n"
        "    c.execute(sql.SQL('CREATE ROLE {} LOGIN PASSWORD {}').format("
        "sql.Identifier(role), sql.Literal(TOKEN)))\n"
        "settings = {k: v for k, v in admin.items() if k not in ('user', 'password')}\n"
        f"settings.update(user=role, credential_provider='{module}:{function}')\n"
        "with connect({'connection_settings': settings}) as conn:\n"
        "    who = conn.execute('SELECT current_user').fetchone()[0]\n"
        f"print('{module}:{function}: connected as the role' if who == role else who)\n"
        "with psycopg.connect(**admin, autocommit=True) as c:\n"
        "    c.execute(sql.SQL('DROP ROLE {}').format(sql.Identifier(role)))\n"
    )
    return "PATH = '{path}'\n" + code.replace("{", "{{").replace("}", "}}")


PYTEST_RUNNER = (
    "import sys, pytest; sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', '{path}']))"
)

SCRIPTS: dict[str, Script] = {
    "quickstart/sync_example.py": Script(stdout=[r"^visits: 1$", r"^still: 1$"]),
    "quickstart/async_example.py": Script(stdout=[r"^doubled: \[0, 2, 4, 6, 8\]$"]),
    "migration/unchanged_3x_code.py": Script(
        stdout=[
            r"^normal: \(1,\)$",
            r"^pool: \(1,\)$",
            r"^password: \*\*\*REDACTED\*\*\*$",
            r"^async_pool: \(1,\)$",
        ]
    ),
    "connection-types/building_blocks.py": Script(
        stdout=[
            r"^connect: \(1,\)$",
            r"^open_pool: \(2,\)$",
            r"^connect_async: \(3,\)$",
            r"^open_async_pool: \(4,\)$",
        ]
    ),
    "connection-types/nesting.py": Script(
        stdout=[
            r"^normal: the inner block saw 1 row\(s\); kept \['outer'\]$",
            r"^pool: the inner block saw 0 row\(s\); kept \['outer'\]$",
        ]
    ),
    "connection-types/threads.py": Script(stdout=[r"^squares: 328350$"]),
    "operations/graceful.py": Script(stdout=[r"^jobs done: 3$", r"^committed: 3$"]),
    "operations/rotate_secret_file.py": Script(
        stdout=[
            r"^before rotation: True$",
            r"^open connection still works: True$",
            r"^new connection after rotation: True$",
            r"^the manager kept the same pool: True$",
            r"^the old password is refused$",
        ]
    ),
    "operations/rotate_provider.py": Script(
        stdout=[
            r"^connected as the app role: True$",
            r"^provider calls: True all passwords different: True$",
        ]
    ),
    # The cloud recipes: their SDK credential object is replaced by a local fake (those
    # clouds cannot be reached here); the token it gives is the role's password on a real
    # server, and pgmonkey connects through the recipe's provider function.
    "operations/azure_entra.py": Script(
        stdout=[r"^azure_entra:entra_token: connected as the role$"],
        runner=_recipe_runner(
            "azure_entra",
            "entra_token",
            "class Token:\n    token = TOKEN\n"
            "class Fake:\n"
            "    def get_token(self, *scopes):\n"
            "        assert scopes == (recipe.SCOPE,)\n"
            "        return Token()\n"
            "recipe.credential = lambda: Fake()\n",
        ),
    ),
    "operations/gcp_cloudsql.py": Script(
        stdout=[r"^gcp_cloudsql:iam_token: connected as the role$"],
        runner=_recipe_runner(
            "gcp_cloudsql",
            "iam_token",
            "class Fake:\n    valid = True\n    token = TOKEN\n"
            "recipe.credentials = lambda: Fake()\n",
        ),
    ),
    "operations/metrics.py": Script(
        stdout=[
            r"^sum: 4950$",
            r"^borrows timed: 100$",
            r"^max: \d+$",
            r"^metrics: db\.client\.connection\.count\[idle\], "
            r"db\.client\.connection\.count\[used\], db\.client\.connection\.create_time, "
            r"db\.client\.connection\.idle\.max, db\.client\.connection\.idle\.min, "
            r"db\.client\.connection\.max, db\.client\.connection\.pending_requests, "
            r"db\.client\.connection\.use_time, db\.client\.connection\.wait_time$",
        ]
    ),
    "operations/prometheus.py": Script(
        stdout=[
            r"^sum: 4950$",
            r"^series: db_client_connection_count, db_client_connection_create_time_seconds_"
            r"bucket, .*db_client_connection_idle_max, db_client_connection_idle_min, "
            r"db_client_connection_max, db_client_connection_pending_requests, "
            r"db_client_connection_use_time_seconds_bucket, .*"
            r"db_client_connection_wait_time_seconds_sum$",
            r"^db_client_connection_wait_time_seconds_count\{.*"
            r'db_client_connection_pool_name="pool-1".*\} 100\.0$',
            r"^db_client_connection_wait_time_seconds_count\{.*"
            r'db_client_connection_pool_name="connection-1".*\} 1\.0$',
        ]
    ),
    "connection-types/two_managers.py": Script(
        stdout=[r"^same pool: True$", r"^still works: True$", r"^closed: True$"]
    ),
    "testing/start_server.py": Script(stdout=[r"PostgreSQL 1\d", r"rows: \[\(1, 'one'\)\]"]),
    "testing/test_orders.py": Script(stdout=[r"2 passed"], runner=PYTEST_RUNNER),
    "testing/test_factories.py": Script(stdout=[r"2 passed"], runner=PYTEST_RUNNER),
    "environment/show_config.py": Script(
        stdout=[r"^port: 6432$", r'"password": "\*\*\*REDACTED\*\*\*"', r'"user": "app"'],
        env={"APP_DB_PASSWORD": "s3cret-from-env", "APP_DB_PORT": "6432"},
        prepare=lambda cfg, tmp: shutil.copy(EXAMPLES / "environment" / "env.yaml", tmp),
    ),
    "scale-out/replicas.py": Script(
        stdout=[
            r"^read-write: connected to the primary$",
            r"^prefer-standby: connected to the standby$",
            r"^read-write after failover: the promoted standby$",
        ]
    ),
    "flask/app.py": Script(stdout=[r"^\{'id': 1\}$", r"^\[\{'id': 1, 'text': 'hello'\}\]$"]),
    "flask/test_app.py": Script(stdout=[r"2 passed"], runner=PYTEST_RUNNER),
    "flask/health.py": Script(stdout=[r"^200 \{'status': 'ok'\}$", r"^200 ok \d+$"]),
    "fastapi/health.py": Script(
        stdout=[r"^200 \{'status': 'ok'\}$", r"^200 ok default True$"],
        runner=(
            "import asyncio, sys; sys.path.insert(0, '.'); from health import app\n"
            "from pgmonkey_fastapi.testing import client\n"
            "async def main():\n"
            "    async with client(app) as http:\n"
            "        r = await http.get('/healthz'); print(r.status_code, r.json())\n"
            "        r = await http.get('/readyz'); body = r.json()\n"
            "        print(r.status_code, body['status'], body['database'],\n"
            "              'pool_size' in body['pool'])\n"
            "asyncio.run(main())"
        ),
        prepare=_copy_example("fastapi", "health.py"),
    ),
    "django/health.py": Script(
        stdout=[
            r"^/healthz 200 \{'status': 'ok'\}$",
            r"^/readyz 200 ok$",
            r"^/ops/readyz 200 ok$",
        ],
        runner=(
            "import os, sys; sys.path.insert(0, '.');"
            "os.environ['DJANGO_SETTINGS_MODULE'] = 'health';"
            "import django; django.setup();"
            "from django.db import connections; from django.test import Client;"
            "[print(p, r.status_code, r.json() if p == '/healthz' else r.json()['status'])"
            " for p in ('/healthz', '/readyz', '/ops/readyz') for r in [Client().get(p)]];"
            "connections.close_all()"
        ),
        prepare=_copy_example("django", "health.py"),
    ),
    "django/settings.py": Script(
        stdout=[r"'ENGINE': 'django.db.backends.postgresql'", r"statement_timeout"],
        runner=(
            "import os, sys, pprint; sys.path.insert(0, '.');"
            "os.environ['DJANGO_SETTINGS_MODULE'] = 'settings';"
            "import django; django.setup();"
            "from django.conf import settings;"
            "from django.db import connection;"
            "entry = settings.DATABASES['default'];"
            "pprint.pprint({{k: v for k, v in entry.items() if k != 'PASSWORD'}});"
            "cur = connection.cursor(); cur.execute('SHOW statement_timeout');"
            "print('statement_timeout', cur.fetchone()[0]); connection.close()"
        ),
        prepare=_django_settings_dir,
    ),
    "django/from_env.py": Script(
        stdout=[r"^database: pgmonkey_test_\w+$"],
        env={"PGMONKEY_CONFIG": "config.yaml"},
        runner=(
            "import os, sys; sys.path.insert(0, '.');"
            "os.environ['DJANGO_SETTINGS_MODULE'] = 'from_env';"
            "import django; django.setup();"
            "from django.db import connection;"
            "cur = connection.cursor(); cur.execute('SELECT current_database()');"
            "print('database:', cur.fetchone()[0]); connection.close()"
        ),
        prepare=_copy_example("django", "from_env.py"),
    ),
    "flask/replicas.py": Script(
        stdout=[r"^201$", r"^\{'notes': \['hello'\]\}$"],
        prepare=lambda cfg, tmp: _write_yaml(tmp / "replica.yaml", cfg),  # the example
    ),
    "fastapi/replicas.py": Script(
        stdout=[r"^201 \{'ok': True\}$", r"^\{'notes': \['hello'\]\}$"],
        runner=(
            "import asyncio, sys; sys.path.insert(0, '.'); from replicas import app\n"
            "from pgmonkey_fastapi.testing import client\n"
            "async def main():\n"
            "    async with client(app) as http:\n"
            "        r = await http.post('/notes/hello'); print(r.status_code, r.json())\n"
            "        print((await http.get('/notes')).json())\n"
            "asyncio.run(main())"
        ),
        prepare=_with_replica("fastapi", "replicas.py"),
    ),
    "django/replicas.py": Script(
        stdout=[r"^read: replica \(0,\)$", r"^write: default \(0,\)$"],
        runner=(
            "import os, sys; sys.path.insert(0, '.');"
            "os.environ['DJANGO_SETTINGS_MODULE'] = 'replicas';"
            "import django; django.setup();"
            "from django.db import connections, router;"
            "[print(kind + ':', alias, connections[alias].cursor().execute("
            "'SELECT count(*) FROM notes').fetchone()) for kind, alias in "
            "(('read', router.db_for_read(None)), ('write', router.db_for_write(None)))];"
            "connections.close_all()"
        ),
        prepare=_with_replica("django", "replicas.py"),
    ),
    "django/pgbouncer.py": Script(
        stdout=[r"^DISABLE_SERVER_SIDE_CURSORS True$", r"^pool False$"],
        runner=(
            "import sys; sys.path.insert(0, '.'); import pgbouncer;"
            "entry = pgbouncer.DATABASES['default'];"
            "print('DISABLE_SERVER_SIDE_CURSORS', entry['DISABLE_SERVER_SIDE_CURSORS']);"
            "print('pool', 'pool' in entry['OPTIONS'])"
        ),
        prepare=_django_pgbouncer,
    ),
    "django/databases.py": Script(
        stdout=[r"default 0", r"replica 60"],
        runner=(
            "import sys; sys.path.insert(0, '.'); import databases;"
            "[print(alias, entry['CONN_MAX_AGE']) for alias, entry in databases.DATABASES.items()]"
        ),
        prepare=_django_two_aliases,
    ),
}


def _config_for(pg_database: Config) -> Config:
    cfg = dict(pg_database)
    cfg["connection_settings"] = dict(cfg["connection_settings"])
    return cfg


# --------------------------------------------------------------------------- page parsing


def _fenced_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}[^\n]*\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


def _includes(text: str) -> list[str]:
    """Files a page shows (``literalinclude``) or offers for download (``{download}``)."""
    shown = re.findall(r"^```\{literalinclude\}\s+(\S+)", text, flags=re.MULTILINE)
    return shown + re.findall(r"\{download\}`[^`<]*<([^>`]+)>`", text)


def _included_files() -> set[Path]:
    found: set[Path] = set()
    for page in PAGES:
        for target in _includes(page.read_text()):
            found.add((page.parent / target).resolve())
    return found


def _example_files() -> list[Path]:
    return sorted(
        p
        for p in EXAMPLES.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )


# --------------------------------------------------------------------------- housekeeping


def test_every_literalinclude_target_exists() -> None:
    for page in PAGES:
        for target in _includes(page.read_text()):
            assert (page.parent / target).is_file(), f"{page.relative_to(DOCS)}: {target}"


def test_every_example_file_is_shown_in_a_page() -> None:
    shown = _included_files()
    missing = [str(p.relative_to(EXAMPLES)) for p in _example_files() if p.resolve() not in shown]
    assert missing == []


def test_every_python_example_is_run() -> None:
    python = {str(p.relative_to(EXAMPLES)) for p in _example_files() if p.suffix == ".py"}
    assert python == {*SCRIPTS, *SERVED}


def test_pages_hold_no_untested_python() -> None:
    for page in PAGES:
        assert _fenced_blocks(page.read_text(), "python") == [], page.relative_to(DOCS)


def test_shell_blocks_only_install_or_run_nox() -> None:
    allowed = re.compile(r"^(python3? -m )?(pip|nox|uv|uvicorn) ")
    for page in PAGES:
        for block in _fenced_blocks(page.read_text(), "bash"):
            for line in block.splitlines():
                if line.strip() and not line.startswith("#"):
                    assert allowed.match(line), f"{page.relative_to(DOCS)}: {line}"


def _commands(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()) -> list[str]:
    found = [" ".join(words)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += _commands(child, (*words, name))
    return found


def test_cli_reference_shows_the_help_of_every_command() -> None:
    from pgmonkey_cli._app import build_parser

    shown = {
        " ".join(line.split()[1:])
        for line in (DOCS / "cli.md").read_text().splitlines()
        if line.startswith("```{pgmonkey-help}")
    }
    assert set(_commands(build_parser())) <= shown


def test_yaml_reference_names_every_section_and_typed_key() -> None:
    from pgmonkey.config import _schema

    page = (DOCS / "reference.md").read_text()
    keys = [*_schema.SECTIONS, *_schema.POOL_KEYS, *_schema._TYPED_CONNECTION_KEYS]
    assert [k for k in keys if f"`{k}`" not in page] == []


def test_each_changelog_url_is_a_page_that_includes_the_changelog() -> None:
    for pyproject in sorted((ROOT / "packages").glob("*/pyproject.toml")):
        match = re.search(
            r'^Changelog = "https://pgmonkey\.net/(changelog/[\w-]+)/"$',
            pyproject.read_text(),
            flags=re.MULTILINE,
        )
        assert match, pyproject
        page = DOCS / match.group(1) / "index.md"  # built as changelog/<dist>/index.html
        included = re.search(r"\{include\}\s+(\S+)", page.read_text())
        assert included, page
        assert (page.parent / included.group(1)).resolve() == pyproject.parent / "CHANGELOG.md"


# --------------------------------------------------------------------------- YAML


def _yaml_examples() -> list[Path]:
    return [p for p in _example_files() if p.suffix in (".yaml", ".yml")]


@pytest.mark.parametrize(
    "path", _yaml_examples(), ids=[str(p.relative_to(EXAMPLES)) for p in _yaml_examples()]
)
def test_yaml_example_is_a_valid_config(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = yaml.safe_load(path.read_text())
    if not (isinstance(data, dict) and "connection_settings" in data):
        pytest.skip("not a connection configuration")
    monkeypatch.setenv("APP_DB_PASSWORD", "from-the-environment")
    monkeypatch.setenv("PGPASSWORD", "from-the-environment")
    if path.stem.startswith("broken"):  # shown on purpose to demonstrate the errors
        with pytest.raises(ConfigError):
            load_config(path, resolve_env=True, strict=True)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cfg = load_config(path, resolve_env=True)
    assert cfg["connection_settings"]


def _inline_yaml_blocks() -> list[tuple[str, str]]:
    return [
        (f"{page.relative_to(DOCS)}[{i}]", block)
        for page in PAGES
        for i, block in enumerate(_fenced_blocks(page.read_text(), "yaml"))
    ]


@pytest.mark.parametrize(
    "block", [b for _, b in _inline_yaml_blocks()], ids=[n for n, _ in _inline_yaml_blocks()]
)
def test_inline_yaml_is_a_valid_config_fragment(block: str) -> None:
    data = yaml.safe_load(block)
    assert isinstance(data, dict)
    data.setdefault("connection_settings", {"host": "db.example.com"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_config(data)


# --------------------------------------------------------------------------- Python examples


def _run_python(
    code_or_path: list[str], cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-W", "error", *code_or_path],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=full_env,
    )


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_python_example_runs(name: str, pg_database: Config, tmp_path: Path) -> None:
    script = SCRIPTS[name]
    path = EXAMPLES / name
    cfg = _config_for(pg_database)
    _write_yaml(tmp_path / "config.yaml", cfg)
    if script.prepare is not None:
        script.prepare(cfg, tmp_path)
    if script.runner is not None:
        argv = ["-c", script.runner.format(path=path)]
    else:
        argv = [str(path), *script.argv]
    proc = _run_python(argv, tmp_path, script.env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for pattern in script.stdout:
        assert re.search(pattern, proc.stdout, re.MULTILINE), f"{pattern!r} not in:\n{proc.stdout}"


# --------------------------------------------------------------------------- served apps

SERVED = {"fastapi/app.py": "uvicorn"}
"""ASGI apps, run the way their page says (``uvicorn app:app``) and sent real requests."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_fastapi_example_serves_requests(pg_database: Config, tmp_path: Path) -> None:
    _write_yaml(tmp_path / "config.yaml", _config_for(pg_database))
    shutil.copy(EXAMPLES / "fastapi" / "app.py", tmp_path / "app.py")
    with psycopg.connect(**load_config(pg_database)["connection_settings"]) as conn:
        conn.execute("CREATE TABLE notes (id serial PRIMARY KEY, text text)")
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-W", "error", "-m", "uvicorn", "app:app", "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(base + "/notes", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                time.sleep(0.1)
        created = httpx.post(base + "/notes", json={"text": "hello"}, timeout=10)
        assert created.status_code == 201, created.text
        assert created.json() == {"id": 1}
        assert httpx.get(base + "/notes", timeout=10).json() == [{"id": 1, "text": "hello"}]
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    # uvicorn re-raises SIGTERM after a clean shutdown (exit status -15).
    assert server.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete." in output
    assert "Traceback" not in output, output
    assert "Warning" not in output, output


# --------------------------------------------------------------------------- console sessions


@dataclass
class Command:
    line: str
    expected: list[str]


def _console_sessions(page: Path) -> list[Command]:
    commands: list[Command] = []
    for block in _fenced_blocks(page.read_text(), "console"):
        for raw in block.splitlines():
            if raw.startswith("$ "):
                commands.append(Command(raw[2:].strip(), []))
            elif commands:
                commands[-1].expected.append(raw)
    return commands


def _matches(expected: list[str], actual: str) -> bool:
    """Doctest-style comparison: ``...`` matches anything (also across lines)."""
    want = "\n".join(expected).strip()
    got = actual.strip()
    pattern = ".*?".join(re.escape(part) for part in want.split("..."))
    return re.fullmatch(pattern, got, flags=re.DOTALL) is not None


CONSOLE_PAGES = [p for p in PAGES if _console_sessions(p)]


@pytest.mark.parametrize(
    "page", CONSOLE_PAGES, ids=[str(p.relative_to(DOCS)) for p in CONSOLE_PAGES]
)
def test_console_examples_run(page: Path, pg_database: Config, tmp_path: Path) -> None:
    _write_yaml(tmp_path / "config.yaml", _config_for(pg_database))
    seed = EXAMPLES / page.stem
    if seed.is_dir():
        for item in seed.iterdir():
            if item.is_file():
                shutil.copy(item, tmp_path / item.name)
    env = {**os.environ, "COLUMNS": "88", "NO_COLOR": "1"}
    last_rc = 0
    for command in _console_sessions(page):
        words = shlex.split(command.line)
        if words[:1] == ["export"]:
            name, _, value = words[1].partition("=")
            env[name] = value
            continue
        if command.line == "echo $?":
            output = str(last_rc)
        elif words[:1] == ["cat"]:
            output = (tmp_path / words[1]).read_text()
        elif words[:1] in (["pgmonkey"], ["django-admin"]):
            module = "pgmonkey_cli" if words[0] == "pgmonkey" else "django"
            proc = subprocess.run(
                [sys.executable, "-m", module, *words[1:]],
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=TIMEOUT,
                env=env,
            )
            output, last_rc = proc.stdout, proc.returncode
        else:
            pytest.fail(f"{page.name}: unsupported console command: {command.line}")
        assert _matches(command.expected, output), (
            f"{page.name}: $ {command.line}\n--- expected\n"
            + "\n".join(command.expected)
            + f"\n--- got (exit {last_rc})\n{output}"
        )
