"""pgmonkey.config: reading files, the schema, YAML 1.1 surprises and unknown keys."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pgmonkey
from pgmonkey.config import (
    UnknownConfigKeyWarning,
    find_problems,
    load_config,
)
from pgmonkey.errors import (
    ConfigError,
    ConfigFileError,
    ConfigSyntaxError,
    ConfigValidationError,
    PgMonkeyError,
)

SECTIONS = {
    "connection_type",
    "connection_settings",
    "pool_settings",
    "async_pool_settings",
    "sync_settings",
    "async_settings",
}


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def settings(tmp_path: Path, body: str) -> dict[str, Any]:
    """Load a file with ``body`` indented under ``connection_settings``."""
    text = "connection_settings:\n" + textwrap.indent(textwrap.dedent(body), "  ")
    result: dict[str, Any] = load_config(write(tmp_path, text))["connection_settings"]
    return result


# -- files -------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigFileError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: configuration file not found"
    assert isinstance(info.value, ValueError)
    assert info.value.source == str(path)


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match="is a directory, not a configuration file"):
        load_config(tmp_path)


def test_unreadable_path(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x")
    with pytest.raises(ConfigFileError, match="cannot be read: Not a directory"):
        load_config(tmp_path / "plain" / "config.yaml")


UNPRIVILEGED_UID = 65534  # "nobody" on Debian and most other systems


@contextlib.contextmanager
def _unprivileged() -> Iterator[None]:
    """Act as an unprivileged user for file access, when running as root (as CI does).

    Only the effective user id changes, so root's real id can take it back afterwards.
    """
    if os.geteuid() != 0:
        yield
        return
    os.seteuid(UNPRIVILEGED_UID)
    try:
        yield
    finally:
        os.seteuid(0)


def test_permission_denied() -> None:
    # A folder every user may enter (pytest's tmp_path is root's own, mode 0700), holding a
    # file nobody may read: the error must be about the file, not the way to it.
    folder = Path(tempfile.mkdtemp(prefix="pgmonkey-perm-"))
    try:
        folder.chmod(0o755)
        path = write(folder, "connection_settings: {}\n")
        load_config(path)  # readable first: every module the loader uses is imported
        path.chmod(0)
        with _unprivileged(), pytest.raises(ConfigFileError, match="permission denied"):
            load_config(path)
    finally:
        shutil.rmtree(folder)


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigFileError, match="configuration file is empty"):
        load_config(write(tmp_path, text))


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"connection_settings:\n  application_name: caf\xe9\n")
    with pytest.raises(ConfigFileError, match=r"is not UTF-8 text \(undecodable byte at offset"):
        load_config(path)


def test_utf8_bom_and_utf16(tmp_path: Path) -> None:
    text = "connection_settings:\n  application_name: café\n"
    (tmp_path / "bom.yaml").write_bytes(b"\xef\xbb\xbf" + text.encode())
    (tmp_path / "u16.yaml").write_bytes(text.encode("utf-16"))
    for name in ("bom.yaml", "u16.yaml"):
        assert load_config(tmp_path / name)["connection_settings"] == {"application_name": "café"}


def test_bad_source_type() -> None:
    with pytest.raises(ConfigFileError, match="expected a configuration file path or a dict"):
        load_config(42)  # type: ignore[arg-type]


def test_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        connection_settings:
          host: localhost
           port: 5432
        """,
    )
    with pytest.raises(ConfigSyntaxError) as info:
        load_config(path)
    err = info.value
    assert (err.line, err.column) == (3, 8)
    assert str(err).startswith(f"{path}: line 3, column 8: invalid YAML: ")
    assert "mapping values are not allowed" in str(err)


def test_syntax_error_never_shows_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "connection_settings:\n  password: 'hunter2-secret\n")
    with pytest.raises(ConfigSyntaxError) as info:
        load_config(path)
    assert "hunter2" not in str(info.value)
    assert "hunter2" not in repr(info.value)


