"""pgmonkey.config: redaction and the single definition of a sensitive key."""

from __future__ import annotations

from typing import Any

import pytest

from pgmonkey.common.utils.redaction import REDACTED as COMPAT_REDACTED
from pgmonkey.common.utils.redaction import redact_config as compat_redact
from pgmonkey.config import REDACTED, is_sensitive_key, redact_config


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "PASSWORD",
        "sslkey",
        "sslcert",
        "sslrootcert",
        "sslpassword",
        "db_password",
        "PGPASSWORD",
        "api_token",
        "client_secret",
        "oauth_client_secret",
        "aws_credentials",
        "private_key",
        "scram_client_key",
    ],
)
def test_sensitive(key: str) -> None:
    assert is_sensitive_key(key)


@pytest.mark.parametrize("key", ["user", "host", "port", "sslmode", "passfile", 1, None, ("a",)])
def test_not_sensitive(key: object) -> None:
    assert not is_sensitive_key(key)


def test_redact_nested_lists_dsn_and_odd_keys() -> None:
    cfg: dict[Any, Any] = {
        "connection_settings": {"user": "u", "password": "pw1", "sslkey": "/k", "sslcert": ""},
        "servers": [{"password": "pw2"}, ["x", {"token": "tk9"}]],
        "dsn": "postgresql://app:pw3@db:5432/app?sslmode=require",
        "conninfo": "host=db password=pw4 user=app",
        "quoted": "host=db password='p w5' user=app",
        "query": "postgresql://db/app?user=app&password=pw6",
        "at_sign": "postgresql://app:p@ss7@db/app",
        1: "int key",
        None: {"secret": None},
        "empty": {"password": None, "token": "", "credentials": []},
        "ref": {"password": {"from_env": "PGM_PW"}},
        "zero": {"password": 0},
    }
    out = redact_config(cfg)
    assert out == {
        "connection_settings": {
            "user": "u",
            "password": REDACTED,
            "sslkey": REDACTED,
            "sslcert": "",
        },
        "servers": [{"password": REDACTED}, ["x", {"token": REDACTED}]],
        "dsn": f"postgresql://app:{REDACTED}@db:5432/app?sslmode=require",
        "conninfo": f"host=db password={REDACTED} user=app",
        "quoted": f"host=db password={REDACTED} user=app",
        "query": f"postgresql://db/app?user=app&password={REDACTED}",
        "at_sign": f"postgresql://app:{REDACTED}@db/app",
        1: "int key",
        None: {"secret": None},
        "empty": {"password": None, "token": "", "credentials": []},
        "ref": {"password": {"from_env": "PGM_PW"}},
        "zero": {"password": REDACTED},
    }
    text = repr(out)
    for secret in ("pw1", "pw2", "tk9", "pw3", "pw4", "p w5", "pw6", "ss7"):
        assert secret not in text
    assert cfg["connection_settings"]["password"] == "pw1"  # input untouched


def test_redact_whole_value_of_sensitive_mapping() -> None:
    assert redact_config({"credentials": {"user": "u", "key": "k"}}) == {"credentials": REDACTED}


def test_redact_scalars_and_compat_path() -> None:
    assert redact_config("plain") == "plain"
    assert redact_config(None) is None
    assert compat_redact is redact_config
    assert COMPAT_REDACTED == REDACTED == "***REDACTED***"
