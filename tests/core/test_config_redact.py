"""pgmonkey.config: redaction and the single definition of a sensitive key."""

from __future__ import annotations

from typing import Any

import pytest

from pgmonkey.common.utils.redaction import REDACTED as COMPAT_REDACTED
from pgmonkey.common.utils.redaction import redact_config as compat_redact
from pgmonkey.config import (
    REDACTED,
    describe_target,
    is_sensitive_key,
    redact_config,
    redact_text,
)


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


# -- the one redaction: conninfo keys in any case, bytes and sets, redact_text, describe_target


@pytest.mark.parametrize("key", ["pass", "PASS", "passphrase", "ssl_key_passphrase", "Pwd"])
def test_more_sensitive_keys(key: str) -> None:
    assert is_sensitive_key(key)
    assert redact_config({key: "s3cret-x"}) == {key: REDACTED}


@pytest.mark.parametrize(
    "text",
    [
        "host=db PWD=s3cret-x user=app",
        "host=db pwd=s3cret-x",
        "host=db Password='s3cret-x' user=app",
        "host=db PASS=s3cret-x",
        "host=db sslpassword=s3cret-x",
        "postgresql://db/app?user=app&Pwd=s3cret-x&sslmode=require",
        "postgresql://db/app?PASSWORD=s3cret-x",
        "postgresql://app:s3cret-x@db/app",
        "POSTGRES://app:s3cret-x@db/app",
        "-c app.passphrase=s3cret-x",
    ],
)
def test_conninfo_keys_of_any_case_are_masked(text: str) -> None:
    shown = redact_config({"dsn": text})["dsn"]
    assert "s3cret-x" not in shown
    assert REDACTED in shown
    assert redact_text(text) == shown


def test_bytes_sets_tuples_and_nested_lists() -> None:
    cfg = {
        "dsn": b"postgresql://app:s3cret-1@db/app",
        "conninfo": bytearray(b"host=db"),
        "hosts": {"host=a password=s3cret-2", "b"},
        "frozen": frozenset({"pwd=s3cret-3"}),
        "nested": [[("x", ["PWD=s3cret-4", {"pass": "s3cret-5"}])]],
        "tokens": {"password": b"s3cret-6"},
    }
    out = redact_config(cfg)
    text = repr(out)
    for n in range(1, 7):
        assert f"s3cret-{n}" not in text
    assert out["dsn"] == f"postgresql://app:{REDACTED}@db/app".encode()
    assert out["hosts"] == {f"host=a password={REDACTED}", "b"}
    assert isinstance(out["frozen"], frozenset)
    assert out["nested"] == [[("x", [f"PWD={REDACTED}", {"pass": REDACTED}])]]
    assert cfg["hosts"] == {"host=a password=s3cret-2", "b"}  # input untouched


def test_a_secret_repeated_elsewhere_in_the_config_is_masked() -> None:
    cfg = {"connection_settings": {"password": "s3cret-x", "application_name": "s3cret-x"}}
    assert redact_config(cfg)["connection_settings"]["application_name"] == REDACTED


def test_redact_text_masks_the_secrets_of_a_config_in_every_form() -> None:
    cfg = {
        "connection_settings": {
            "password": 'pa"ss\\word',
            "dbname": "postgresql://u:url-secret%21@h/d",
            "host": "db password='quoted secret' x",
            "sslkey": "/keys/client.key",  # names a file: messages may say which
        },
        "sync_settings": {"app.api_token": "tok-123456"},
    }
    text = (
        'auth failed for pa"ss\\word; repr \'pa"ss\\\\word\'; json "pa\\"ss\\\\word"; '
        "url-secret! url-secret%21 quoted secret tok-123456 /keys/client.key"
    )
    shown = redact_text(text, cfg)
    for secret in ('pa"ss', "url-secret", "quoted secret", "tok-123456"):
        assert secret not in shown, shown
    assert "/keys/client.key" in shown
    assert redact_text(shown, cfg) == shown  # idempotent


def test_short_secrets_are_masked_as_whole_words_only() -> None:
    shown = redact_text("pw pwd (pw) pw.x", {"password": "pw"})
    assert shown == f"{REDACTED} pwd ({REDACTED}) {REDACTED}.x"


def test_report_lines_are_not_mistaken_for_secrets() -> None:
    text = "password_encryption = scram-sha-256  # store scram verifiers"
    assert redact_text(text) == text


def test_describe_target_masks_misplaced_secrets() -> None:
    settings = {
        "host": "password=s3cret-1",
        "port": 5432,
        "dbname": "postgresql://app:s3cret-2@db/app",
        "user": "app PWD=s3cret-3",
        "password": "s3cret-4",
    }
    target = describe_target(settings)
    assert target == (
        f"host=password={REDACTED} port=5432 dbname=postgresql://app:{REDACTED}@db/app "
        f"user=app PWD={REDACTED}"
    )
    assert describe_target({"dbname": "s3cret-4", "password": "s3cret-4"}) == (
        f"dbname={REDACTED}"
    )
    assert describe_target({}) == "libpq defaults"