def test_several_documents(tmp_path: Path) -> None:
    path = write(tmp_path, "connection_settings: {}\n---\nconnection_settings: {}\n")
    with pytest.raises(ConfigSyntaxError, match="expected a single document"):
        load_config(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n- b\n", "the configuration must be a mapping of sections (found a list)"),
        ("just text\n", "the configuration must be a mapping of sections (found text)"),
        ("pool_settings: {}\n", "the required section 'connection_settings' is missing"),
        ("connection_settings: [a]\n", "must be a mapping of settings (found a list)"),
        ("connection_settings: host\n", "must be a mapping of settings (found text)"),
    ],
)
def test_bad_structure(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(
        ConfigValidationError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        load_config(write(tmp_path, text))


def test_missing_connection_settings_in_dict() -> None:
    with pytest.raises(ConfigValidationError) as info:
        load_config({})
    assert info.value.key_path == ("connection_settings",)
    assert info.value.source is None


def test_empty_sections_are_empty_dicts(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        connection_settings:
        sync_settings:
          # statement_timeout: '1'
        """,
    )
    cfg = load_config(path)
    assert cfg == {
        "connection_type": "normal",
        "connection_settings": {},
        "pool_settings": {},
        "async_pool_settings": {},
        "sync_settings": {},
        "async_settings": {},
    }


def test_result_is_new_and_input_untouched() -> None:
    source = {"connection_settings": {"port": "5432", "sslcert": ""}, "sync_settings": None}
    before = repr(source)
    cfg = load_config(source)
    assert repr(source) == before
    cfg["connection_settings"]["port"] = 1
    assert load_config(source)["connection_settings"]["port"] == 5432


def test_load_config_is_idempotent(tmp_path: Path) -> None:
    cfg = load_config({"connection_settings": {"port": "5432", "autocommit": "on"}})
    assert load_config(cfg) == cfg


# -- normalisation -------------------------------------------------------------------------


def test_full_normalisation(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        connection_type: async_pool
        connection_settings:
          user: app
          password: 'p'
          host: 'db1,db2'
          port: '5432,5433'
          dbname: app
          sslmode: verify-full
          sslcert: ''
          sslkey:
          connect_timeout: '10'
          keepalives: 1
          keepalives_idle: '60'
          keepalives_interval: 15
          keepalives_count: '5'
          autocommit: true
          options: '-c search_path=app'
          target_session_attrs: read-write
        pool_settings:
          min_size: '5'
          max_size: '20'
          timeout: '2.5'
          max_idle: 300
          max_lifetime: '3600'
          check_on_checkout: 'yes'
          max_waiting: 0
          reconnect_timeout: 0
          num_workers: '2'
          name: web
        async_pool_settings:
          min_size: 1
        sync_settings:
          statement_timeout: 30000
          jit: off
          work_mem: 256MB
          search_path: ''
        async_settings:
          lock_timeout: '10s'
        """,
    )
    cfg = load_config(path)
    assert set(cfg) == SECTIONS
    assert cfg["connection_type"] == "async_pool"
    assert cfg["connection_settings"] == {
        "user": "app",
        "password": "p",
        "host": "db1,db2",
        "port": "5432,5433",
        "dbname": "app",
        "sslmode": "verify-full",
        "connect_timeout": 10,
        "keepalives": 1,
        "keepalives_idle": 60,
        "keepalives_interval": 15,
        "keepalives_count": 5,
        "autocommit": True,
        "options": "-c search_path=app",
        "target_session_attrs": "read-write",
    }
    pool = cfg["pool_settings"]
    assert pool == {
        "min_size": 5,
        "max_size": 20,
        "timeout": 2.5,
        "max_idle": 300.0,
        "max_lifetime": 3600.0,
        "check_on_checkout": True,
        "max_waiting": 0,
        "reconnect_timeout": 0.0,
        "num_workers": 2,
        "name": "web",
    }
    assert [type(pool[k]) for k in ("min_size", "timeout", "check_on_checkout")] == [
        int,
        float,
        bool,
    ]
    assert cfg["async_pool_settings"] == {"min_size": 1}
    assert cfg["sync_settings"] == {
        "statement_timeout": "30000",
        "jit": "off",
        "work_mem": "256MB",
        "search_path": "",
    }
    assert cfg["async_settings"] == {"lock_timeout": "10s"}


def test_dict_source_typed_values() -> None:
    cfg = load_config(
        {
            "connection_settings": {"port": 5432.0, "autocommit": 0, "application_name": 7},
            "pool_settings": {"timeout": 3, "check_on_checkout": False},
            "sync_settings": {"jit": False, "statement_timeout": 1000, "x.y": True},
        }
    )
    assert cfg["connection_settings"] == {
        "port": 5432,
        "autocommit": False,
        "application_name": "7",
    }
    assert cfg["pool_settings"] == {"timeout": 3.0, "check_on_checkout": False}
    assert cfg["sync_settings"] == {"jit": "off", "statement_timeout": "1000", "x.y": "on"}


def test_every_libpq_keyword_is_accepted() -> None:
    import psycopg

    keywords = [o.keyword.decode() for o in psycopg.pq.Conninfo.get_defaults()]
    numeric = {"port", "connect_timeout", "tcp_user_timeout"} | {
        k for k in keywords if k.startswith("keepalives")
    }
    source = {k: ("1" if k in numeric else "x") for k in keywords if k != "sslmode"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cfg = load_config({"connection_settings": source}, strict=True)
    assert set(cfg["connection_settings"]) == set(source)


def test_min_size_compared_as_numbers(tmp_path: Path) -> None:
    cfg = load_config(
        {"connection_settings": {}, "pool_settings": {"min_size": "5", "max_size": "20"}}
    )
    assert cfg["pool_settings"] == {"min_size": 5, "max_size": 20}
    with pytest.raises(ConfigValidationError) as info:
        load_config(
            {"connection_settings": {}, "async_pool_settings": {"min_size": 10, "max_size": "5"}}
        )
    assert str(info.value) == (
        "async_pool_settings.min_size: min_size (10) cannot be greater than max_size (5)"
    )


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("connection_settings", "port", "0", "a port must be between 1 and 65535"),
        ("connection_settings", "port", 70000, "a port must be between 1 and 65535"),
        ("connection_settings", "port", "5432,abc", "expected a whole number"),
        ("connection_settings", "port", True, "expected a whole number, found a boolean"),
        ("connection_settings", "port", [5432], "expected a whole number, found a list"),
        ("connection_settings", "connect_timeout", "-1", "must not be negative"),
        ("connection_settings", "connect_timeout", "ten", "expected a whole number"),
        ("connection_settings", "connect_timeout", 2.5, "expected a whole number"),
        ("connection_settings", "sslmode", "verify_full", "did you mean 'verify-full'"),
        ("connection_settings", "autocommit", "maybe", "expected true or false"),
        ("connection_settings", "user", True, "expected text, found a boolean"),
        ("connection_settings", "host", {"a": 1}, "expected text, found a mapping"),
        ("pool_settings", "min_size", -1, "must not be negative"),
        ("pool_settings", "max_size", 0, "must be at least 1"),
        ("pool_settings", "timeout", 0, "must be greater than 0"),
        ("pool_settings", "timeout", "nan", "expected a number"),
        ("pool_settings", "timeout", float("inf"), "must be a finite number"),
        ("pool_settings", "check_on_checkout", 2, "expected true or false"),
        ("sync_settings", "statement_timeout", [1], "expected text, found a list"),
        ("sync_settings", "bad name!", "1", "is not a valid PostgreSQL setting name"),
    ],
)
def test_invalid_values(section: str, key: str, value: Any, message: str) -> None:
    cfg: dict[str, Any] = {"connection_settings": {}, section: {key: value}}
    with pytest.raises(ConfigValidationError, match=message) as info:
        load_config(cfg)
    assert info.value.key_path == (section, key)


def test_connection_type_enumerated(tmp_path: Path) -> None:
    path = write(tmp_path, "connection_type: Pool\nconnection_settings: {}\n")
    with pytest.raises(ConfigValidationError) as info:
        load_config(path)
    assert str(info.value) == (
        f"{path}: connection_type: connection_type must be one of normal, pool, async, "
        "async_pool; did you mean 'pool'? (found 'Pool') (line 1, column 1)"
    )


def test_password_never_echoed_in_errors() -> None:
    with pytest.raises(ConfigValidationError) as info:
        load_config({"connection_settings": {"password": ["hunter2-list"]}})
    assert "hunter2" not in str(info.value)
    assert "found a list" in str(info.value)


# -- YAML 1.1 surprises ---------------------------------------------------------------------


def test_yaml11_values_keep_their_text(tmp_path: Path) -> None:
    cs = settings(
        tmp_path,
        """\
        password: 0123
        user: off
        dbname: yes
        application_name: 1.10
        options: 1:30
        sslpassword: 0x1F
        passfile: 2001-12-14
        service: 1_000
        host: .inf
        fallback_application_name: ~
        """,
    )
    assert cs == {
        "password": "0123",
        "user": "off",
        "dbname": "yes",
        "application_name": "1.10",
        "options": "1:30",
        "sslpassword": "0x1F",
        "passfile": "2001-12-14",
        "service": "1_000",
        "host": ".inf",
    }


@pytest.mark.parametrize("word", ["off", "no", "n", "false", "True", "On", "NO", "0123", "1e3"])
def test_plain_scalars_in_text_keys_are_verbatim(tmp_path: Path, word: str) -> None:
    assert settings(tmp_path, f"password: {word}\n") == {"password": word}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("05432", "leading zero is ambiguous"),
        ("0o5432", "expected a whole number written in decimal digits"),
        ("0x1538", "expected a whole number written in decimal digits"),
        ("1:30", "expected a whole number written in decimal digits"),
        ("5_432", "expected a whole number written in decimal digits"),
    ],
)
def test_yaml11_numbers_are_refused(tmp_path: Path, value: str, message: str) -> None:
    path = write(tmp_path, f"connection_settings:\n  port: {value}\n")
    with pytest.raises(ConfigValidationError, match=message) as info:
        load_config(path)
    assert info.value.key_path == ("connection_settings", "port")
    assert "(line 2, column 3)" in str(info.value)


