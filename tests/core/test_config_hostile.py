"""pgmonkey.config: hostile values (issue 18) and pgmonkey 3.4 compatibility (issue 19).

Every bad value is a :class:`~pgmonkey.errors.ConfigError` naming the key and the line, never a
raw ``ValueError`` and never a secret; references left unresolved (``resolve_env`` off) are
kept as written, as 3.4 did, and explained; top-level sections that are not pgmonkey's survive.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import textwrap
from pathlib import Path
from typing import Any

import psycopg_pool
import pytest

from pgmonkey import PGConnectionManager
from pgmonkey.config import check_config, load_config, redact_config
from pgmonkey.config._warn import UnknownConfigKeyWarning
from pgmonkey.connections import connect, open_pool
from pgmonkey.connections._params import POOL_DEFAULT_MIN_SIZE
from pgmonkey.errors import (
    ConfigError,
    ConfigValidationError,
    DatabaseConnectionError,
    EnvInterpolationError,
)

CANARY = "Can4ry-Pa55-q7"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def refused(source: Any, key_path: tuple[Any, ...], **kwargs: Any) -> ConfigValidationError:
    with pytest.raises(ConfigValidationError) as info:
        load_config(source, **kwargs)
    assert info.value.key_path == key_path
    return info.value


# -- issue 18.6: NUL characters ------------------------------------------------------------

NUL_CASES = [
    ("connection_settings", "host", "127.0.0.1\\0"),
    ("connection_settings", "password", f"{CANARY}\\0tail"),
    ("connection_settings", "user", "app\\0"),
    ("connection_settings", "options", "-c search_path=a\\0"),
    ("connection_settings", "sslmode", "disable\\0"),
    ("connection_settings", "port", "5432\\0"),
    ("connection_settings", "autocommit", "true\\0"),
    ("pool_settings", "name", "p\\0"),
    ("async_pool_settings", "timeout", "5\\0"),
    ("sync_settings", "statement_timeout", "5s\\0"),
    ("async_settings", "search_path", "app\\0"),
]


@pytest.mark.parametrize(("section", "key", "value"), NUL_CASES)
def test_nul_in_any_value_sent_to_libpq_is_refused_with_key_and_line(
    tmp_path: Path, section: str, key: str, value: str
) -> None:
    text = f'connection_type: normal\n{section}:\n  {key}: "{value}"\n'
    if section != "connection_settings":
        text += "connection_settings: {}\n"
    error = refused(write(tmp_path, text), (section, key))
    assert "contains a NUL character" in str(error)
    assert "(line 3, column 3)" in str(error)
    assert CANARY not in str(error)


def test_nul_from_a_secret_file_is_refused_without_printing_it(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_bytes(CANARY.encode() + b"\0rest\n")
    path = write(tmp_path, f"connection_settings:\n  password:\n    from_file: '{secret}'\n")
    error = refused(path, ("connection_settings", "password"), resolve_env=True)
    assert str(error) == (
        f"{path}: connection_settings.password: contains a NUL character (\\0), which cannot "
        "be sent to PostgreSQL: libpq would cut the value short there (after resolving secret "
        f"file '{secret}') (line 2, column 3)"
    )


def test_nul_host_never_reaches_libpq(pg_server: Any) -> None:
    """Before: the NUL cut the host short and libpq connected to its defaults."""
    cfg = pg_server.config()
    cfg["connection_settings"]["host"] += "\0"
    with pytest.raises(ConfigValidationError, match="NUL character"):
        PGConnectionManager().get_database_connection_from_dict(cfg, "normal")


# -- issue 18.7: numbers, ranges, types ----------------------------------------------------

HUGE = "9" * 5000


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("connection_settings", "port"),
        ("connection_settings", "connect_timeout"),
        ("pool_settings", "min_size"),
        ("async_pool_settings", "max_lifetime"),
    ],
)
def test_5000_digit_numbers_are_config_errors(tmp_path: Path, section: str, key: str) -> None:
    text = f"connection_type: normal\n{section}:\n  {key}: {HUGE}\n"
    if section != "connection_settings":
        text += "connection_settings: {}\n"
    error = refused(write(tmp_path, text), (section, key))
    assert "(line 3, column 3)" in str(error)
    assert HUGE[:50] not in str(error)


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("connection_settings", "port", 0, "between 1 and 65535"),
        ("connection_settings", "port", "65536", "between 1 and 65535"),
        ("connection_settings", "port", 10**5000, "between 1 and 65535"),
        ("connection_settings", "port", "5432,70000", "between 1 and 65535"),
        ("connection_settings", "connect_timeout", -1, "must not be negative"),
        ("connection_settings", "keepalives_idle", 2**31, "at most 2147483647"),
        ("connection_settings", "tcp_user_timeout", 10**5000, "at most 2147483647"),
        ("connection_settings", "host", 10**5000, "far too large"),
        ("connection_settings", "autocommit", "maybe", "expected true or false"),
        ("connection_settings", "autocommit", 2, "expected true or false"),
        ("connection_settings", "host", ["a", "b"], "expected text, found a list"),
        ("connection_settings", "port", {"a": 1}, "expected a whole number, found a mapping"),
        ("pool_settings", "timeout", float("inf"), "finite"),
        ("pool_settings", "timeout", float("nan"), "finite"),
        ("pool_settings", "timeout", "1e999", "finite"),
        ("pool_settings", "timeout", 0, "greater than 0"),
        ("pool_settings", "max_lifetime", 1e300, "at most 2147483647"),
        ("pool_settings", "max_idle", 10**400, "far too large"),
        ("pool_settings", "min_size", -1, "must not be negative"),
        ("pool_settings", "max_size", 0, "at least 1"),
        ("pool_settings", "num_workers", "three", "whole number"),
        ("pool_settings", "check_on_checkout", "sometimes", "expected true or false"),
        ("async_pool_settings", "reconnect_timeout", -5, "at least 0"),
        ("sync_settings", "statement_timeout", ["1s"], "expected text, found a list"),
        ("async_settings", "work_mem", {"x": 1}, "expected text, found a mapping"),
    ],
    ids=lambda v: f"{type(v).__name__}" if isinstance(v, int) and v > 10**20 else None,
)
def test_out_of_range_and_wrong_types(section: str, key: str, value: Any, message: str) -> None:
    error = refused({"connection_settings": {}, section: {key: value}}, (section, key))
    assert message in str(error)
    assert isinstance(error, ValueError)


def test_lone_max_size_lowers_min_size_and_min_over_max_is_clear() -> None:
    default = inspect.signature(psycopg_pool.ConnectionPool).parameters["min_size"].default
    assert default == POOL_DEFAULT_MIN_SIZE
    cfg = {"connection_settings": {}, "pool_settings": {"max_size": 2}}
    error = refused(
        {**cfg, "pool_settings": {"max_size": 2, "min_size": 3}}, ("pool_settings", "min_size")
    )
    assert "min_size (3) cannot be greater than max_size (2)" in str(error)
    with pytest.raises(ConfigValidationError, match=r"min_size \(5\) cannot be greater"):
        open_pool(cfg, min_size=5)


@pytest.mark.parametrize("ctype", ["pool", "async_pool"])
async def test_lone_max_size_gives_a_working_pool(pg_server: Any, ctype: str) -> None:
    cfg = pg_server.config()
    cfg["pool_settings"] = cfg["async_pool_settings"] = {"max_size": 2, "timeout": 10}
    manager = PGConnectionManager()
    try:
        if ctype == "pool":
            pool = manager.get_database_connection_from_dict(cfg, ctype)
            with pool as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
        else:
            pool = await manager.get_database_connection_from_dict(cfg, ctype)
            async with pool as aconn:
                assert await (await aconn.execute("SELECT 1")).fetchone() == (1,)
        assert (pool.pool.min_size, pool.pool.max_size) == (2, 2)
    finally:
        await manager.clear_cache_async()


# -- issue 19.2 / 19.11: references without resolve_env ------------------------------------

README_EXAMPLE = """\
connection_type: pool
connection_settings:
  user: app
  password: ${APP_DB_PASSWORD}
  host: localhost
  port: '${PGPORT:-5432}'
  connect_timeout: ${APP_TIMEOUT:-10}
