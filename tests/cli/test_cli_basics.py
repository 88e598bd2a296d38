"""The pgmonkey executable itself: help texts, version, exit codes, start-up imports."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# Help texts of pgmonkey 3.4.0 that must still be there, verbatim (whitespace normalised).
ORIGINAL_HELP = {
    (): [
        "pgmonkey: A tool to assist with database connections and manage data.",
        "Manage database configurations",
        "Generate suggested server configuration entries",
    ],
    ("pgconfig",): [
        "Create a new database configuration file.",
        "Test the database connection using a configuration file.",
        "Generate Python code to connect using a configuration file.",
    ],
    ("pgconfig", "create"): [
        "--type {pg}",
        'Database type for the configuration template. Default is "pg".',
        "--filepath FILEPATH, --connconfig FILEPATH",
        "Path to where you want your configuration file created.",
    ],
    ("pgconfig", "test"): [
        "--filepath FILEPATH, --connconfig FILEPATH",
        "Path to the configuration file you want to test.",
        "--connection-type {normal,pool,async,async_pool}",
        "Connection type to test. Overrides the value in the config file.",
        "Resolve ${VAR} environment variable references and from_env/from_file secret "
        "references in the config file.",
        "Allow ${VAR:-default} fallback values for sensitive keys like password. Only "
        "useful with --resolve-env.",
    ],
    ("pgconfig", "generate-code"): [
        "Path to the configuration file you want to use.",
        "Connection type for generated code. Overrides the value in the config file.",
        "--library {pgmonkey,psycopg}",
        'Target library for generated code. "pgmonkey" (default) generates code using '
        'pgmonkey. "psycopg" generates code using psycopg/psycopg_pool directly.',
    ],
    ("pgserverconfig",): [
        "--filepath FILEPATH, --connconfig FILEPATH",
        "Path to the config you want settings generated.",
        "Connect to the server and compare current settings against recommendations.",
        "--processes N",
        "--client-cidr CIDR",
        "--json",
    ],
}


def _squash(text: str) -> str:
    text = re.sub(r"\s+", " ", text)
    # Python 3.13's argparse names the metavar once for aliases ("--a, --b X" instead of
    # "--a X, --b X"); compare both spellings in the older form.
    return re.sub(r"(--[\w-]+), (--[\w-]+) ([A-Z_]+)\b", r"\1 \3, \2 \3", text)


@pytest.mark.parametrize("command", list(ORIGINAL_HELP), ids=lambda c: " ".join(c) or "top")
def test_help_keeps_original_texts_and_fits_80_columns(
    run_pgmonkey: Any, command: tuple[str, ...]
) -> None:
    result = run_pgmonkey(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    for text in ORIGINAL_HELP[command]:
        assert _squash(text) in _squash(result.stdout)
    # The usage block may hold one unbreakable "[--connection-type {...}]" token, as in 3.4.0.
    body = result.stdout.split("\n\n", 1)[1]
    assert max(len(line) for line in body.splitlines()) <= 80


def test_new_subcommands_and_flags_are_listed(run_pgmonkey: Any) -> None:
    out = run_pgmonkey("pgconfig", "--help").stdout
    assert "validate" in out
    assert "show" in out
    test_help = run_pgmonkey("pgconfig", "test", "--help").stdout
    for flag in ("--all", "--json", "--allow-sensitive-defaults", "--debug"):
        assert flag in test_help
    create_help = run_pgmonkey("pgconfig", "create", "--help").stdout
    assert "--force" in create_help


def test_version_lists_distributions_psycopg_and_libpq(run_pgmonkey: Any) -> None:
    from importlib import metadata

    import psycopg

    result = run_pgmonkey("--version")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert f"pgmonkey-core {metadata.version('pgmonkey-core')}" in lines
    assert f"pgmonkey-cli {metadata.version('pgmonkey-cli')}" in lines
    assert f"psycopg {psycopg.__version__}" in lines
    libpq = psycopg.pq.version()
    assert any(line.startswith(f"libpq {libpq // 10000}.") for line in lines)


def test_console_script_is_installed_and_works() -> None:
    script = Path(sys.executable).parent / "pgmonkey"
    exe = str(script) if script.exists() else shutil.which("pgmonkey")
    assert exe is not None
    result = subprocess.run([exe, "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert "pgconfig" in result.stdout


def test_bare_command_prints_help_and_exits_2(run_pgmonkey: Any) -> None:
    result = run_pgmonkey()
    assert result.returncode == 2
    assert "usage: pgmonkey" in result.stderr


def test_group_without_subcommand_prints_its_help(run_pgmonkey: Any) -> None:
    result = run_pgmonkey("pgconfig")
    assert result.returncode == 2
    assert "usage: pgmonkey pgconfig" in result.stderr
    assert "generate-code" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("pgconfig", "test"),
        ("pgconfig", "test", "--connconfig", "x.yaml", "--connection-type", "bogus"),
        ("pgserverconfig", "--filepath", "x.yaml", "--processes", "0"),
        ("nope",),
    ],
)
def test_usage_errors_are_two_lines_and_exit_2(run_pgmonkey: Any, args: tuple[str, ...]) -> None:
    result = run_pgmonkey(*args)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr
    assert "error:" in lines[0]
    assert result.stdout == ""


def test_missing_config_file_is_a_short_error(run_pgmonkey: Any, tmp_path: Path) -> None:
    missing = tmp_path / "absent.yaml"
    result = run_pgmonkey("pgconfig", "test", "--connconfig", str(missing))
    assert result.returncode == 2
    assert 1 <= len(result.stderr.splitlines()) <= 2
    assert str(missing) in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("how", ["PYTHONWARNINGS", "-W"])
def test_config_warning_raised_as_error_is_an_invalid_config(
    run_pgmonkey: Any, write_config: Any, pg_server: Any, how: str
) -> None:
    cfg = pg_server.config()
    cfg["connection_settings"]["bogus_key"] = 1
    path = write_config(cfg)
    message = "unknown key 'bogus_key' in section 'connection_settings' is ignored"
    # As a plain warning, the key is ignored and the real connection test passes.
    plain = run_pgmonkey("pgconfig", "test", "--connconfig", str(path))
    assert plain.returncode == 0, plain.stderr
    assert "pgmonkey: warning:" in plain.stderr
    assert message in plain.stderr
    # Raised as an error (-W error), it is an invalid config: exit 2, the warning's message.
    if how == "-W":
        strict = subprocess.run(
            [sys.executable, "-W", "error", "-m", "pgmonkey_cli", "pgconfig", "test",
             "--connconfig", str(path)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    else:
        strict = run_pgmonkey(
            "pgconfig", "test", "--connconfig", str(path), env={"PYTHONWARNINGS": "error"}
        )
    assert strict.returncode == 2, strict.stderr
    assert strict.stderr.startswith(f"pgmonkey: error: {path}: connection_settings.bogus_key")
    assert message in strict.stderr
    assert "unexpected" not in strict.stderr
    assert "Traceback" not in strict.stderr


def test_registration_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from pgmonkey_cli._app import build_parser\n"
        "build_parser().format_help()\n"
        "heavy = [m for m in ('psycopg', 'psycopg_pool', 'yaml', 'chardet', 'tqdm', 'pgmonkey')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_python_dash_m_works_outside_the_repository(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pgmonkey_cli", "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert result.returncode == 0
    assert "pgmonkey-cli" in result.stdout


def _run_into_a_closed_pipe(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``pgmonkey ARGS`` with stdout a pipe whose reader has already gone away."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "pgmonkey_cli", *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    "args",
    [("--version",), ("pgconfig", "generate-code", "--connconfig", "{config}")],
    ids=["--version", "generate-code"],
)
def test_a_reader_that_goes_away_ends_the_command_quietly(
    args: tuple[str, ...], write_config: Any, pg_database: dict[str, Any]
) -> None:
    # `pgmonkey --version | true`: no "BrokenPipeError", no status 120; 141 like `cat`.
    config = str(write_config(pg_database))
    proc = _run_into_a_closed_pipe(*(a.format(config=config) for a in args))
    assert (proc.returncode, proc.stderr) == (141, "")


@pytest.mark.parametrize("args", [("--help",), ("pgconfig", "test", "--help")])
def test_help_into_a_closed_pipe_says_nothing(args: tuple[str, ...]) -> None:
    proc = _run_into_a_closed_pipe(*args)
    assert proc.stderr == ""
    assert proc.returncode in (0, 141)


@pytest.mark.parametrize(("command", "flag"), [("pgimport", "import"), ("pgexport", "export")])
def test_help_lists_the_hyphenated_spelling_first(
    run_pgmonkey: Any, command: str, flag: str
) -> None:
    # The 3.x spelling with an underscore keeps working; the help leads with the usual one.
    proc = run_pgmonkey(command, "--help")
    # Python 3.13 writes the metavar once ("--a, --b X"), older ones after each spelling.
    (line,) = [ln.strip() for ln in proc.stdout.splitlines() if f"--{flag}_file" in ln]
    assert line.startswith(f"--{flag}-file")
    usage = proc.stdout.split("\n\n")[0]
    assert f"--{flag}-file" in usage
    assert f"--{flag}_file" not in usage