@pytest.mark.parametrize("value", ["1:30", "030", "0x10", "1_0"])
def test_yaml11_floats_are_refused(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, f"connection_settings: {{}}\npool_settings:\n  timeout: {value}\n")
    with pytest.raises(ConfigValidationError, match=r"pool_settings\.timeout"):
        load_config(path)


@pytest.mark.parametrize(
    ("word", "expected"),
    [("yes", True), ("on", True), ("true", True), ("off", False), ("no", False), ("False", False)],
)
def test_booleans_for_boolean_keys(tmp_path: Path, word: str, expected: bool) -> None:
    assert settings(tmp_path, f"autocommit: {word}\n") == {"autocommit": expected}


def test_gucs_are_verbatim(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "connection_settings: {}\nsync_settings:\n  jit: off\n  x.y: 0123\n  z.t: 1:30\n",
    )
    assert load_config(path)["sync_settings"] == {"jit": "off", "x.y": "0123", "z.t": "1:30"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("connection_settings:\n  port: !!python/object:os.system x\n", "unsupported YAML tag"),
        ("connection_settings: !!set {a: null}\n", "unsupported YAML tag"),
        ("connection_settings:\n  ? [a, b]\n  : x\n", "keys must be plain text"),
        ("connection_settings:\n  user: a\n  user: b\n", "duplicate key 'user'"),
        ("a: &x [*x]\nconnection_settings: {}\n", "a cycle"),
        ("connection_settings:\n  <<: 3\n", "'<<' must merge a mapping"),
    ],
)
def test_yaml_features_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigValidationError, match=message):
        load_config(write(tmp_path, text))


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 8):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    path = write(tmp_path, "\n".join(lines) + "\nconnection_settings: {}\n")
    with pytest.raises(ConfigValidationError, match="too many values"):
        load_config(path)


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "connection_settings: {}\nx: " + "[" * 200 + "]" * 200 + "\n")
    with pytest.raises(ConfigError, match="nested"):
        load_config(path)


