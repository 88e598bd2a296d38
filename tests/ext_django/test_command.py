"""``manage.py pgmonkey_check``: connects, reports, never shows a secret."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ext_django.conftest import POOLING, SEARCH_PATH, STATEMENT_TIMEOUT, Project

ROOT = Path(__file__).resolve().parents[2]


def run_check(*args: str) -> str:
    from django.core.management import call_command

    out = io.StringIO()
    call_command("pgmonkey_check", *args, stdout=out)
    return out.getvalue()


def test_reports_version_settings_and_redacts(project: Project) -> None:
    output = run_check()
    version = project.server.execute("SHOW server_version")[0][0]
    assert f"Database 'default': PostgreSQL {version}" in output
    assert f"statement_timeout = {STATEMENT_TIMEOUT}" in output
    assert f"search_path = {SEARCH_PATH}" in output
    assert "PASSWORD: '***REDACTED***'" in output
    assert project.server.password not in output
    if POOLING:
        assert "pool: Django native psycopg pool (" in output
    else:
        assert "pool: none (CONN_MAX_AGE=0)" in output
    assert output.rstrip().endswith("OK")


def test_other_alias(project: Project) -> None:
    output = run_check("--database", "persistent")
    assert "Database 'persistent'" in output
    assert "pool: none (CONN_MAX_AGE=60)" in output


def test_unknown_alias(project: Project) -> None:
    from django.core.management import CommandError

    with pytest.raises(CommandError, match=r"unknown database alias 'nope' \(configured: "):
        run_check("--database", "nope")


def test_unreachable_server_exits_1_with_one_line(project: Project) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.ext_django.project.settings",
        "PYTHONPATH": str(ROOT),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "django", "pgmonkey_check", "--database", "broken"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    assert "CommandError: database 'broken': could not connect or query: " in proc.stderr
    assert "Traceback" not in proc.stderr
    assert project.server.password not in proc.stderr + proc.stdout


def test_misplaced_passwords_are_masked_in_settings_and_errors() -> None:
    from pgmonkey_django._redact import REDACTED, redact_settings, redact_text

    canary = "Canary-django-8b1f"
    entry = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": f"app password={canary}",
        "HOST": f"postgresql://app:{canary}x@db/app",
        "USER": "app",
        "PASSWORD": "real-password",
        "OPTIONS": {"sslpassword": "key-pass", "options": "-c search_path=app"},
    }
    shown = redact_settings(entry)
    assert shown["NAME"] == f"app password={REDACTED}"
    assert shown["HOST"] == f"postgresql://app:{REDACTED}@db/app"
    assert shown["PASSWORD"] == shown["OPTIONS"]["sslpassword"] == REDACTED
    assert shown["OPTIONS"]["options"] == "-c search_path=app"
    message = redact_text(f'FATAL: database "app password={canary}" (real-password)', entry)
    for secret in (canary, "real-password", "key-pass"):
        assert secret not in repr(shown) + message
