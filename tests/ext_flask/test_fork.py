"""Fork safety: a pool created before fork() is forgotten, never used or closed, by a child."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.ext_flask.conftest import Database

ROOT = Path(__file__).resolve().parents[2]


def test_children_build_their_own_pools_and_the_parent_keeps_working(
    db: Database, tmp_path: Path
) -> None:
    cfg = db.config(min_size=1, max_size=3, timeout=5)
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(cfg), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "tests.ext_flask.forkcheck", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    parent = result["parent_before"]
    # The parent's session survived both children (one of which called pg.close()).
    assert result["parent_after"] == parent
    assert result["parent_pool_same"] is True
    seen: set[int] = set()
    for child in result["children"]:
        assert child.get("ok") is True, child
        assert child["pool_is_new"] is True
        backends = set(child["backends"])
        assert len(backends) == 3  # grew beyond the inherited pool's single connection
        assert parent not in backends
        assert not backends & seen
        seen |= backends
    assert "rolling back returned connection" not in proc.stderr
    assert db.sessions(settle_to=0) == []  # everything closed by its owner
