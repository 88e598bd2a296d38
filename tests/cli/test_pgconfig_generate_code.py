"""pgconfig generate-code: all 8 programs run against a real server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pgmonkey import PGConnectionManager
from pgmonkey.config import template_text

TYPES = ("normal", "pool", "async", "async_pool")
LIBRARIES = ("pgmonkey", "psycopg")


def _needs_manager(library: str) -> None:
    if library == "pgmonkey" and not hasattr(PGConnectionManager, "get_database_connection"):
        pytest.skip("PGConnectionManager.get_database_connection is not built yet")


def _template_for(server: Any, path: Path) -> Path:
    """The unchanged template from `pgconfig create`, filled with the server's credentials."""
    c = server.config()["connection_settings"]
    text = template_text()
    for key, old, new in (
        ("user", "postgres", c["user"]),
        ("password", "password", c["password"]),
        ("host", "localhost", c["host"]),
        ("port", "5432", str(c["port"])),
        ("dbname", "mydatabase", "postgres"),
    ):
        assert f"  {key}: '{old}'" in text
        text = text.replace(f"  {key}: '{old}'", f"  {key}: '{new}'", 1)
    path.write_text(text, encoding="utf-8")
    return path


def _generate(run_pgmonkey: Any, path: Path, *args: str, cwd: Path | None = None) -> str:
    result = run_pgmonkey("pgconfig", "generate-code", "--connconfig", str(path), *args, cwd=cwd)
    assert result.returncode == 0, result.stderr
    compile(result.stdout, "generated", "exec")  # stdout is exactly the program
    return str(result.stdout)


