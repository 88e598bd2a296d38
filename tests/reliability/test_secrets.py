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
import time
import traceback
from pathlib import Path
from typing import Any

import pytest
import yaml

from pgmonkey import PGConnectionManager
from pgmonkey.errors import PgMonkeyError
from pgmonkey.testing import PostgresServer
from pgmonkey.testing._net import free_port

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
        (("pgconfig", "create", "--connconfig", c.good), 0),  # exists: left alone
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
            # Without --resolve-env a from_file mapping is shown as written (as pgmonkey 3.4
            # kept it); commands that connect refuse it (exit 2, see above).
            expected = 2 if source == c.env_default and refused else 0
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
    # A password is redacted; an unresolved from_file reference (a path) is shown as written.
    assert all("REDACTED" in r.stdout or "from_file" in r.stdout for r in shown)
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

    data_dir = Path(tempfile.mkdtemp(prefix="pgmonkey-secrets-"))
    data_dir.chmod(0o755)  # the server account (as root) must reach it
    config = tmp_path / "dev.yaml"
    settings = {
        "host": "127.0.0.1", "port": free_port(), "user": "app",
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


# -- a secret written where no secret belongs: a canary in the password, in a connection URL
# -- or a conninfo fragment inside host/dbname/user, in a session setting; every output path

CANARY = "Canary-7c1d-plover"
_TYPES = ("normal", "pool", "async", "async_pool")


def _canary_variants(server: PostgresServer) -> dict[str, dict[str, Any]]:
    """``{name: config}``: each hides :data:`CANARY` somewhere; all but the last fail."""
    url = f"postgresql://postgres:{CANARY}@127.0.0.1:{server.port}/postgres"
    changes: dict[str, dict[str, Any]] = {
        "password": {"password": CANARY},
        "url_in_dbname": {"dbname": url},
        "url_in_host": {"host": url},
        "fragment_as_host": {"host": f"password={CANARY}"},
        "fragment_as_dbname": {"dbname": f"password={CANARY}"},
        "fragment_in_dbname": {"dbname": f"x password={CANARY}"},
        "pwd_in_dbname": {"dbname": f"postgres PWD={CANARY}"},
        "fragment_in_user": {"user": f"postgres password={CANARY}"},
    }
    variants = {}
    for name, change in changes.items():
        cfg = server.config()
        cfg["connection_settings"].update(change, connect_timeout=5)
        variants[name] = cfg
    working = server.config()
    working["sync_settings"] = {"app.secret_token": CANARY}
    working["async_settings"] = {"app.secret_token": CANARY}
    variants["session_setting"] = working
    return variants


def _no_canary(texts: list[str], where: str) -> None:
    for text in texts:
        assert CANARY not in text, (where, text)


async def test_misplaced_secrets_never_leak_from_the_library(
    secret_server: PostgresServer,
    manager: PGConnectionManager,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import warnings

    from pgmonkey.connections import (
        AsyncConnection,
        AsyncConnectionPool,
        Connection,
        ConnectionPool,
        connect,
        connect_async,
        open_async_pool,
        open_pool,
    )

    caplog.set_level(logging.DEBUG, logger="pgmonkey")
    for name, cfg in _canary_variants(secret_server).items():
        works = name == "session_setting"
        texts: list[str] = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            objects = [cls(cfg) for cls in (Connection, ConnectionPool)]
            aobjects = [cls(cfg) for cls in (AsyncConnection, AsyncConnectionPool)]
            texts += [repr(o) for o in (*objects, *aobjects)]
            texts += [str(o) for o in (*objects, *aobjects)]
            assert all("(not opened yet)" in t for t in texts[:4])
            errors: list[BaseException] = []
            for block in (connect, open_pool):
                try:
                    block(cfg).close()
                except PgMonkeyError as exc:
                    errors.append(exc)
            for ablock in (connect_async, open_async_pool):
                try:
                    await (await ablock(cfg)).close()
                except PgMonkeyError as exc:
                    errors.append(exc)
            for ctype in _TYPES:
                try:
                    obj = manager.get_database_connection_from_dict(cfg, ctype)
                    if ctype.startswith("async"):
                        obj = await obj
                        async with obj as aconn:
                            await aconn.execute("SELECT 1")
                    else:
                        with obj as conn:
                            conn.execute("SELECT 1")
                    texts.append(repr(obj))
                except PgMonkeyError as exc:
                    errors.append(exc)
            texts.append(str(manager.cache_info))
            await manager.clear_cache_async()
        assert len(errors) == (0 if works else 8), (name, errors)
        texts += ["".join(traceback.format_exception(e)) for e in errors]
        texts += [repr(e) for e in errors]
        texts += [str(w.message) for w in caught]
        texts += [f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records]
        _no_canary(texts, name)
        if name == "fragment_in_dbname":  # the message still says what is wrong, and where
            assert any('database "x password=***REDACTED***" does not exist' in t for t in texts)


def _printed(run: CliRun) -> str:
    """What a run printed, and every record of pgmonkey's loggers.

    psycopg's own DEBUG records quote libpq before pgmonkey sees the error; the CLI prints
    them (``run_cli`` lets them through) masked, which ``run.stderr`` shows.
    """
    ours = [r for r in run.records if r.name.split(".")[0].startswith("pgmonkey")]
    logged = [f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in ours]
    return "\n".join([run.stdout, run.stderr, *logged])


def test_misplaced_secrets_never_leak_from_the_cli(
    secret_server: PostgresServer, tmp_path: Path
) -> None:
    data = tmp_path / "data.csv"
    data.write_text("name\nbob\n", encoding="utf-8")
    secret_server.execute("CREATE TABLE IF NOT EXISTS canary_out (name text)")
    for name, cfg in _canary_variants(secret_server).items():
        failed = 0 if name == "session_setting" else 1
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
        conf = ("--connconfig", str(path))
        runs: list[tuple[tuple[str, ...], int]] = [
            # a custom setting (app.secret_token) is legal PostgreSQL and verified: it passes
            (("pgconfig", "test", *conf, "--all"), failed),
            (("pgconfig", "test", *conf, "--all", "--json"), failed),
            (("pgconfig", "show", *conf), 0),
            (("pgconfig", "show", *conf, "--json"), 0),
            (("pgconfig", "validate", *conf), 0),
            (("pgconfig", "validate", *conf, "--json"), 0),
            (("pgimport", "--import-file", str(data), "--table", "canary_in", "--header",
              *conf, "-q"), failed),
            (("pgexport", "--table", "canary_out", "--export-file", str(tmp_path / "o.csv"),
              "--overwrite", "-q", *conf), failed),
            (("pgserverconfig", *conf), 0),
            (("pgserverconfig", *conf, "--json"), 0),
            (("pgserverconfig", *conf, "--audit"), failed),
            (("pgserverconfig", *conf, "--audit", "--json"), failed),
        ]  # fmt: skip
        for library in ("pgmonkey", "psycopg"):
            for ctype in _TYPES:
                runs.append(
                    (("pgconfig", "generate-code", *conf, "--library", library,
                      "--connection-type", ctype), 0)
                )  # fmt: skip
        if name not in ("password", "session_setting"):  # refused before anything starts
            sandbox = ("--data-dir", str(tmp_path / "sandboxes"))
            runs.append((("sandbox", "start", *conf, *sandbox), 2))
        for argv, expected in runs:
            run = run_cli(*argv, "--debug")
            assert CANARY not in _printed(run), (name, argv, _printed(run))
            assert run.status == expected, (name, argv, run.status, run.stdout, run.stderr)
        secret_server.execute("DROP TABLE IF EXISTS canary_in")


# -- pools that connect in the background: psycopg_pool logs each failed attempt itself


def _pool_attempt_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "psycopg.pool" and "connecting" in r.message]


@pytest.mark.parametrize("variant", ["fragment_in_dbname", "url_in_dbname", "password"])
def test_background_pool_attempts_never_log_the_secret(
    secret_server: PostgresServer, caplog: pytest.LogCaptureFixture, variant: str
) -> None:
    from pgmonkey.connections import open_pool

    caplog.set_level(logging.DEBUG, logger="psycopg.pool")
    cfg = _canary_variants(secret_server)[variant]
    cfg["pool_settings"] = {"min_size": 1, "max_size": 1, "timeout": 1}
    pool = open_pool(cfg, wait=False)  # psycopg_pool retries in its own threads
    try:
        deadline = time.monotonic() + 30
        while not _pool_attempt_records(caplog) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        pool.close()
    records = _pool_attempt_records(caplog)
    assert records, "psycopg_pool logged no failed attempt"
    _no_canary([r.getMessage() for r in records], f"psycopg.pool log ({variant})")


@pytest.mark.parametrize("variant", ["fragment_in_dbname", "password"])
async def test_background_async_pool_attempts_never_log_the_secret(
    secret_server: PostgresServer, caplog: pytest.LogCaptureFixture, variant: str
) -> None:
    import asyncio

    from pgmonkey.connections import open_async_pool

    caplog.set_level(logging.DEBUG, logger="psycopg.pool")
    cfg = _canary_variants(secret_server)[variant]
    cfg["async_pool_settings"] = {"min_size": 1, "max_size": 1, "timeout": 1}
    pool = await open_async_pool(cfg, wait=False)
    try:
        deadline = time.monotonic() + 30
        while not _pool_attempt_records(caplog) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    finally:
        await pool.close()
    records = _pool_attempt_records(caplog)
    assert records, "psycopg_pool logged no failed attempt"
    _no_canary([r.getMessage() for r in records], f"psycopg.pool log ({variant})")
