"""Secrets never appear in CLI output, log records, exceptions, reprs or cache_info."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pgmonkey import PGConnectionManager
from pgmonkey.errors import PgMonkeyError
from pgmonkey.testing import PostgresServer

pytestmark = pytest.mark.reliability

PASSWORD = "Sekr3t-Pa55-xyzzy"
FILE_SECRET = "F1le-Secret-plugh"


@pytest.fixture(scope="module")
def secret_server(fault_server: PostgresServer) -> PostgresServer:
    fault_server.execute(f"ALTER ROLE postgres PASSWORD '{PASSWORD}'")
    fault_server.password = PASSWORD
    return fault_server


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pgmonkey_cli", "--debug", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "100"},
    )


def test_cli_never_prints_the_password(secret_server: PostgresServer, tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(secret_server.config()), encoding="utf-8")
    secret_file = tmp_path / "pw"
    secret_file.write_text(FILE_SECRET + "\n", encoding="utf-8")
    bad = secret_server.config(port=1)
    bad["connection_settings"]["password"] = {"from_file": str(secret_file)}
    bad_path = tmp_path / "bad.yaml"
    bad_path.write_text(yaml.safe_dump(bad), encoding="utf-8")
    runs = [
        ("pgconfig", "test", "--connconfig", str(good)),
        ("pgconfig", "test", "--connconfig", str(bad_path)),
        ("pgconfig", "show", "--connconfig", str(good)),
        ("pgconfig", "show", "--connconfig", str(bad_path)),
        ("pgconfig", "validate", "--connconfig", str(good)),
        ("pgconfig", "generate-code", "--connconfig", str(good)),
        ("pgexport", "--connconfig", str(bad_path), "--table", "nope"),
    ]
    for args in runs:
        result = _cli(*args, cwd=tmp_path)
        for secret in (PASSWORD, FILE_SECRET):
            assert secret not in result.stdout, args
            assert secret not in result.stderr, args


def test_library_error_paths_never_leak(
    secret_server: PostgresServer,
    manager: PGConnectionManager,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG, logger="pgmonkey")
    secret_file = tmp_path / "pw"
    secret_file.write_text(FILE_SECRET + "\n", encoding="utf-8")
    texts: list[str] = []
    good = secret_server.config()
    pool = manager.get_database_connection_from_dict(good, "pool")
    with pool as conn:
        conn.execute("SELECT 1")
    texts += [repr(pool), str(manager.cache_info)]
    wrong_port = secret_server.config(port=1)
    wrong_pw = secret_server.config(password=FILE_SECRET)
    from_file = secret_server.config(port=1)
    from_file["connection_settings"]["password"] = {"from_file": str(secret_file)}
    for cfg, kw in ((wrong_port, {}), (wrong_pw, {}), (from_file, {"resolve_env": True})):
        for ctype in ("normal", "pool"):
            with pytest.raises(PgMonkeyError) as info:
                manager.get_database_connection_from_dict(cfg, ctype, **kw)
            texts += [str(info.value), repr(info.value), str(info.value.__cause__ or "")]
    texts += [r.getMessage() for r in caplog.records]
    texts += [str(manager.cache_info)]
    for text in texts:
        assert PASSWORD not in text
        assert FILE_SECRET not in text
