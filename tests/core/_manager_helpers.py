"""Helpers for the manager/wrapper tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def write_config(path: Path, cfg: dict[str, Any], **sections: Any) -> Path:
    data = {**cfg, **sections}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def backends(server: Any, application_name: str) -> int:
    rows = server.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (application_name,)
    )
    return int(rows[0][0])
