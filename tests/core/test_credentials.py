"""Credentials resolved per new connection: rotated secret files, providers (real server)."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from pgmonkey import PGConnectionManager
from pgmonkey.config import (
    REDACTED,
    config_digest,
    json_schema,
    load_config,
    redact_config,
    redact_text,
)
from pgmonkey.connections import (
    connect,
    connect_async,
    has_dynamic_credentials,
    open_async_pool,
    open_pool,
    resolve_credentials,
)
from pgmonkey.errors import (
    ConfigValidationError,
    CredentialProviderError,
    DatabaseConnectionError,
    EnvInterpolationError,
)
from pgmonkey.testing import PostgresServer

from .. import _rotation
from .._rotation import make_role, new_password, rotate_file, set_password


@pytest.fixture
def role(pg_server: PostgresServer) -> Iterator[tuple[str, str]]:
    password = new_password("first")
    name = make_role(pg_server, password)
    yield name, password
    _rotation.drop_role(pg_server, name)


@pytest.fixture
def rot(pg_server: PostgresServer, tmp_path: Path) -> Iterator[_rotation.SecretFileRole]:
    """A role whose password is in a secret file."""
    made = _rotation.SecretFileRole(pg_server, tmp_path, "core")
    yield made
    made.drop()


def _file_config(rot: _rotation.SecretFileRole, connection_type: str = "normal") -> dict[str, Any]:
    raw = rot.server.config(password=None, connection_type=connection_type)
    raw["connection_settings"].update(rot.settings())
    return load_config(raw, resolve_env=True)


def _whoami(conn: psycopg.Connection[Any]) -> str:
    return str(conn.execute("SELECT current_user").fetchone()[0])  # type: ignore[index]


# -- from_file ----------------------------------------------------------------------------


def test_normal_connection_rereads_a_rotated_secret_file(
    pg_server: PostgresServer, rot: _rotation.SecretFileRole
) -> None:
    name, first, secret = rot.role, rot.first, rot.secret
    cfg = _file_config(rot)
    with connect(cfg) as conn:
        assert _whoami(conn) == name
    second = new_password("second")
    set_password(pg_server, name, second)
    rotate_file(secret, second)
    with connect(cfg) as conn:  # the same configuration object, loaded before the rotation
        assert _whoami(conn) == name
    with pytest.raises(DatabaseConnectionError):
        connect({**cfg, "connection_settings": {**cfg["connection_settings"], "password": first}})


def test_secret_file_rewritten_in_place_is_reread(
    pg_server: PostgresServer, rot: _rotation.SecretFileRole
) -> None:
    name, secret = rot.role, rot.secret
    cfg = _file_config(rot)
    second = new_password("second-longer")
    set_password(pg_server, name, second)
    secret.write_text(second, encoding="utf-8")  # same inode: size and mtime change
    with connect(cfg) as conn:
        assert _whoami(conn) == name


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "is empty"),
        (b"\xff\xfe", "is not UTF-8 text"),
        (
            b"new\x00secret",
            "contains a NUL character (\\0), which cannot be sent to PostgreSQL: "
            "libpq would cut the value short there",
        ),
    ],
)
def test_rotated_file_that_became_unusable_names_file_and_key(
    rot: _rotation.SecretFileRole, content: bytes, reason: str
) -> None:
    first, secret = rot.first, rot.secret
    cfg = _file_config(rot)
    secret.write_bytes(content)
    with pytest.raises(EnvInterpolationError) as info:
        connect(cfg)
    message = str(info.value)
    assert message == (
        f"connection_settings.password: secret file '{secret}' {reason} "
        "(referenced by config key 'connection_settings.password' via from_file)"
    )
    assert first not in message


def test_rotated_file_too_large_is_refused(
    pg_server: PostgresServer, rot: _rotation.SecretFileRole
) -> None:
    secret = rot.secret
    cfg = _file_config(rot)
    secret.write_text("x" * (2 * 1024 * 1024), encoding="utf-8")
    with pytest.raises(EnvInterpolationError, match=f"secret file '{secret}' .*too large"):
        connect(cfg)


def test_pool_connections_made_after_rotation_use_the_new_file(
    pg_server: PostgresServer, rot: _rotation.SecretFileRole
) -> None:
    name, secret = rot.role, rot.secret
    cfg = _file_config(rot, "pool")
    cfg["pool_settings"] = {"min_size": 1, "max_size": 2}
    with open_pool(cfg) as pool:
        with pool.connection() as conn:
            assert _whoami(conn) == name
        second = new_password("second")
        set_password(pg_server, name, second)
        rotate_file(secret, second)
        pool.check()  # nothing wrong yet: the old connection stays (no auth after login)
        with pool.connection() as conn:
            conn.close()  # a broken connection: the pool replaces it, with the new password
        with pool.connection(timeout=20) as conn:
            assert _whoami(conn) == name
        assert pool.get_stats().get("connections_errors", 0) == 0


def test_digest_and_manager_pool_survive_a_rotation(
    pg_server: PostgresServer, role: tuple[str, str], tmp_path: Path
) -> None:
    name, first = role
    secret = tmp_path / "pw"
    secret.write_text(first, encoding="utf-8")
    raw = pg_server.config(user=name, password=None, connection_type="pool")
    raw["connection_settings"]["password"] = {"from_file": str(secret)}
    raw["pool_settings"] = {"min_size": 1, "max_size": 2}
    path = tmp_path / "db.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    before = config_digest(load_config(path, resolve_env=True))
    with PGConnectionManager() as manager:
        pool = manager.get_database_connection(str(path), resolve_env=True)
        second = new_password("second")
        set_password(pg_server, name, second)
        rotate_file(secret, second)
        assert config_digest(load_config(path, resolve_env=True)) == before
        assert manager.get_database_connection(str(path), resolve_env=True) is pool
        with pool as conn:
            assert _whoami(conn) == name


# -- credential_provider ------------------------------------------------------------------


def _provider_config(
    server: PostgresServer, role: str, provider: str, connection_type: str = "normal"
) -> dict[str, Any]:
    raw = server.config(user=role, password=None, connection_type=connection_type)
    raw["connection_settings"]["credential_provider"] = provider
    return load_config(raw)


def test_provider_is_called_for_each_connection_with_non_secret_settings(
    pg_server: PostgresServer, role: tuple[str, str]
) -> None:
    name, _ = role
    state = _rotation.use_server(pg_server)
    cfg = _provider_config(pg_server, name, "tests._rotation:stepping_password")
    for _ in range(2):
        with connect(cfg) as conn:
            assert _whoami(conn) == name
    assert len(state.issued) == 2
    assert state.issued[0] != state.issued[1]
    assert state.calls[0]["user"] == name
    assert state.calls[0]["port"] == pg_server.port
    assert "password" not in state.calls[0]
    assert "credential_provider" not in state.calls[0]


def test_async_provider_returning_parameters_for_async_types(
    pg_server: PostgresServer, role: tuple[str, str]
) -> None:
    name, _ = role
    state = _rotation.use_server(pg_server)
    cfg = _provider_config(pg_server, name, "tests._rotation:async_stepping_password")

    async def whoami(conn: psycopg.AsyncConnection[Any]) -> str:
        row = await (await conn.execute("SELECT current_user")).fetchone()
        assert row is not None
        return str(row[0])

    async def run() -> list[str]:
        users = []
        async with await connect_async(cfg) as conn:
            users.append(await whoami(conn))
        pool = await open_async_pool({**cfg, "async_pool_settings": {"min_size": 1}})
        async with pool, pool.connection() as conn:
            users.append(await whoami(conn))
        return users

    assert asyncio.run(run()) == [name, name]
    assert len(state.issued) >= 3  # connect_async, the pool's probe, the pool's connection


def test_async_provider_is_refused_for_sync_types(
    pg_server: PostgresServer, role: tuple[str, str]
) -> None:
    name, _ = role
    cfg = _provider_config(pg_server, name, "tests._rotation:async_stepping_password")
    expected = (
        "connection_settings.credential_provider: credential provider "
        "'tests._rotation:async_stepping_password' is an async function"
    )
    with pytest.raises(ConfigValidationError, match=expected):
        connect(cfg)
    with pytest.raises(ConfigValidationError, match=expected):
        open_pool(cfg, wait=False)


def boom(settings: Mapping[str, Any]) -> str:
    raise RuntimeError("token tok-SECRET-123 rejected")


def wrong_type(settings: Mapping[str, Any]) -> int:
    return 42


def bad_mapping(settings: Mapping[str, Any]) -> dict[Any, Any]:
    return {1: "x"}


def empty(settings: Mapping[str, Any]) -> str:
    return ""


@pytest.mark.parametrize(
    ("function", "message"),
    [
        (
            "boom",
            "raised RuntimeError (its message is not shown: it may quote a secret; see the "
            "exception's __cause__)",
        ),
        (
            "wrong_type",
            "returned a int; expected the password (text) or a mapping of connection parameters",
        ),
        (
            "bad_mapping",
            "returned a mapping with the key 1; expected libpq parameter names such as 'user' "
            "and 'password'",
        ),
        ("empty", "returned an empty password"),
    ],
)
def test_provider_failures_are_clear_and_quote_no_secret(
    pg_server: PostgresServer,
    role: tuple[str, str],
    caplog: pytest.LogCaptureFixture,
    function: str,
    message: str,
) -> None:
    name, _ = role
    spec = f"tests.core.test_credentials:{function}"
    cfg = _provider_config(pg_server, name, spec)
    with pytest.raises(CredentialProviderError) as info:
        connect(cfg)
    assert str(info.value) == (
        f"credential provider {spec!r} (connection_settings.credential_provider) {message}"
    )
    assert "SECRET" not in str(info.value)
    if function == "boom":
        assert isinstance(info.value.__cause__, RuntimeError)
    # In a pool the failure is logged by psycopg_pool: still no secret.
    caplog.set_level(logging.DEBUG)
    with pytest.raises(DatabaseConnectionError):
        open_pool({**cfg, "pool_settings": {"min_size": 1, "timeout": 2}}, wait=True)
    assert "SECRET" not in caplog.text


def test_provider_import_errors_name_key_and_line(tmp_path: Path) -> None:
    path = tmp_path / "db.yaml"
    path.write_text(
        "connection_settings:\n  host: db\n  credential_provider: nopkg.creds:token\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigValidationError) as info:
        load_config(path)
    assert str(info.value) == (
        f"{path}: connection_settings.credential_provider: cannot import module "
        "'nopkg.creds' for credential provider 'nopkg.creds:token': No module named 'nopkg' "
        "(line 3, column 3)"
    )
    for spec, reason in (
        ("tests._rotation:nothing_here", "module 'tests._rotation' has no attribute"),
        ("tests._rotation:ISSUED", "is a StepState, not a function"),
        ("not a function", "expected 'package.module:function'"),
    ):
        with pytest.raises(ConfigValidationError, match=reason):
            load_config({"connection_settings": {"credential_provider": spec}})


def test_provider_key_is_in_the_json_schema_and_resolution_is_idempotent() -> None:
    props = json_schema()["properties"]["connection_settings"]["properties"]
    assert "credential_provider" in props
    cfg = load_config({"connection_settings": {"credential_provider": "os:getcwd"}})
    assert redact_config(cfg)["connection_settings"]["credential_provider"] == REDACTED
    assert redact_text("failed: os:getcwd", cfg["connection_settings"]) == "failed: os:getcwd"
    params = {"host": "db", "user": "u", "password": "p"}
    assert not has_dynamic_credentials(params)
    assert resolve_credentials(params) == params


def test_no_password_in_logs_of_a_provider_pool(
    pg_server: PostgresServer, role: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    name, _ = role
    state = _rotation.use_server(pg_server)
    caplog.set_level(logging.DEBUG)
    cfg = _provider_config(pg_server, name, "tests._rotation:stepping_password", "pool")
    with open_pool({**cfg, "pool_settings": {"min_size": 2, "max_size": 2}}) as pool:
        with pool.connection() as conn:
            assert _whoami(conn) == name
    assert state.issued
    for password in state.issued:
        assert password not in caplog.text
    assert os.fspath(pg_server.logfile)  # the server log is checked by the reliability proof


def test_resolved_secret_still_dumps_copies_and_pickles_as_text(
    rot: _rotation.SecretFileRole,
) -> None:
    import copy
    import json
    import pickle

    cfg = _file_config(rot)
    password = cfg["connection_settings"]["password"]
    assert password == rot.first
    assert yaml.safe_load(yaml.safe_dump(cfg))["connection_settings"]["password"] == rot.first
    assert yaml.safe_load(yaml.dump(cfg))["connection_settings"]["password"] == rot.first
    assert json.loads(json.dumps(cfg))["connection_settings"]["password"] == rot.first
    assert copy.deepcopy(cfg)["connection_settings"]["password"] is password
    unpickled = pickle.loads(pickle.dumps(password))  # noqa: S301 (our own bytes)
    assert unpickled == rot.first
    assert type(unpickled) is str
    assert has_dynamic_credentials(cfg["connection_settings"])
