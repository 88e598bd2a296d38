"""pgmonkey.config: the template written by ``pgmonkey pgconfig create``."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import psycopg
import yaml

from pgmonkey.config import find_problems, load_config, template_text
from pgmonkey.testing import PostgresServer


def filled_template(tmp_path: Path, settings: dict[str, Any]) -> Path:
    """The template with only user/password/host/port/dbname edited, as a user would."""
    text = template_text()
    for key in ("user", "password", "host", "port", "dbname"):
        replacement = f"\\g<1>'{settings[key]}'"
        text, count = re.subn(rf"^(  {key}: )'[^']*'", replacement, text, flags=re.M)
        assert count == 1, key
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_template_loads_without_warnings() -> None:
    text = template_text()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert find_problems(yaml.safe_load(text)) == []


def test_template_documents_every_section_and_key() -> None:
    text = template_text()
    for section in (
        "connection_type",
        "connection_settings",
        "pool_settings",
        "async_pool_settings",
        "sync_settings",
        "async_settings",
    ):
        assert re.search(rf"^{section}:", text, flags=re.M), section
    for key in (
        "sslmode",
        "connect_timeout",
        "keepalives_count",
        "autocommit",
        "options",
        "target_session_attrs",
        "min_size",
        "max_size",
        "timeout",
        "max_idle",
        "max_lifetime",
        "check_on_checkout",
        "max_waiting",
        "reconnect_timeout",
        "num_workers",
        "name",
        "statement_timeout",
    ):
        assert re.search(rf"^\s*#?\s*{key}:", text, flags=re.M), key
    for syntax in ("${PGHOST:-localhost}", "$${", "from_env:", "from_file:", "--resolve-env"):
        assert syntax in text


def test_template_commented_lines_are_valid(tmp_path: Path) -> None:
    """Uncommenting every example setting still gives a valid configuration."""
    lines = []
    for line in template_text().splitlines():
        match = re.match(r"^(\s+)# (\w+: .*)$", line)
        lines.append(match.group(1) + match.group(2) if match else line)
    path = tmp_path / "all.yaml"
    path.write_text("\n".join(lines) + "\n")
    assert find_problems(path) == []
    cfg = load_config(path)
    assert cfg["connection_settings"]["autocommit"] is False
    assert cfg["pool_settings"]["num_workers"] == 3
    assert cfg["sync_settings"]["work_mem"] == "256MB"


def test_filled_template_connects(tmp_path: Path, pg_server: PostgresServer) -> None:
    server_cfg = pg_server.config()["connection_settings"]
    path = filled_template(tmp_path, server_cfg)
    cfg = load_config(path, strict=True)
    assert cfg["connection_settings"]["port"] == pg_server.port
    params = {k: v for k, v in cfg["connection_settings"].items() if k != "autocommit"}
    with psycopg.connect(**params) as conn:
        row = conn.execute(
            "SELECT current_user, current_setting('application_name'), inet_server_port()"
        ).fetchone()
    assert row == (server_cfg["user"], "myapp", pg_server.port)