pool_settings:
  max_size: '${POOL_MAX:-4}'
sync_settings:
  statement_timeout: ${STMT_TIMEOUT:-30s}
"""


def test_references_are_literal_without_resolve_env(tmp_path: Path) -> None:
    path = write(tmp_path, README_EXAMPLE)
    cfg = load_config(path)
    assert cfg["connection_settings"] == {
        "user": "app",
        "password": "${APP_DB_PASSWORD}",
        "host": "localhost",
        "port": "${PGPORT:-5432}",
        "connect_timeout": "${APP_TIMEOUT:-10}",
    }
    assert cfg["pool_settings"] == {"max_size": "${POOL_MAX:-4}"}
    assert cfg["sync_settings"] == {"statement_timeout": "${STMT_TIMEOUT:-30s}"}
    report = check_config(path)
    assert report.problems == []
    assert [(h.key_path, h.line) for h in report.hints] == [
        (("connection_settings", "password"), 4),
        (("connection_settings", "port"), 6),
        (("connection_settings", "connect_timeout"), 7),
        (("pool_settings", "max_size"), 9),
        (("sync_settings", "statement_timeout"), 11),
    ]
    assert str(report.hints[0]) == (
        f"{path}: connection_settings.password (line 4): looks like an environment reference "
        "(${APP_DB_PASSWORD}) but resolve_env is off, so it is used literally; pass "
        "--resolve-env (CLI) or resolve_env=True (Python) to resolve it"
    )
    with pytest.raises(ConfigValidationError) as info:
        connect(cfg)
    assert str(info.value) == (
        "connection_settings.port: ${PGPORT:-5432} is an environment reference, only resolved "
        "when the configuration is loaded with resolve_env=True (CLI: --resolve-env); as "
        "written it is not a valid value"
    )
    with pytest.raises(ConfigValidationError, match=r"max_size: \$\{POOL_MAX:-4\} is an env"):
        open_pool({**cfg, "connection_settings": {}})


def test_hints_never_show_a_sensitive_default_or_surrounding_text() -> None:
    report = check_config(
        {
            "connection_settings": {
                "password": "${PW:-" + CANARY + "}",
                "sslpassword": CANARY + "${X}",
                "application_name": "billing-${DEPLOY_ENV:-dev}",
            }
        }
    )
    texts = [str(h) for h in report.hints]
    assert texts[0].startswith("connection_settings.password: looks like an environment ")
    assert "(${PW:-...})" in texts[0]
    assert "(billing-${DEPLOY_ENV:-dev})" in texts[1]
    assert len(texts) == 2
    assert not any(CANARY in text for text in texts)


def test_resolved_values_are_checked_naming_key_line_and_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, README_EXAMPLE)
    monkeypatch.setenv("APP_DB_PASSWORD", CANARY)
    monkeypatch.setenv("PGPORT", "54x32")
    error = refused(path, ("connection_settings", "port"), resolve_env=True)
    assert str(error) == (
        f"{path}: connection_settings.port: expected a whole number written in decimal digits "
        "(after resolving environment variable PGPORT) (line 6, column 3)"
    )
    monkeypatch.setenv("PGPORT", "5433")
    monkeypatch.setenv("POOL_MAX", "0")
    error = refused(path, ("pool_settings", "max_size"), resolve_env=True)
    assert "must be at least 1" in str(error)
    assert "(line 9, column 3)" in str(error)
    monkeypatch.delenv("POOL_MAX")
    cfg = load_config(path, resolve_env=True)
    assert cfg["connection_settings"]["port"] == 5433
    assert cfg["pool_settings"] == {"max_size": 4}


def test_refused_password_that_looks_like_a_reference_gets_a_hint(pg_server: Any) -> None:
    cfg = pg_server.config(password="${APP_DB_PASSWORD}")
    with pytest.raises(DatabaseConnectionError) as info:
        connect(cfg)
    message = str(info.value)
    assert "password authentication failed" in message
    assert message.endswith(
        "; hint: connection_settings.password is ${APP_DB_PASSWORD}, which looks like an "
        "environment reference sent literally; load the configuration with resolve_env=True "
        "(CLI: --resolve-env) to resolve it"
    )
    good = connect(pg_server.config())
    good.close()
    with pytest.raises(DatabaseConnectionError) as plain:
        connect(pg_server.config(password=CANARY))
    assert "hint" not in str(plain.value)
    assert CANARY not in str(plain.value)


# -- issue 19.3 / 19.7: extra sections, unknown keys, sensitive names ----------------------


def test_extra_top_level_sections_are_kept_with_yaml_types(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        connection_settings:
          host: h
        app:
          feature_flag: true
          retries: 3
          name: billing
        """,
    )
    cfg = load_config(path)  # no warning (filterwarnings=error)
    assert cfg["app"] == {"feature_flag": True, "retries": 3, "name": "billing"}
    assert load_config({"connection_settings": {}, "app": {"x": [1]}})["app"] == {"x": [1]}
    [hint] = check_config(path).hints
    assert hint.key_path == ("app",)
    assert check_config(path).problems == []


