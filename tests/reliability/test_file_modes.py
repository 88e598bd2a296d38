"""Files pgmonkey writes that may hold a secret are created 0600, whatever the umask.

Which files (and why the others are not private):

* ``pgconfig create``: the template holds a password field: 0600, also with ``--force``.
* ``pgexport``: the CSV holds table data, which can be anything: 0600 (a private temporary
  file renamed into place), also when ``--overwrite`` replaces a world-readable file.
* ``*.pgimport.yaml`` / ``*.pgexport.yaml``: only the CSV format (encoding, delimiter, quote,
  header, NULL marker), never connection settings: left to the umask (checked to hold nothing
  else).
* ``pgconfig generate-code``: prints to stdout; the program reads the YAML at run time.
* ``sandbox``: ``admin.secret`` (bootstrap password), the TLS private keys (``ssl/server.key``,
  ``client/ca.key``): 0600; the initdb password file is gone after initdb; the sandbox
  directory is 0700; nothing outside the cluster holds the configuration's password.
* :mod:`pgmonkey.testing` certificates: private keys 0600, even over a loose existing file.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pgmonkey import testing
from pgmonkey.config import load_config
from pgmonkey.connections import connect
from pgmonkey.files import write_private
from pgmonkey.testing import make_certificates
from pgmonkey.testing._net import free_port

from ._cli import run_cli

pytestmark = pytest.mark.reliability

PASSWORD = "M0de-Test-Pa55-quux"


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(params=[0o000, 0o022], ids=["umask000", "umask022"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """A permissive umask for the test (restored afterwards)."""
    old = os.umask(request.param)
    try:
        yield int(request.param)
    finally:
        os.umask(old)


def test_write_private_is_0600_from_the_start(umask: int, tmp_path: Path) -> None:
    loose = tmp_path / "existing"
    loose.write_text("old")
    os.chmod(loose, 0o666)  # noqa: S103
    write_private(loose, "new secret")
    assert (_mode(loose), loose.read_text()) == (0o600, "new secret")
    fresh = tmp_path / "fresh"
    write_private(fresh, b"key", exclusive=True)
    assert _mode(fresh) == 0o600
    with pytest.raises(FileExistsError):
        write_private(fresh, b"other", exclusive=True)
    assert fresh.read_bytes() == b"key"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing", "fresh"]  # no temp left


def test_pgconfig_create_is_0600(umask: int, tmp_path: Path) -> None:
    target = tmp_path / "new" / "app.yaml"
    created = run_cli("pgconfig", "create", "--connconfig", str(target))
    assert created.status == 0, created.stderr
    assert "password" in target.read_text()
    assert _mode(target) == 0o600
    os.chmod(target, 0o666)  # noqa: S103 - replaced with --force: the new file is private again
    forced = run_cli("pgconfig", "create", "--connconfig", str(target), "--force")
    assert forced.status == 0, forced.stderr
    assert _mode(target) == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["app.yaml"]


@pytest.fixture
def db_config(pg_database: dict[str, Any], tmp_path: Path) -> Path:
    path = tmp_path / "db.yaml"
    path.write_text(yaml.safe_dump(pg_database), encoding="utf-8")
    return path


def _only_format_keys(settings_file: Path, *secrets: str) -> None:
    text = settings_file.read_text(encoding="utf-8")
    assert set(yaml.safe_load(text)) == {"encoding", "delimiter", "quote", "header", "null"}
    assert "password" not in text
    for secret in secrets:
        assert secret not in text


def test_pgexport_file_is_private(umask: int, db_config: Path, tmp_path: Path) -> None:
    with connect(load_config(str(db_config)), autocommit=True) as conn:
        conn.execute("CREATE TABLE people (name text, token text)")
        conn.execute("INSERT INTO people VALUES ('ann', 'api-token-1')")
    out = tmp_path / "people.csv"
    exported = run_cli(
        "pgexport", "--connconfig", str(db_config), "--table", "people",
        "--export-file", str(out), "-q",
    )  # fmt: skip
    assert exported.status == 0, exported.stderr
    assert "api-token-1" in out.read_text()
    assert _mode(out) == 0o600
    password = yaml.safe_load(db_config.read_text())["connection_settings"]["password"]
    _only_format_keys(tmp_path / "people.pgexport.yaml", password)
    os.chmod(out, 0o644)
    again = run_cli(
        "pgexport", "--connconfig", str(db_config), "--table", "people",
        "--export-file", str(out), "--overwrite", "-q",
    )  # fmt: skip
    assert again.status == 0, again.stderr
    assert _mode(out) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "db.yaml", "people.csv", "people.pgexport.yaml",
    ]  # fmt: skip


def test_pgimport_settings_file_holds_only_the_format(
    umask: int, db_config: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a;b\n1;2\n", encoding="utf-8")
    result = run_cli(
        "pgimport", "--import-file", str(data), "--table", "t", "--connconfig", str(db_config),
        "--config-only",
    )  # fmt: skip
    assert result.status == 0, result.stderr
    password = yaml.safe_load(db_config.read_text())["connection_settings"]["password"]
    _only_format_keys(tmp_path / "data.pgimport.yaml", password)


def test_certificate_keys_are_0600_even_over_loose_files(umask: int, tmp_path: Path) -> None:
    server_dir, client_dir = tmp_path / "ssl", tmp_path / "client"
    server_dir.mkdir()
    client_dir.mkdir()
    for path in (server_dir / "server.key", client_dir / "ca.key", client_dir / "client-u.key"):
        path.write_text("stale")
        os.chmod(path, 0o666)  # noqa: S103
    certs = make_certificates(server_dir, client_dir, server_owner=None, client_users=("u",))
    new_user = certs.client("v")
    for key in (certs.server_key, certs.ca_key, certs.clients["u"].key, new_user.key):
        assert _mode(key) == 0o600, key
        assert key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert _mode(certs.ca_cert) == 0o644  # certificates are public


@pytest.fixture
def sandbox_dir() -> Iterator[Path]:
    """A data directory the server account can reach (not pytest's 0700 ``tmp_path``)."""
    directory = Path(tempfile.mkdtemp(prefix="pgmonkey-modes-"))
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        for pidfile in directory.glob("*/data/postmaster.pid"):  # a failed test's leftover
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(pidfile.read_text().split("\n", 1)[0]), 9)
        shutil.rmtree(directory, ignore_errors=True)


