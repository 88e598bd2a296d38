"""Fixtures for the CLI tests."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml


@dataclass
class TransferEnv:
    """A fresh database, a connection config file for it and a working directory.

    ``run(...)`` runs ``python -m pgmonkey_cli ...`` in ``workdir``; ``sql(...)`` runs a
    statement in autocommit and returns the rows (``[]`` when there are none).
    """

    cfg: dict[str, Any]
    config_path: Path
    workdir: Path

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pgmonkey_cli", *args],
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def connect(self) -> psycopg.Connection[Any]:
        settings = dict(self.cfg["connection_settings"])
        settings.pop("autocommit", None)
        return psycopg.connect(**settings, autocommit=True)

    def sql(self, query: Any, params: Any = None) -> list[tuple[Any, ...]]:
        with self.connect() as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []


@pytest.fixture
def transfer_env(pg_database: dict[str, Any], tmp_path: Path) -> TransferEnv:
    """A :class:`TransferEnv` on a fresh database (for pgimport/pgexport tests)."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    config_path = tmp_path / "conn.yaml"
    config_path.write_text(yaml.safe_dump(pg_database), encoding="utf-8")
    return TransferEnv(cfg=pg_database, config_path=config_path, workdir=workdir)


def _run_pgmonkey(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    import os

    full_env = {**os.environ, "COLUMNS": "80", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "pgmonkey_cli", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def run_pgmonkey() -> Any:
    """Run ``python -m pgmonkey_cli ARGS`` (80-column terminal); returns CompletedProcess."""
    return _run_pgmonkey


@pytest.fixture
def write_config(tmp_path: Path) -> Any:
    """Write a pgmonkey config dict (or YAML text) to a file in tmp_path; return its path."""
    counter = iter(range(1_000_000))

    def write(cfg: dict[str, Any] | str, name: str | None = None) -> Path:
        path = tmp_path / (name or f"config{next(counter)}.yaml")
        text = cfg if isinstance(cfg, str) else yaml.safe_dump(cfg, sort_keys=False)
        path.write_text(text, encoding="utf-8")
        return path

    return write
