"""``pgmonkey_django.config()``: the dj-database-url shape, a path from the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import pgmonkey_django
from pgmonkey.errors import ConfigError


def _write(path: Path, dbname: str) -> Path:
    cfg: dict[str, Any] = {
        "connection_type": "normal",
        "connection_settings": {"host": "db.example.com", "dbname": dbname, "user": "app"},
    }
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_the_variable_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    named = _write(tmp_path / "named.yaml", "from_variable")
    fallback = _write(tmp_path / "fallback.yaml", "from_default")
    monkeypatch.setenv("PGMONKEY_CONFIG", str(named))
    assert pgmonkey_django.config(default=fallback)["NAME"] == "from_variable"


@pytest.mark.parametrize("value", [None, ""])
def test_default_when_unset_or_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    fallback = _write(tmp_path / "fallback.yaml", "from_default")
    if value is None:
        monkeypatch.delenv("PGMONKEY_CONFIG", raising=False)
    else:
        monkeypatch.setenv("PGMONKEY_CONFIG", value)
    assert pgmonkey_django.config(default=fallback)["NAME"] == "from_default"


def test_another_variable_and_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_DB_FILE", str(_write(tmp_path / "app.yaml", "app")))
    entry = pgmonkey_django.config("APP_DB_FILE", conn_max_age=60, pool=False)
    assert (entry["NAME"], entry["CONN_MAX_AGE"]) == ("app", 60)


def test_neither_variable_nor_default_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGMONKEY_CONFIG", raising=False)
    with pytest.raises(ConfigError, match=r"environment variable PGMONKEY_CONFIG is not set"):
        pgmonkey_django.config()


def test_a_missing_file_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGMONKEY_CONFIG", str(tmp_path / "absent.yaml"))
    with pytest.raises(ConfigError, match=r"absent\.yaml"):
        pgmonkey_django.config()