def test_anchors_and_merge_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        connection_settings: {host: h}
        pool_settings: &pool
          min_size: 2
          max_size: 4
        async_pool_settings:
          <<: *pool
          max_size: 8
        """,
    )
    cfg = load_config(path)
    assert cfg["pool_settings"] == {"min_size": 2, "max_size": 4}
    assert cfg["async_pool_settings"] == {"min_size": 2, "max_size": 8}


# -- unknown keys --------------------------------------------------------------------------


def test_unknown_keys_warn_and_are_dropped(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        connection_settings:
          host: h
          pasword: secret-value-1
        pool_settings:
          max_sise: 4
        sync_setting: {}
        """,
    )
    with pytest.warns(UnknownConfigKeyWarning) as record:
        cfg = load_config(path)
    messages = sorted(str(w.message) for w in record)
    assert messages == sorted(
        [
            f"{path}: connection_settings.pasword (line 3, column 3): unknown key 'pasword' in "
            "section 'connection_settings' is ignored and never sent to the server; "
            "did you mean 'password'?",
            f"{path}: pool_settings.max_sise (line 5, column 3): unknown key 'max_sise' in "
            "section 'pool_settings' is ignored and never sent to the server; "
            "did you mean 'max_size'?",
            f"{path}: sync_setting (line 6, column 1): unknown key 'sync_setting' at the top "
            "level is ignored and never sent to the server; did you mean 'sync_settings'?",
        ]
    )
    assert all(w.filename == __file__ for w in record)
    assert cfg["connection_settings"] == {"host": "h"}
    assert cfg["pool_settings"] == {}
    assert "secret-value-1" not in repr(cfg)


