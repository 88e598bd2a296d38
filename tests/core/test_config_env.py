"""pgmonkey.config: environment interpolation (${VAR}, defaults, from_env, from_file)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

import pgmonkey
from pgmonkey.config import load_config, resolve_env_vars
from pgmonkey.errors import ConfigValidationError, EnvInterpolationError


def cs(tmp_path: Path, body: str, **kwargs: Any) -> dict[str, Any]:
    path = tmp_path / "config.yaml"
    text = "connection_settings:\n" + textwrap.indent(textwrap.dedent(body), "  ")
    path.write_text(text, encoding="utf-8")
    result: dict[str, Any] = load_config(path, resolve_env=True, **kwargs)["connection_settings"]
    return result


def test_inline_references(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGM_HOST", "db.example")
    monkeypatch.setenv("PGM_PORT", "6543")
    monkeypatch.setenv("PGM_A", "a")
    monkeypatch.setenv("PGM_B", "b")
    monkeypatch.delenv("PGM_UNSET", raising=False)
    assert cs(
        tmp_path,
        """\
        host: '${PGM_HOST}'
        port: '${PGM_PORT}'
        application_name: '${PGM_A}:${PGM_B}-$PGM_A-$'
        dbname: '${PGM_UNSET:-fallback}'
        options: '$${PGM_A} is literal'
        """,
    ) == {
        "host": "db.example",
        "port": 6543,
        "application_name": "a:b-$PGM_A-$",
        "dbname": "fallback",
        "options": "${PGM_A} is literal",
    }


def test_interpolation_is_off_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGM_HOST", "db.example")
    cfg = load_config({"connection_settings": {"host": "${PGM_HOST}"}})
    assert cfg["connection_settings"]["host"] == "${PGM_HOST}"


def test_default_used_when_empty_as_in_shell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGM_EMPTY", "")
    assert cs(tmp_path, "host: '${PGM_EMPTY:-h}'\ndbname: 'x${PGM_EMPTY}y'\n") == {
        "host": "h",
        "dbname": "xy",
    }


def test_defaults_nest_and_keep_braces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGM_SET", "val")
    monkeypatch.delenv("PGM_UNSET", raising=False)
    assert resolve_env_vars(
        {
            "a": "${PGM_UNSET:-${PGM_SET}}",
            "b": "${PGM_UNSET:-a{b}c}d",
            "c": "${PGM_UNSET:-}",
            "d": "${PGM_UNSET:-x$${y}z}",
        }
    ) == {"a": "val", "b": "a{b}cd", "c": "", "d": "x${y}z"}


def test_non_strings_lists_and_nested(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGM_X", "x")
    source: dict[Any, Any] = {
        "n": 5,
        "b": True,
        "none": None,
        1: "${PGM_X}",
        "list": ["${PGM_X}", 3, {"inner": "${PGM_X}"}, [{"deep": "${PGM_X}"}]],
    }
    assert resolve_env_vars(source) == {
        "n": 5,
        "b": True,
        "none": None,
        1: "x",
        "list": ["x", 3, {"inner": "x"}, [{"deep": "x"}]],
    }
    assert source["list"][0] == "${PGM_X}"  # input untouched


def test_unset_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGM_UNSET", raising=False)
    with pytest.raises(EnvInterpolationError) as info:
        cs(tmp_path, "host: '${PGM_UNSET}'\n")
    assert str(info.value) == (
        f"{tmp_path / 'config.yaml'}: connection_settings.host: environment variable "
        "'PGM_UNSET' is not set and no default was provided (referenced by config key "
        "'connection_settings.host') (line 2, column 3)"
    )
    assert info.value.key_path == ("connection_settings", "host")
    assert isinstance(info.value, ValueError)
    assert pgmonkey.EnvInterpolationError is EnvInterpolationError


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("${PGM_X", "unterminated '${' in config key 'connection_settings.host'"),
        ("${PGM_X:-abc", "unterminated '${PGM_X:-' in config key"),
        ("${PGM_X-d}", "invalid reference in config key 'connection_settings.host'"),
        ("${1X}", "invalid reference"),
        ("${}", "invalid reference"),
    ],
)
def test_malformed_references(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(
        EnvInterpolationError, match=message.replace("$", r"\$").replace("{", r"\{")
    ):
        load_config({"connection_settings": {"host": value}}, resolve_env=True)


@pytest.mark.parametrize("key", ["password", "sslkey", "sslcert", "sslrootcert", "sslpassword"])
def test_sensitive_keys_refuse_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    monkeypatch.setenv("PGM_SET", "set-value")
    with pytest.raises(EnvInterpolationError) as info:
        cs(tmp_path, f"{key}: '${{PGM_SET:-default-secret}}'\n")
    message = str(info.value)
    assert (
        f"default values are not allowed for sensitive key 'connection_settings.{key}'" in message
    )
    assert "PGM_SET" in message
    assert "default-secret" not in message
    assert "set-value" not in message
    assert cs(tmp_path, f"{key}: '${{PGM_SET:-d}}'\n", allow_sensitive_defaults=True) == {
        key: "set-value"
    }


def test_sensitive_substrings_in_other_sections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGM_UNSET", raising=False)
    with pytest.raises(
        EnvInterpolationError, match=r"sensitive key 'sync_settings\.myapp\.api_token'"
    ):
        load_config(
            {"connection_settings": {}, "sync_settings": {"myapp.api_token": "${PGM_UNSET:-x}"}},
            resolve_env=True,
        )
    with pytest.raises(EnvInterpolationError, match=r"sensitive key 'password\[0\]'"):
        resolve_env_vars({"password": ["${PGM_UNSET:-x}"]})


def test_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGM_PW", "pw from env")
    assert cs(tmp_path, "password:\n  from_env: PGM_PW\n") == {"password": "pw from env"}
    monkeypatch.delenv("PGM_PW")
    with pytest.raises(EnvInterpolationError) as info:
        cs(tmp_path, "password:\n  from_env: PGM_PW\n")
    assert str(info.value).endswith(
        "environment variable 'PGM_PW' is not set (referenced by config key "
        "'connection_settings.password' via from_env) (line 2, column 3)"
    )


@pytest.mark.parametrize("target", [123, "", ["a"], {"a": "b"}, None])
def test_from_env_needs_a_name(target: Any) -> None:
    with pytest.raises(
        EnvInterpolationError, match=r"from_env in config key .* must be a non-empty"
    ):
        load_config({"connection_settings": {"password": {"from_env": target}}}, resolve_env=True)


def test_from_file(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_bytes(b"  s3cret with spaces \r\n\n")
    assert cs(tmp_path, f"password:\n  from_file: '{secret}'\n") == {
        "password": "  s3cret with spaces "
    }


def test_from_file_errors(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(EnvInterpolationError) as info:
        cs(tmp_path, f"password:\n  from_file: '{missing}'\n")
    assert str(info.value).endswith(
        f"secret file '{missing}' not found (referenced by config key "
        "'connection_settings.password' via from_file) (line 2, column 3)"
    )
    with pytest.raises(EnvInterpolationError, match="is a directory"):
        cs(tmp_path, f"password:\n  from_file: '{tmp_path}'\n")
    binary = tmp_path / "bin"
    binary.write_bytes(b"\xff\xfe\xfa")
    with pytest.raises(EnvInterpolationError, match="is not UTF-8 text"):
        cs(tmp_path, f"password:\n  from_file: '{binary}'\n")


def test_dict_with_other_keys_is_ordinary_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGM_X", "x")
    assert resolve_env_vars({"a": {"from_env": "PGM_X", "other": 1}}) == {
        "a": {"from_env": "PGM_X", "other": 1}
    }


def test_structured_reference_without_resolve_env_is_kept_then_refused(tmp_path: Path) -> None:
    """pgmonkey 3.4 kept the mapping (``load_config`` returned it); connecting is refused."""
    from pgmonkey.config import check_config
    from pgmonkey.connections import connect

    path = tmp_path / "config.yaml"
    path.write_text("connection_settings:\n  password:\n    from_env: PGM_PW\n")
    cfg = load_config(path)
    assert cfg["connection_settings"] == {"password": {"from_env": "PGM_PW"}}
    [hint] = check_config(path).hints
    assert str(hint) == (
        f"{path}: connection_settings.password (line 2): is a from_env reference, which is only "
        "resolved with resolve_env=True (CLI: --resolve-env); it is kept as written, and "
        "connecting with it unresolved is refused"
    )
    with pytest.raises(ConfigValidationError) as info:
        connect(cfg)
    assert info.value.key_path == ("connection_settings", "password")
    assert "password: a from_env reference is only resolved when" in str(info.value)


def test_errors_are_collected_by_find_problems(monkeypatch: pytest.MonkeyPatch) -> None:
    from pgmonkey.config import find_problems

    monkeypatch.delenv("PGM_A", raising=False)
    monkeypatch.delenv("PGM_B", raising=False)
    problems = find_problems(
        {"connection_settings": {"host": "${PGM_A}", "user": "${PGM_B}", "port": "x"}},
        resolve_env=True,
    )
    assert [type(p).__name__ for p in problems] == [
        "EnvInterpolationError",
        "EnvInterpolationError",
        "ConfigValidationError",
    ]


def test_interpolated_values_are_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGM_PORT", "not-a-port-value")
    with pytest.raises(ConfigValidationError) as info:
        load_config({"connection_settings": {"port": "${PGM_PORT}"}}, resolve_env=True)
    assert "not-a-port-value" not in str(info.value)


def test_compat_import_path(monkeypatch: pytest.MonkeyPatch) -> None:
    from pgmonkey.common.utils.envutils import EnvInterpolationError as Compat
    from pgmonkey.common.utils.envutils import resolve_env_vars as compat_resolve

    monkeypatch.setenv("PGM_X", "x")
    assert Compat is EnvInterpolationError
    assert compat_resolve({"a": "${PGM_X}"}) == {"a": "x"}
