"""TLS: host-name verification, missing, unreadable and loosely protected certificate files,
client-certificate login."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pgmonkey import PGConnectionManager
from pgmonkey.errors import DatabaseConnectionError, PgMonkeyError
from pgmonkey.testing import PostgresServer, ServerAccount
from pgmonkey_cli import main as cli_main

pytestmark = pytest.mark.reliability


def test_verify_full_rejects_mismatched_host_name(
    pg_ssl_server: PostgresServer, manager: PGConnectionManager
) -> None:
    cfg = pg_ssl_server.config(host="not-the-server.invalid", hostaddr="127.0.0.1")
    assert cfg["connection_settings"]["sslmode"] == "verify-full"
    with pytest.raises(DatabaseConnectionError, match=r"not-the-server\.invalid") as info:
        manager.get_database_connection_from_dict(cfg, "normal")
    assert "does not match host name" in str(info.value)
    assert pg_ssl_server.password not in str(info.value)


def test_missing_sslrootcert_is_a_clear_error(
    pg_ssl_server: PostgresServer, manager: PGConnectionManager, tmp_path: Path
) -> None:
    missing = tmp_path / "no-ca.crt"
    cfg = pg_ssl_server.config(sslrootcert=str(missing))
    with pytest.raises(DatabaseConnectionError) as info:
        manager.get_database_connection_from_dict(cfg, "pool").open()
    assert str(missing) in str(info.value)
    assert "does not exist" in str(info.value)


def test_missing_sslkey_is_a_clear_error(
    pg_ssl_server: PostgresServer, manager: PGConnectionManager, tmp_path: Path
) -> None:
    missing = tmp_path / "no-client.key"
    cfg = pg_ssl_server.cert_config()
    cfg["connection_settings"]["sslkey"] = str(missing)
    with pytest.raises(DatabaseConnectionError) as info:
        manager.get_database_connection_from_dict(cfg, "normal")
    assert str(missing) in str(info.value)


def test_client_certificate_login_end_to_end(
    pg_ssl_server: PostgresServer, manager: PGConnectionManager
) -> None:
    cfg = pg_ssl_server.cert_config()
    assert "password" not in cfg["connection_settings"]
    for ctype in ("normal", "pool"):
        obj = manager.get_database_connection_from_dict(cfg, ctype)
        with obj as conn:
            row = conn.execute(
                "SELECT current_user, ssl, client_dn IS NOT NULL FROM pg_stat_ssl "
                "WHERE pid = pg_backend_pid()"
            ).fetchone()
        assert row == ("certuser", True, True)


# -- unreadable files and loose key permissions


@pytest.fixture
def tls_dir(pg_ssl_server: PostgresServer) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Copies of the client certificate, its key and the CA in a directory of their own.

    The directory (not under pytest's private ``tmp_path``) and the copies belong to the
    unprivileged account that :func:`_as_reader` runs as when the tests run as root.
    """
    directory = Path(tempfile.mkdtemp(prefix="pgmonkey-tls-"))
    try:
        cfg = pg_ssl_server.cert_config()
        settings = cfg["connection_settings"]
        for key in ("sslrootcert", "sslcert", "sslkey"):
            copy = directory / key
            shutil.copyfile(settings[key], copy)
            os.chmod(copy, 0o600)
            settings[key] = str(copy)
        account = ServerAccount.for_server()
        if account is not None:
            account.give(directory)
        os.chmod(directory, 0o700)
        yield directory, cfg
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _connect_outcome(cfg: dict[str, Any]) -> str:
    """``"ok"`` or ``"<error type>: <message>"`` of opening a normal connection and a pool."""
    manager = PGConnectionManager()
    outcomes = []
    for ctype in ("normal", "pool"):
        try:
            obj = manager.get_database_connection_from_dict(cfg, ctype, force_reload=True)
            with obj as conn:
                conn.execute("SELECT 1")
            outcomes.append("ok")
        except PgMonkeyError as exc:
            outcomes.append(f"{type(exc).__name__}: {exc}")
        finally:
            manager.clear_cache()
    assert outcomes[0] == outcomes[1], outcomes  # both types report the same problem
    return outcomes[0]


def _as_reader(cfg: dict[str, Any]) -> str:
    """:func:`_connect_outcome` in a process whose permission bits are enforced.

    As root, permission bits do not stop reading, so a forked child switches to the
    unprivileged account (``postgres`` or ``nobody``) first; otherwise this runs in-process.
    """
    account = ServerAccount.for_server()
    if account is None:
        return _connect_outcome(cfg)
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():  # Python 3.12+ warns about fork() with threads running
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        status = 0
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(account.gid)
            os.setuid(account.uid)
            text = _connect_outcome(cfg)
        except BaseException as exc:
            text, status = f"child failed: {type(exc).__name__}: {exc}", 1
        with contextlib.suppress(BaseException):
            os.write(write_end, text.encode("utf-8", "replace"))
        os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        text = pipe.read().decode("utf-8")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, text
    return text


@pytest.mark.parametrize("setting", ["sslrootcert", "sslkey"])
def test_unreadable_tls_file_is_a_clear_error(
    tls_dir: tuple[Path, dict[str, Any]], setting: str
) -> None:
    _, cfg = tls_dir
    assert _as_reader(cfg) == "ok"  # readable copies work, so only the mode changes below
    path = cfg["connection_settings"][setting]
    os.chmod(path, 0o000)
    text = _as_reader(cfg)
    assert text.startswith("DatabaseConnectionError: "), text
    what = "root certificate" if setting == "sslrootcert" else "private key"
    assert f'{what} file "{path}": Permission denied' in text
    assert text.isprintable()  # libpq's OpenSSL reason can be uninitialised bytes


def test_tls_file_that_is_a_directory_is_a_clear_error(
    tls_dir: tuple[Path, dict[str, Any]], manager: PGConnectionManager
) -> None:
    directory, cfg = tls_dir
    cfg["connection_settings"]["sslrootcert"] = str(directory)
    with pytest.raises(DatabaseConnectionError) as info:
        manager.get_database_connection_from_dict(cfg, "normal")
    assert f'root certificate file "{directory}": Is a directory' in str(info.value)


@pytest.mark.parametrize("mode", [0o644, 0o604, 0o660], ids=lambda m: f"{m:04o}")
def test_private_key_with_loose_permissions_is_reported(
    tls_dir: tuple[Path, dict[str, Any]], mode: int
) -> None:
    _, cfg = tls_dir
    key = cfg["connection_settings"]["sslkey"]
    os.chmod(key, mode)
    text = _as_reader(cfg)
    assert text.startswith("DatabaseConnectionError: "), text
    assert f'private key file "{key}" has group or world access' in text
    assert f"its mode is {mode:04o}; fix it with: chmod 600 {key}" in text
    os.chmod(key, 0o600)  # the fix it names works
    assert _as_reader(cfg) == "ok"


def test_pgconfig_test_reports_a_loose_private_key(
    tls_dir: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    directory, cfg = tls_dir
    key = cfg["connection_settings"]["sslkey"]
    os.chmod(key, 0o644)
    config_file = directory / "tls.yaml"
    config_file.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    status = cli_main(["pgconfig", "test", "--connconfig", str(config_file)])
    out, err = capsys.readouterr()
    assert status == 1
    assert f"its mode is 0644; fix it with: chmod 600 {key}" in out + err