def test_a_section_name_typo_still_warns_and_is_an_error_when_strict(tmp_path: Path) -> None:
    path = write(tmp_path, "connection_settings: {}\npool_setings:\n  max_size: 2\n")
    with pytest.warns(UnknownConfigKeyWarning, match="did you mean 'pool_settings'"):
        cfg = load_config(path)
    assert cfg["pool_settings"] == {}
    assert cfg["pool_setings"] == {"max_size": 2}
    refused(path, ("pool_setings",), strict=True)


def test_unknown_connection_keys_are_logged_on_the_pgmonkey_logger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="pgmonkey")
    with pytest.warns(UnknownConfigKeyWarning):
        load_config({"connection_settings": {"database": "x", "password": CANARY}})
    [record] = [r for r in caplog.records if r.name.startswith("pgmonkey")]
    assert record.levelno == logging.WARNING
    assert "unknown key 'database' in section 'connection_settings'" in record.getMessage()
    assert CANARY not in caplog.text


@pytest.mark.parametrize("key", ["api_token", "client_secret", "aws_credentials"])
def test_token_secret_credential_keys_are_sensitive(
    key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PGM_UNSET", raising=False)
    source = {"connection_settings": {}, "app": {key: CANARY, "other": f"${{PGM_UNSET:-{key}}}"}}
    cfg = load_config(source)
    assert cfg["app"][key] == CANARY
    assert redact_config(cfg)["app"][key] == "***REDACTED***"
    with pytest.raises(EnvInterpolationError, match=f"sensitive key 'app.{key}'") as info:
        load_config({**source, "app": {key: "${PGM_UNSET:-" + CANARY + "}"}}, resolve_env=True)
    assert CANARY not in str(info.value)
    assert load_config(source, resolve_env=True)["app"]["other"] == key


def test_nothing_but_config_errors_escape(tmp_path: Path) -> None:
    """The whole class: any scalar or container in any slot gives a ConfigError or loads."""
    values: list[Any] = [
        None,
        True,
        -1,
        0,
        2**31,
        10**5000,
        1.5,
        float("inf"),
        float("nan"),
        "",
        "x",
        "\0",
        HUGE,
        "1e999",
        [],
        [1],
        {},
        {"from_env": 5},
        {"from_file": None},
        object(),
    ]
    keys = {
        "connection_settings": ["host", "port", "connect_timeout", "autocommit", "sslmode"],
        "pool_settings": ["min_size", "max_size", "timeout", "check_on_checkout", "name"],
        "sync_settings": ["statement_timeout"],
    }
    for section, names in keys.items():
        for key in names:
            for value in values:
                for resolve_env in (False, True):
                    with contextlib.suppress(ConfigError):
                        load_config(
                            {"connection_settings": {}, section: {key: value}},
                            resolve_env=resolve_env,
                        )
    for top in ("connection_type", "pooler"):
        for value in values:
            with contextlib.suppress(ConfigError):
                load_config({"connection_settings": {}, top: value})


def test_kept_sections_with_any_keys_still_give_a_cache_digest() -> None:
    from pgmonkey.config import config_digest

    odd_source: dict[Any, Any] = {"connection_settings": {}, "app": {1: "a", "b": [10**5000]}}
    odd_source[2] = None
    odd = load_config(odd_source)
    other = load_config({**odd_source, "app": {"1": "a", "b": [10**5000]}})
    assert len(config_digest(odd)) == 64
    assert config_digest(odd) != config_digest(other)
