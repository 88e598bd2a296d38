"""pgconfig create / validate / show: files, modes, problems, redaction."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

from pgmonkey.config import template_text


def test_create_writes_the_template_with_mode_0600(run_pgmonkey: Any, tmp_path: Path) -> None:
    target = tmp_path / "deep" / "dir" / "app.yaml"
    result = run_pgmonkey("pgconfig", "create", "--type", "pg", "--filepath", str(target))
    assert result.returncode == 0, result.stderr
    assert f"New configuration template created: {target}" in result.stdout
    assert target.read_text(encoding="utf-8") == template_text()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_create_leaves_an_existing_file_alone_and_exits_0(
    run_pgmonkey: Any, tmp_path: Path
) -> None:
    # Idempotent as in 3.x (exit 0 with a message); only --force replaces the file.
    target = tmp_path / "app.yaml"
    target.write_text("mine: true\n")
    target.chmod(0o640)
    result = run_pgmonkey("pgconfig", "create", "--connconfig", str(target))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"Configuration file already exists: {target}",
        "Edit this file to update settings, or run again with --force to replace it.",
    ]
    assert result.stderr == ""
    assert target.read_text() == "mine: true\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # not touched at all

    forced = run_pgmonkey("pgconfig", "create", "--connconfig", str(target), "--force")
    assert forced.returncode == 0, forced.stderr
    assert target.read_text(encoding="utf-8") == template_text()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["app.yaml"]  # no temporary file left


def test_create_into_a_directory_fails_cleanly(run_pgmonkey: Any, tmp_path: Path) -> None:
    result = run_pgmonkey("pgconfig", "create", "--connconfig", str(tmp_path))
    assert result.returncode == 1
    assert "directory" in result.stderr


def test_the_template_is_valid(run_pgmonkey: Any, tmp_path: Path) -> None:
    target = tmp_path / "t.yaml"
    run_pgmonkey("pgconfig", "create", "--connconfig", str(target))
    result = run_pgmonkey("pgconfig", "validate", "--connconfig", str(target))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no problems" in result.stdout


BAD = """\
connection_settings:
  user: app
  password: hunter2-secret
  host: db
  port: 'not-a-port'
  sslmode: sometimes
pool_settings:
  min_size: 10
  max_size: 2
"""


def test_validate_lists_every_problem_and_exits_2(run_pgmonkey: Any, write_config: Any) -> None:
    path = write_config(BAD)
    result = run_pgmonkey("pgconfig", "validate", "--connconfig", str(path))
    assert result.returncode == 2
    out = result.stdout
    for key in ("port", "sslmode", "min_size"):
        assert key in out
    assert "hunter2-secret" not in out + result.stderr

    as_json = run_pgmonkey("pgconfig", "validate", "--connconfig", str(path), "--json")
    assert as_json.returncode == 2
    data = json.loads(as_json.stdout)
    assert data["valid"] is False
    keys = {p.get("key") for p in data["problems"]}
    assert {"connection_settings.port", "connection_settings.sslmode"} <= keys
    assert len(data["problems"]) >= 3


def test_validate_reports_yaml_syntax_with_position(run_pgmonkey: Any, write_config: Any) -> None:
    path = write_config("connection_settings:\n  user: [unclosed\n")
    result = run_pgmonkey("pgconfig", "validate", "--connconfig", str(path), "--json")
    assert result.returncode == 2
    (problem,) = json.loads(result.stdout)["problems"]
    assert problem["type"] == "ConfigSyntaxError"
    assert "line" in problem


def test_validate_with_resolve_env(run_pgmonkey: Any, write_config: Any) -> None:
    path = write_config(
        "connection_settings:\n  host: '${PGM_CLI_HOST}'\n  password: '${PGM_CLI_PW:-x}'\n"
    )
    plain = run_pgmonkey("pgconfig", "validate", "--connconfig", str(path))
    assert plain.returncode == 0, plain.stdout
    resolved = run_pgmonkey("pgconfig", "validate", "--connconfig", str(path), "--resolve-env")
    assert resolved.returncode == 2
    assert "PGM_CLI_HOST" in resolved.stdout
    assert "connection_settings.password" in resolved.stdout  # default for a sensitive key


def test_validate_warns_about_references_while_resolve_env_is_off(
    run_pgmonkey: Any, write_config: Any
) -> None:
    """README's first example: the literal '${APP_DB_PASSWORD}' would be sent (issue 19.11)."""
    path = write_config(
        "connection_settings:\n  user: app\n  password: ${APP_DB_PASSWORD}\n"
        "  port: '${PGPORT:-5432}'\napp:\n  feature_flag: true\n"
    )
    plain = run_pgmonkey("pgconfig", "validate", "--connconfig", str(path))
    assert plain.returncode == 0, plain.stdout
    assert plain.stdout.splitlines() == [
        f"{path}: OK, no problems found",
        f"  warning: {path}: connection_settings.password (line 3): looks like an environment "
        "reference (${APP_DB_PASSWORD}) but resolve_env is off, so it is used literally; pass "
        "--resolve-env (CLI) or resolve_env=True (Python) to resolve it",
        f"  warning: {path}: connection_settings.port (line 4): looks like an environment "
        "reference (${PGPORT:-5432}) but resolve_env is off: it is kept as written, and "
        "connecting with it is refused (as written it is not a valid value); pass "
        "--resolve-env (CLI) or resolve_env=True (Python) to resolve it",
        f"  warning: {path}: app (line 5): is not a pgmonkey section: it is kept in the loaded "
        "configuration as written and not used by pgmonkey",
    ]
    as_json = json.loads(
        run_pgmonkey("pgconfig", "validate", "--connconfig", str(path), "--json").stdout
    )
    assert as_json["valid"] is True
    assert [(w["key"], w["line"]) for w in as_json["warnings"]] == [
        ("connection_settings.password", 3),
        ("connection_settings.port", 4),
        ("app", 5),
    ]


def test_unknown_key_is_printed_once_though_also_logged(
    run_pgmonkey: Any, write_config: Any
) -> None:
    path = write_config("connection_settings:\n  hots: h\n")
    result = run_pgmonkey("pgconfig", "show", "--connconfig", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("unknown key 'hots'") == 1


def test_show_redacts_secrets(run_pgmonkey: Any, write_config: Any) -> None:
    path = write_config(
        {
            "connection_settings": {
                "user": "app",
                "password": "hunter2-secret",
                "host": "db",
                "sslkey": "/keys/client.key",
            }
        }
    )
    result = run_pgmonkey("pgconfig", "show", "--connconfig", str(path))
    assert result.returncode == 0, result.stderr
    assert "hunter2-secret" not in result.stdout
    assert "***REDACTED***" in result.stdout
    assert "host: db" in result.stdout

    data = json.loads(run_pgmonkey("pgconfig", "show", "--connconfig", str(path), "--json").stdout)
    assert data["connection_settings"]["password"] == "***REDACTED***"
    assert data["connection_type"] == "normal"


def test_show_resolves_env_and_still_redacts(run_pgmonkey: Any, write_config: Any) -> None:
    path = write_config(
        "connection_settings:\n  host: '${PGM_CLI_HOST}'\n  password:\n    from_env: PGM_CLI_PW\n"
    )
    env = {"PGM_CLI_HOST": "db.internal", "PGM_CLI_PW": "env-secret-value"}
    result = run_pgmonkey(
        "pgconfig", "show", "--connconfig", str(path), "--resolve-env", "--json", env=env
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["connection_settings"]["host"] == "db.internal"
    assert "env-secret-value" not in result.stdout + result.stderr
