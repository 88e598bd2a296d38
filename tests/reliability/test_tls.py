"""TLS: host-name verification, missing certificate files, client-certificate login."""

from __future__ import annotations

from pathlib import Path

import pytest

from pgmonkey import PGConnectionManager
from pgmonkey.errors import DatabaseConnectionError
from pgmonkey.testing import PostgresServer

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