def test_unknown_key_aliases() -> None:
    with pytest.warns(UnknownConfigKeyWarning, match="did you mean 'dbname'"):
        load_config({"connection_settings": {"database": "x"}})


def test_unknown_non_string_key() -> None:
    with pytest.warns(UnknownConfigKeyWarning, match="unknown key '5'"):
        cfg = load_config({"connection_settings": {5: "x"}})
    assert cfg["connection_settings"] == {}


def test_strict_turns_unknown_keys_into_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "connection_settings:\n  hots: h\n")
    with pytest.raises(ConfigValidationError) as info:
        load_config(path, strict=True)
    assert info.value.key_path == ("connection_settings", "hots")
    assert "did you mean 'host'?" in str(info.value)


def test_find_problems_lists_everything(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        connection_type: fast
        connection_settings:
          port: 05432
          hots: h
        pool_settings:
          min_size: 9
          max_size: 3
        """,
    )
    problems = find_problems(path)
    assert [p.key_path for p in problems] == [
        ("connection_type",),
        ("connection_settings", "port"),
        ("connection_settings", "hots"),
        ("pool_settings", "min_size"),
    ]
    assert all(isinstance(p, ConfigValidationError) for p in problems)
    with (
        pytest.warns(UnknownConfigKeyWarning),
        pytest.raises(ConfigValidationError, match=r"\(and 2 more problems;"),
    ):
        load_config(path)


def test_find_problems_file_errors(tmp_path: Path) -> None:
    [problem] = find_problems(tmp_path / "missing.yaml")
    assert isinstance(problem, ConfigFileError)
    assert find_problems({"connection_settings": {"host": "h"}}) == []


# -- legacy wrapper ------------------------------------------------------------------------


def test_legacy_postgresql_wrapper(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        postgresql:
          connection_type: pool
          connection_settings:
            port: '5433'
        """,
    )
    with pytest.warns(DeprecationWarning, match="'postgresql:' key .* is deprecated") as record:
        cfg = load_config(path)
    assert record[0].filename == __file__
    assert cfg["connection_type"] == "pool"
    assert cfg["connection_settings"] == {"port": 5433}


def test_legacy_wrapper_errors_carry_full_path(tmp_path: Path) -> None:
    path = write(tmp_path, "postgresql:\n  connection_settings:\n    port: 0x1\n")
    with (
        pytest.warns(DeprecationWarning, match="postgresql"),
        pytest.raises(ConfigValidationError) as info,
    ):
        load_config(path)
    assert info.value.key_path == ("postgresql", "connection_settings", "port")
    assert "(line 3, column 5)" in str(info.value)


def test_public_imports() -> None:
    from pgmonkey.common.utils.redaction import REDACTED, redact_config

    assert pgmonkey.load_config is load_config
    assert pgmonkey.redact_config is redact_config
    assert REDACTED == "***REDACTED***"
    assert issubclass(pgmonkey.EnvInterpolationError, PgMonkeyError)


def test_blank_placeholders_are_dropped_but_blank_gucs_kept() -> None:
    cfg = load_config(
        {
            "connection_settings": {
                "host": "",
                "port": "",
                "connect_timeout": "",
                "autocommit": "",
            },
            "pool_settings": {"timeout": "", "min_size": ""},
            "sync_settings": {"search_path": ""},
        }
    )
    assert cfg["connection_settings"] == {}
    assert cfg["pool_settings"] == {}
    assert cfg["sync_settings"] == {"search_path": ""}


def test_loading_common_keys_does_not_import_psycopg(tmp_path: Path) -> None:
    # Start-up cost: common libpq keywords are answered from a static baseline; psycopg
    # (and its libpq keyword list) is only loaded for a key outside it.
    import subprocess
    import sys

    path = write(
        tmp_path,
        """
        connection_settings:
          host: localhost
          port: 5432
          dbname: app
          user: app
          sslmode: prefer
          application_name: demo
        """,
    )
    code = (
        "import sys\n"
        "from pgmonkey.config import load_config\n"
        f"load_config({str(path)!r})\n"
        "print('psycopg' in sys.modules, 'psycopg_pool' in sys.modules)\n"
        "load_config({'connection_settings': {'host': 'h', 'sslsni': '1'}})\n"
        "print('psycopg' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False", "True"]