def _run_program(
    code: str, tmp_path: Path, name: str, **env: str
) -> subprocess.CompletedProcess[str]:
    program = tmp_path / f"generated_{name}.py"
    program.write_text(code, encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, str(program)],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **env},
    )


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("connection_type", TYPES)
def test_each_program_runs_with_the_template(
    run_pgmonkey: Any, pg_server: Any, tmp_path: Path, library: str, connection_type: str
) -> None:
    _needs_manager(library)
    config = _template_for(pg_server, tmp_path / "app.yaml")
    code = _generate(
        run_pgmonkey,
        config,
        "--library",
        library,
        "--connection-type",
        connection_type,
    )
    assert repr(str(config)) in code  # absolute path: runs from any directory
    assert pg_server.password not in code
    result = _run_program(code, tmp_path, f"{library}_{connection_type}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "(1,)"
    assert "autocommit: False" in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("connection_type", TYPES)
def test_programs_honour_settings_autocommit_and_check(
    run_pgmonkey: Any,
    pg_server: Any,
    write_config: Any,
    tmp_path: Path,
    library: str,
    connection_type: str,
) -> None:
    _needs_manager(library)
    cfg = pg_server.config(autocommit=True, sslcert="")
    cfg["sync_settings"] = {"statement_timeout": "1234"}
    cfg["async_settings"] = {"lock_timeout": "2345"}
    cfg["pool_settings"] = {"min_size": 1, "max_size": 2, "timeout": 10, "check_on_checkout": True}
    cfg["async_pool_settings"] = dict(cfg["pool_settings"])
    path = write_config(cfg)
    code = _generate(
        run_pgmonkey, path, "--library", library, "--connection-type", connection_type
    )
    if library == "psycopg" and "pool" in connection_type:
        assert "open=False" in code
        assert "check_connection" in code
    result = _run_program(code, tmp_path, f"s_{library}_{connection_type}")
    assert result.returncode == 0, result.stderr
    assert "autocommit: True" in result.stdout
    if connection_type.startswith("async"):
        assert "lock_timeout = 2345" in result.stdout
        assert "statement_timeout" not in result.stdout
    else:
        assert "statement_timeout = 1234" in result.stdout
        assert "lock_timeout" not in result.stdout


@pytest.mark.parametrize("library", LIBRARIES)
def test_env_interpolation_when_asked(
    run_pgmonkey: Any, pg_server: Any, write_config: Any, tmp_path: Path, library: str
) -> None:
    _needs_manager(library)
    cfg = pg_server.config(connection_type="pool")
    cfg["connection_settings"]["password"] = {"from_env": "PGM_GEN_PW"}
    cfg["connection_settings"]["port"] = "${PGM_GEN_PORT}"
    path = write_config(cfg)
    env = {"PGM_GEN_PW": pg_server.password, "PGM_GEN_PORT": str(pg_server.port)}
    result = run_pgmonkey(
        "pgconfig",
        "generate-code",
        "--connconfig",
        str(path),
        "--library",
        library,
        "--resolve-env",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert pg_server.password not in result.stdout
    run = _run_program(result.stdout, tmp_path, f"env_{library}", **env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0] == "(1,)"


def test_relative_config_path_is_made_absolute(
    run_pgmonkey: Any, pg_server: Any, tmp_path: Path
) -> None:
    _template_for(pg_server, tmp_path / "rel.yaml")
    code = _generate(run_pgmonkey, Path("rel.yaml"), "--library", "psycopg", cwd=tmp_path)
    assert repr(str(tmp_path / "rel.yaml")) in code
    assert _run_program(code, tmp_path, "rel").returncode == 0


def test_type_comes_from_the_config_and_titles_match(
    run_pgmonkey: Any, pg_server: Any, write_config: Any
) -> None:
    path = write_config(pg_server.config(connection_type="async_pool"))
    code = _generate(run_pgmonkey, path, "--library", "psycopg")
    assert code.startswith('"""Generated asynchronous pooled connection code using psycopg_pool.')
    code = _generate(run_pgmonkey, path)
    assert "'async_pool'" in code
    assert "Generated asynchronous pooled connection code using pgmonkey." in code


def test_invalid_config_is_refused(run_pgmonkey: Any, write_config: Any) -> None:
    path = write_config("connection_settings:\n  port: [1, 2]\n")
    result = run_pgmonkey("pgconfig", "generate-code", "--connconfig", str(path))
    assert result.returncode == 2
    assert result.stdout == ""


def test_credential_provider_needs_the_pgmonkey_program(
    run_pgmonkey: Any, pg_server: Any, tmp_path: Path, write_config: Any
) -> None:
    """A psycopg program cannot call pgmonkey's provider: refused, not silently dropped."""
    password = pg_server.config()["connection_settings"]["password"]
    (tmp_path / "provide_pw.py").write_text(
        f"def password(settings):\n    return {password!r}\n", encoding="utf-8"
    )
    cfg = pg_server.config(password=None)
    cfg["connection_settings"]["credential_provider"] = "provide_pw:password"
    path = write_config(cfg)
    env = {"PYTHONPATH": str(tmp_path)}
    result = run_pgmonkey(
        "pgconfig", "generate-code", "--connconfig", str(path), "--library", "psycopg", env=env
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert "connection_settings.credential_provider" in result.stderr
    assert "--library pgmonkey" in result.stderr
    assert password not in result.stderr

    result = run_pgmonkey("pgconfig", "generate-code", "--connconfig", str(path), env=env)
    assert result.returncode == 0, result.stderr
    run = _run_program(result.stdout, tmp_path, "provider", **env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0] == "(1,)"


# YAML 1.1 would read these unquoted values as 83, True, 90 and False; pgmonkey (and so every
# generated program) reads them as the text written.
YAML11_CONFIG = """\
connection_type: {connection_type}
connection_settings:
  user: yaml11_role
  password: 0123
  host: {host}
  port: '{port}'
  dbname: yes
  application_name: 1:30
  autocommit: on
sync_settings:
  search_path: 0123
  jit: off
async_settings:
  search_path: 0123
  jit: off
pool_settings:
  min_size: 1
  max_size: '2'
  timeout: 10
async_pool_settings:
  min_size: 1
  max_size: '2'
  timeout: 10
"""


@pytest.fixture
def yaml11_server(pg_server: Any) -> Any:
    pg_server.execute("DROP DATABASE IF EXISTS yes")
    pg_server.execute("DROP ROLE IF EXISTS yaml11_role")
    pg_server.execute("CREATE ROLE yaml11_role LOGIN PASSWORD '0123'")
    pg_server.execute("CREATE DATABASE yes OWNER yaml11_role")
    yield pg_server
    pg_server.execute("DROP DATABASE IF EXISTS yes WITH (FORCE)")
    pg_server.execute("DROP ROLE IF EXISTS yaml11_role")


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("connection_type", TYPES)
def test_programs_read_yaml_as_pgmonkey_does(
    run_pgmonkey: Any,
    yaml11_server: Any,
    write_config: Any,
    tmp_path: Path,
    library: str,
    connection_type: str,
) -> None:
    _needs_manager(library)
    from pgmonkey.config import load_config

    c = yaml11_server.config()["connection_settings"]
    text = YAML11_CONFIG.format(connection_type=connection_type, host=c["host"], port=c["port"])
    path = write_config(text)
    cfg = load_config(path)
    assert cfg["connection_settings"]["password"] == "0123"
    assert cfg["connection_settings"]["dbname"] == "yes"
    code = _generate(
        run_pgmonkey, path, "--library", library, "--connection-type", connection_type
    )
    assert "yaml11_role" not in code  # the settings are read at run time
    result = _run_program(code, tmp_path, f"y11_{library}_{connection_type}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "(1,)"
    assert "autocommit: True" in result.stdout
    assert "application_name = 1:30" in result.stdout
    assert "search_path = 0123" in result.stdout
    assert "jit = off" in result.stdout


def test_psycopg_program_reads_secrets_as_pgmonkey_does(
    run_pgmonkey: Any, pg_server: Any, write_config: Any, tmp_path: Path
) -> None:
    """``~`` is expanded, and a secret that became a FIFO is refused instead of waited on."""
    home = tmp_path / "home"
    home.mkdir()
    secret = home / "pw"
    secret.write_text(pg_server.password + "\n", encoding="utf-8")
    cfg = pg_server.config()
    cfg["connection_settings"]["password"] = {"from_file": "~/pw"}
    path = write_config(cfg)
    env = {"HOME": str(home)}
    result = run_pgmonkey(
        "pgconfig",
        "generate-code",
        "--connconfig",
        str(path),
        "--library",
        "psycopg",
        "--resolve-env",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    run = _run_program(result.stdout, tmp_path, "secret_home", **env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0] == "(1,)"
    secret.unlink()
    os.mkfifo(secret)
    run = _run_program(result.stdout, tmp_path, "secret_fifo", **env)
    assert run.returncode == 1
    assert "secret file '~/pw' is not a regular file" in run.stderr
