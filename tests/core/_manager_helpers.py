"""Helpers for the manager/wrapper tests."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml


def write_config(path: Path, cfg: dict[str, Any], **sections: Any) -> Path:
    data = {**cfg, **sections}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def backends(server: Any, application_name: str, *, column: str = "application_name") -> int:
    assert column in ("application_name", "datname")
    rows = server.execute(
        f"SELECT count(*) FROM pg_stat_activity WHERE {column} = %s", (application_name,)
    )
    return int(rows[0][0])


def settled_backends(
    server: Any, name: str, *, column: str = "application_name", timeout: float = 5.0
) -> int:
    """Backends matching ``name`` once closing ones have left (polls until 0 or timeout)."""
    deadline = time.monotonic() + timeout
    while (count := backends(server, name, column=column)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return count