def _sandbox(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pgmonkey_cli", "sandbox", *args],
        capture_output=True, text=True, timeout=180, check=False,
        stdin=subprocess.DEVNULL, cwd=cwd,
    )  # fmt: skip


def test_sandbox_secrets_are_0600(sandbox_dir: Path, tmp_path: Path) -> None:
    testing.require_ssl()
    config = tmp_path / "dev.yaml"
    settings = {
        "host": "localhost", "port": free_port(), "user": "app",
        "password": PASSWORD, "dbname": "appdb", "connect_timeout": 10,
    }  # fmt: skip
    config.write_text(yaml.safe_dump({"connection_settings": settings}), encoding="utf-8")
    common = ("--connconfig", str(config), "--data-dir", str(sandbox_dir))
    old = os.umask(0)  # inherited by the command
    try:
        started = _sandbox("start", *common, "--ssl", cwd=tmp_path)
    finally:
        os.umask(old)
    try:
        assert started.returncode == 0, started.stderr
        (box,) = sandbox_dir.iterdir()
        assert _mode(box) == 0o700
        for name in ("admin.secret", "ssl/server.key", "client/ca.key"):
            assert _mode(box / name) == 0o600, name
        assert not (box / "initdb.pw").exists()
        outside_cluster = [
            p for p in box.rglob("*") if p.is_file() and box / "data" not in p.parents
        ]
        assert box / "server.log" in outside_cluster
        for path in outside_cluster:
            assert PASSWORD.encode() not in path.read_bytes(), path
    finally:
        destroyed = _sandbox("destroy", "--yes", *common, cwd=tmp_path)
        assert destroyed.returncode == 0, destroyed.stderr
