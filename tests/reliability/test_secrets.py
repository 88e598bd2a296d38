"""Secrets never appear in CLI output, log records, exceptions, reprs or cache_info.

Two secrets: the password written in the configuration (``PASSWORD``) and the content of a
``from_file`` secret file (``FILE_SECRET``). Every command and flag combination that reads a
configuration runs in-process at DEBUG level (``--debug`` plus a root handler collecting
every record of pgmonkey and psycopg), on its success and failure paths; the sandbox and a
few others run as real subprocesses.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

import pytest
import yaml

from pgmonkey import PGConnectionManager
from pgmonkey.errors import PgMonkeyError
from pgmonkey.testing import PostgresServer

from ._cli import CliRun, run_cli

pytestmark = pytest.mark.reliability

PASSWORD = "Sekr3t-Pa55-xyzzy"
FILE_SECRET = "F1le-Secret-plugh"


@pytest.fixture(scope="module")
def secret_server(fault_server: PostgresServer) -> PostgresServer:
    fault_server.execute(f"ALTER ROLE postgres PASSWORD '{PASSWORD}'")
    fault_server.password = PASSWORD
    return fault_server


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pgmonkey_cli", "--debug", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "100"},
    )


def test_cli_never_prints_the_password(secret_server: PostgresServer, tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(secret_server.config()), encoding="utf-8")
    secret_file = tmp_path / "pw"
    secret_file.write_text(FILE_SECRET + "\n", encoding="utf-8")
    bad = secret_server.config(port=1)
    bad["connection_settings"]["password"] = {"from_file": str(secret_file)}
    bad_path = tmp_path / "bad.yaml"
    bad_path.write_text(yaml.safe_dump(bad), encoding="utf-8")
    runs = [
        ("pgconfig", "test", "--connconfig", str(good)),
        ("pgconfig", "test", "--connconfig", str(bad_path)),
        ("pgconfig", "show", "--connconfig", str(good)),
        ("pgconfig", "show", "--connconfig", str(bad_path)),
        ("pgconfig", "validate", "--connconfig", str(good)),
        ("pgconfig", "generate-code", "--connconfig", str(good)),
        ("pgexport", "--connconfig", str(bad_path), "--table", "nope"),
    ]
    for args in runs:
        result = _cli(*args, cwd=tmp_path)
        for secret in (PASSWORD, FILE_SECRET):
            assert secret not in result.stdout, args
            assert secret not in result.stderr, args


def test_library_error_paths_never_leak(
    secret_server: PostgresServer,
    manager: PGConnectionManager,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG, logger="pgmonkey")
    secret_file = tmp_path / "pw"
    secret_file.write_text(FILE_SECRET + "\n", encoding="utf-8")
    texts: list[str] = []
    good = secret_server.config()
    pool = manager.get_database_connection_from_dict(good, "pool")
    with pool as conn:
        conn.execute("SELECT 1")
    texts += [repr(pool), str(manager.cache_info)]
    wrong_port = secret_server.config(port=1)
    wrong_pw = secret_server.config(password=FILE_SECRET)
    from_file = secret_server.config(port=1)
    from_file["connection_settings"]["password"] = {"from_file": str(secret_file)}
    for cfg, kw in ((wrong_port, {}), (wrong_pw, {}), (from_file, {"resolve_env": True})):
        for ctype in ("normal", "pool"):
            with pytest.raises(PgMonkeyError) as info:
                manager.get_database_connection_from_dict(cfg, ctype, **kw)
            texts += [str(info.value), repr(info.value), str(info.value.__cause__ or "")]
    texts += [r.getMessage() for r in caplog.records]
    texts += [str(manager.cache_info)]
    for text in texts:
        assert PASSWORD not in text
        assert FILE_SECRET not in text


# -- every CLI command in-process


def _no_secret(run: CliRun) -> None:
    for secret in (PASSWORD, FILE_SECRET):
        assert secret not in run.text, (run.argv, "leaks", secret)


class _Configs:
    """The configuration files of the sweep, in ``tmp_path``."""

    def __init__(self, server: PostgresServer, tmp_path: Path) -> None:
        self.dir = tmp_path
        self.secret_file = tmp_path / "secret.txt"
        self.secret_file.write_text(FILE_SECRET + "\n", encoding="utf-8")
        from_file = {"from_file": str(self.secret_file)}
        self.good = self._write("good", server.config())
        self.from_file = self._write("from_file", server.config(user="filer"), from_file)
        self.plain = self._write("plain", server.config(user="plain"), PASSWORD)
        self.wrong_password = self._write("wrong_pw", server.config(password=FILE_SECRET))
        self.bad_host = self._write(
            "bad_host", server.config(host="no-such-host.invalid"), from_file
        )
        self.bad_port = self._write("bad_port", server.config(port=1), from_file)
        self.from_env = self._write("from_env", server.config(), "${PGMONKEY_TEST_SECRET}")
        self.env_default = self._write(
            "env_default", server.config(), "${PGMONKEY_TEST_UNSET:-" + PASSWORD + "}"
        )
        broken = server.config()
        broken["connection_settings"].update(port="not-a-port", passwrd=PASSWORD)
        broken["pool_settings"] = {"min_size": 5, "max_size": 2}
        self.broken = self._write("broken", broken)

    def _write(self, name: str, cfg: dict[str, Any], password: Any = None) -> str:
        if password is not None:
            cfg["connection_settings"]["password"] = password
        path = self.dir / f"{name}.yaml"
        path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
        return str(path)


@pytest.fixture
def configs(
    secret_server: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> _Configs:
    secret_server.execute(
        "DO $$ BEGIN "
        "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'filer') THEN "
        "CREATE ROLE filer LOGIN; CREATE ROLE plain LOGIN; END IF; END $$"
    )
    secret_server.execute(f"ALTER ROLE filer PASSWORD '{FILE_SECRET}'")
    secret_server.execute(f"ALTER ROLE plain PASSWORD '{PASSWORD}'")
    secret_server.execute(
        "CREATE TABLE IF NOT EXISTS people (name text, secret text);"
        "TRUNCATE people; INSERT INTO people VALUES ('ann', 'not-a-password')"
    )
    monkeypatch.setenv("PGMONKEY_TEST_SECRET", PASSWORD)
    monkeypatch.delenv("PGMONKEY_TEST_UNSET", raising=False)
    return _Configs(secret_server, tmp_path)


def _sweep(runs: list[tuple[tuple[str, ...], int]]) -> list[CliRun]:
    done = []
    for argv, expected in runs:
        run = run_cli(*argv, "--debug")
        _no_secret(run)
        assert run.status == expected, (argv, run.status, run.stdout, run.stderr)
        done.append(run)
    return done


def test_pgconfig_commands_never_leak(configs: _Configs) -> None:
    c = configs
    env = ("--resolve-env",)
    runs: list[tuple[tuple[str, ...], int]] = [
        (("pgconfig", "create", "--connconfig", str(c.dir / "new.yaml")), 0),
        (("pgconfig", "create", "--connconfig", c.good), 1),  # exists
        (("pgconfig", "test", "--connconfig", c.good, "--all"), 0),
        (("pgconfig", "test", "--connconfig", c.good, "--all", "--json"), 0),
        (("pgconfig", "test", "--connconfig", c.from_file, *env, "--all"), 0),
        (("pgconfig", "test", "--connconfig", c.from_env, *env, "--json"), 0),
        (("pgconfig", "test", "--connconfig", c.from_file), 2),  # reference not resolved
        (("pgconfig", "test", "--connconfig", c.env_default, *env), 2),
        (("pgconfig", "test", "--connconfig", c.env_default, *env,
          "--allow-sensitive-defaults"), 0),
        (("pgconfig", "test", "--connconfig", c.wrong_password, "--all"), 1),
        (("pgconfig", "test", "--connconfig", c.wrong_password, "--all", "--json"), 1),
        (("pgconfig", "test", "--connconfig", c.bad_host, *env), 1),
        (("pgconfig", "test", "--connconfig", c.bad_port, *env, "--all", "--json"), 1),
        (("pgconfig", "test", "--connconfig", c.broken), 2),
        (("pgconfig", "validate", "--connconfig", c.good), 0),
        (("pgconfig", "validate", "--connconfig", c.good, "--json"), 0),
        (("pgconfig", "validate", "--connconfig", c.from_file, *env), 0),
        (("pgconfig", "validate", "--connconfig", c.from_env, *env, "--json"), 0),
        (("pgconfig", "validate", "--connconfig", c.env_default, *env), 2),
        (("pgconfig", "validate", "--connconfig", c.broken), 2),
        (("pgconfig", "validate", "--connconfig", c.broken, "--json"), 2),
    ]  # fmt: skip
    for source in (c.good, c.from_file, c.from_env, c.env_default, c.bad_host):
        for flags in (
            (),
            ("--json",),
            env,
            (*env, "--json"),
            (*env, "--allow-sensitive-defaults"),
        ):
            refused = "--resolve-env" in flags and "--allow-sensitive-defaults" not in flags
            unresolved = source in (c.from_file, c.bad_host) and "--resolve-env" not in flags
            expected = 2 if (source == c.env_default and refused) or unresolved else 0
            runs.append((("pgconfig", "show", "--connconfig", source, *flags), expected))
    runs.append((("pgconfig", "show", "--connconfig", c.broken), 2))
    for library in ("pgmonkey", "psycopg"):
        for ctype in ("normal", "pool", "async", "async_pool"):
            for source, flags in ((c.good, ()), (c.from_file, env)):
                runs.append(
                    (
                        ("pgconfig", "generate-code", "--connconfig", source, "--library",
                         library, "--connection-type", ctype, *flags),
                        0,
                    )
                )  # fmt: skip
    done = _sweep(runs)
    shown = [r for r in done if r.argv[1] == "show" and r.status == 0]
    assert all("REDACTED" in r.stdout for r in shown)
    debug = [r for run in done for r in run.records if r.levelno == logging.DEBUG]
    assert {r.name.split(".")[0] for r in debug} >= {"pgmonkey", "psycopg"}


def test_pgserverconfig_never_leaks(configs: _Configs) -> None:
    c = configs
    env = ("--resolve-env",)
    _sweep(
        [
            (("pgserverconfig", "--connconfig", c.good), 0),
            (("pgserverconfig", "--connconfig", c.good, "--json", "--processes", "4",
              "--client-cidr", "10.0.0.0/24"), 0),
            (("pgserverconfig", "--connconfig", c.from_file, *env), 0),
            (("pgserverconfig", "--connconfig", c.good, "--audit"), 0),
            (("pgserverconfig", "--connconfig", c.good, "--audit", "--json"), 0),
            (("pgserverconfig", "--connconfig", c.plain, "--audit"), 0),  # unprivileged
            (("pgserverconfig", "--connconfig", c.from_file, *env, "--audit", "--json"), 0),
            (("pgserverconfig", "--connconfig", c.wrong_password, "--audit"), 1),
            (("pgserverconfig", "--connconfig", c.bad_host, *env, "--audit"), 1),
            (("pgserverconfig", "--connconfig", c.broken), 2),
        ]
    )  # fmt: skip


def test_pgimport_and_pgexport_never_leak(configs: _Configs) -> None:
    c = configs
    env = ("--resolve-env",)
    data = c.dir / "data.csv"
    data.write_text("name,secret\nbob,x\n", encoding="utf-8")
    out = c.dir / "out.csv"
    missing_dir = c.dir / "missing" / "out.csv"
    imp = ("pgimport", "--import-file", str(data), "--header")  # all text: no evidence
    exp = ("pgexport", "--export-file", str(out), "--overwrite", "-q")
    done = _sweep(
        [
            ((*imp, "--table", "imported", "--connconfig", c.good, "-q"), 0),
            ((*imp, "--table", "imported", "--connconfig", c.from_file, *env, "-q"), 1),  # no
            ((*imp, "--table", "public.imported", "--connconfig", c.good, "--if-exists",
              "fail"), 1),
            ((*imp, "--table", "no_schema.t", "--connconfig", c.good), 1),
            ((*imp, "--table", "t2", "--connconfig", c.wrong_password), 1),
            ((*imp, "--table", "t2", "--connconfig", c.bad_host, *env), 1),
            ((*imp, "--table", "t2", "--connconfig", c.bad_port, *env), 1),
            (("pgimport", "--import-file", str(c.dir / "nope.csv"), "--table", "t2",
              "--connconfig", c.good), 2),
            ((*imp, "--table", "t2", "--connconfig", c.broken), 2),
            ((*exp, "--table", "people", "--connconfig", c.good), 0),
            ((*exp, "--query", "SELECT * FROM people", "--connconfig", c.from_file, *env), 1),
            ((*exp, "--query", "SELECT 1 AS one", "--connconfig", c.from_file, *env), 0),
            ((*exp, "--table", "people", "--connconfig", c.wrong_password), 1),
            ((*exp, "--table", "people", "--connconfig", c.bad_host, *env), 1),
            ((*exp, "--table", "people", "--connconfig", c.bad_port, *env), 1),
            ((*exp, "--table", "no_such_table", "--connconfig", c.good), 1),
            (("pgexport", "--table", "people", "--export-file", str(missing_dir),
              "--connconfig", c.good), 2),
            ((*exp, "--table", "people", "--connconfig", c.broken), 2),
        ]
    )  # fmt: skip
    assert "ann" in out.read_text() or "one" in out.read_text()
    assert done[0].status == 0


# -- reprs, cache_info and the async error paths of the library


async def test_reprs_cache_info_and_async_errors_never_leak(
    configs: _Configs, manager: PGConnectionManager, caplog: pytest.LogCaptureFixture
) -> None:
    from pgmonkey.config import load_config_cached

    for name in ("pgmonkey", "psycopg", "psycopg.pool"):
        caplog.set_level(logging.DEBUG, logger=name)
    texts: list[str] = []
    for source, env in ((configs.good, False), (configs.from_file, True)):
        loaded = load_config_cached(source, resolve_env=env)
        texts += [repr(loaded), str(loaded)]
        for ctype in ("normal", "pool"):
            obj = manager.get_database_connection(source, ctype, resolve_env=env)
            with obj as conn:
                conn.execute("SELECT 1")
                texts += [repr(conn), str(conn.info.dsn)]
            texts += [repr(obj), str(obj)]
        for ctype in ("async", "async_pool"):
            aobj = await manager.get_database_connection(source, ctype, resolve_env=env)
            async with aobj as aconn:
                await aconn.execute("SELECT 1")
                texts += [repr(aconn), str(aconn.info.dsn)]
            texts += [repr(aobj)]
    texts += [repr(manager), str(manager.cache_info)]
    for source in (configs.wrong_password, configs.bad_port):
        for ctype in ("async", "async_pool"):
            with pytest.raises(PgMonkeyError) as info:
                await manager.get_database_connection(source, ctype, resolve_env=True)
            texts.append("".join(traceback.format_exception(info.value)))
    await manager.clear_cache_async()
    texts += [f"{r.getMessage()} {r.args!r}" for r in caplog.records]
    assert any(r.name.startswith("psycopg") for r in caplog.records)
    for text in texts:
        assert PASSWORD not in text
        assert FILE_SECRET not in text


# -- real subprocesses: the sandbox and a generated program


def test_sandbox_commands_never_leak(tmp_path: Path) -> None:
    from pgmonkey import testing

    data_dir = Path(tempfile.mkdtemp(prefix="pgmonkey-secrets-"))
    data_dir.chmod(0o755)  # the server account (as root) must reach it
    config = tmp_path / "dev.yaml"
    settings = {
        "host": "127.0.0.1", "port": testing._free_port(), "user": "app",
        "password": PASSWORD, "dbname": "appdb", "connect_timeout": 10,
    }  # fmt: skip
    config.write_text(yaml.safe_dump({"connection_settings": settings}), encoding="utf-8")
    common = ("--connconfig", str(config), "--data-dir", str(data_dir), "--debug")
    try:
        steps = [
            (("sandbox", "start", *common), 0),
            (("sandbox", "status", *common), 0),
            (("sandbox", "status", *common, "--json"), 0),
            (("sandbox", "status", "--data-dir", str(data_dir), "--json"), 0),
            (("sandbox", "psql", *common, "--", "-XAtc", "SELECT current_user"), 0),
            (("sandbox", "psql", *common, "--", "-XAtc", "SELECT no_such_column"), 1),
            (("sandbox", "stop", *common), 0),
            (("sandbox", "psql", *common), 1),  # not running
            (("sandbox", "destroy", "--yes", *common), 0),
        ]
        for args, expected in steps:
            result = _cli_plain(*args, cwd=tmp_path)
            assert result.returncode == expected, (args, result.stderr)
            for secret in (PASSWORD, FILE_SECRET):
                assert secret not in result.stdout + result.stderr, args
    finally:
        _cli_plain("sandbox", "destroy", "--yes", *common, cwd=tmp_path)
        shutil.rmtree(data_dir, ignore_errors=True)


def _cli_plain(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pgmonkey_cli", *args],
        cwd=cwd, capture_output=True, text=True, timeout=180, check=False,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.mark.parametrize("library", ["pgmonkey", "psycopg"])
def test_generated_program_never_prints_the_secret(
    configs: _Configs, tmp_path: Path, library: str
) -> None:
    for source, expected in ((configs.from_file, 0), (configs.bad_port, 1)):
        code = run_cli(
            "pgconfig", "generate-code", "--connconfig", source, "--library", library,
            "--resolve-env",
        )  # fmt: skip
        assert code.status == 0, code.stderr
        program = tmp_path / f"app_{library}.py"
        program.write_text(code.stdout, encoding="utf-8")
        result = subprocess.run(
            [sys.executable, str(program)], capture_output=True, text=True, timeout=120,
            check=False,
        )  # fmt: skip
        assert (result.returncode == 0) == (expected == 0), result.stderr
        for secret in (PASSWORD, FILE_SECRET):
            assert secret not in result.stdout + result.stderr
