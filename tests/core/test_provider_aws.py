"""The AWS RDS IAM built-in: a locally signed token, sent as the password (real server).

boto3 signs ``generate_db_auth_token`` locally, so fake static credentials in the environment
are enough to check the token. No RDS is reachable here: to show the token really is what
reaches the server as the password, a test provider wraps the built-in and sets the role's
password to the token it returns (as RDS would accept it).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from pgmonkey.config import load_config
from pgmonkey.connections import connect
from pgmonkey.errors import CredentialProviderError
from pgmonkey.testing import PostgresServer

from .. import _rotation

pytest.importorskip("boto3")

from pgmonkey.providers.aws import rds_iam_token

HOST = "mydb.abcdefghijkl.eu-west-1.rds.amazonaws.com"


@pytest.fixture(autouse=True)
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/pgmonkey-test")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/pgmonkey-test")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_token_shape() -> None:
    token = rds_iam_token({"host": HOST, "port": 5432, "user": "app_iam", "dbname": "app"})
    parts = urlsplit("https://" + token)
    assert parts.netloc == f"{HOST}:5432"
    query = parse_qs(parts.query)
    assert query["Action"] == ["connect"]
    assert query["DBUser"] == ["app_iam"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Credential"][0].startswith("AKIAIOSFODNN7EXAMPLE/")
    assert query["X-Amz-Credential"][0].endswith("/eu-west-1/rds-db/aws4_request")
    assert query["X-Amz-Expires"] == ["900"]
    assert len(query["X-Amz-Signature"][0]) == 64


def test_region_from_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "us-east-2")
    token = rds_iam_token({"host": "db.internal", "port": "6432", "user": "u"})
    assert token.startswith("db.internal:6432/?")
    assert "%2Fus-east-2%2Frds-db%2F" in token


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"host": HOST}, "needs connection_settings.host and connection_settings.user"),
        ({"host": f"{HOST},other", "user": "u"}, "signs for one host"),
        ({"host": "db.internal", "user": "u"}, "cannot tell the AWS region"),
    ],
)
def test_unusable_settings_are_clear(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(CredentialProviderError, match=message):
        rds_iam_token(settings)


_SERVER: list[PostgresServer] = []


def token_in_step(settings: Mapping[str, Any]) -> str:
    """The built-in's token, made the role's password first (what RDS would accept)."""
    token = rds_iam_token({**settings, "host": HOST})
    _rotation.set_password(_SERVER[0], str(settings["user"]), token)
    return token


@pytest.fixture
def server(pg_server: PostgresServer) -> Iterator[PostgresServer]:
    _SERVER[:] = [pg_server]
    yield pg_server
    _SERVER.clear()


def test_token_reaches_the_server_as_the_password(server: PostgresServer) -> None:
    role = _rotation.make_role(server, _rotation.new_password())
    try:
        raw = server.config(user=role, password=None)
        raw["connection_settings"]["credential_provider"] = (
            "tests.core.test_provider_aws:token_in_step"
        )
        cfg = load_config(raw)
        with connect(cfg) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (role,)
        # The built-in's errors are pgmonkey's own: they pass through unchanged.
        bad = load_config(
            {
                "connection_settings": {
                    "host": "db.internal",
                    "user": role,
                    "credential_provider": "pgmonkey.providers.aws:rds_iam_token",
                }
            }
        )
        with pytest.raises(CredentialProviderError, match="cannot tell the AWS region"):
            connect(bad)
    finally:
        _rotation.drop_role(server, role)
