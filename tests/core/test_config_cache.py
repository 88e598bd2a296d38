"""pgmonkey.config: load_config_cached re-reads only what changed; config_digest."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pgmonkey.config import (
    LoadedConfig,
    clear_config_cache,
    config_digest,
    load_config,
    load_config_cached,
)
from pgmonkey.errors import ConfigFileError, ConfigSyntaxError, EnvInterpolationError


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    clear_config_cache()
    yield
    clear_config_cache()


def rewrite_in_place(path: Path, text: str) -> None:
    """Change the content but keep inode, size and mtime_ns: only a re-read would notice."""
    st = path.stat()
    data = text.encode()
    assert len(data) == st.st_size
    with open(path, "r+b") as fh:
        fh.write(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        st.st_ino,
        st.st_size,
        st.st_mtime_ns,
    )


def test_unchanged_file_is_not_read_again(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("connection_settings:\n  host: aaaa\n")
    first = load_config_cached(path)
    rewrite_in_place(path, "connection_settings:\n  host: bbbb\n")
    again = load_config_cached(str(path))
    assert again is first
    assert again.config["connection_settings"] == {"host": "aaaa"}
    # A new mtime makes it read the file again.
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    changed = load_config_cached(path)
    assert changed.config["connection_settings"] == {"host": "bbbb"}
    assert changed.digest != first.digest


def test_replaced_file_is_noticed(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("connection_settings:\n  host: aaaa\n")
    load_config_cached(path)
    replacement = tmp_path / "new.yaml"
    replacement.write_text("connection_settings:\n  host: cccc\n")
    st = path.stat()
    os.utime(replacement, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(replacement, path)  # same size and mtime, new inode
    assert load_config_cached(path).config["connection_settings"] == {"host": "cccc"}


def test_env_change_invalidates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("connection_settings:\n  host: '${PGM_HOST:-dflt}'\n")
    monkeypatch.setenv("PGM_HOST", "one")
    first = load_config_cached(path, resolve_env=True)
    assert first.config["connection_settings"] == {"host": "one"}
    assert load_config_cached(path, resolve_env=True) is first
    monkeypatch.setenv("PGM_HOST", "two")
    assert load_config_cached(path, resolve_env=True).config["connection_settings"] == {
        "host": "two"
    }
    monkeypatch.delenv("PGM_HOST")
    assert load_config_cached(path, resolve_env=True).config["connection_settings"] == {
        "host": "dflt"
    }
    # Without resolve_env the text is kept as written: a separate cache entry.
    assert load_config_cached(path).config["connection_settings"] == {"host": "${PGM_HOST:-dflt}"}


def test_secret_file_change_invalidates(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("first\n")
    path = tmp_path / "c.yaml"
    path.write_text(f"connection_settings:\n  password:\n    from_file: '{secret}'\n")
    first = load_config_cached(path, resolve_env=True)
    assert first.config["connection_settings"] == {"password": "first"}
    assert load_config_cached(path, resolve_env=True) is first
    secret.write_text("second-value\n")
    assert load_config_cached(path, resolve_env=True).config["connection_settings"] == {
        "password": "second-value"
    }
    secret.unlink()
    with pytest.raises(EnvInterpolationError, match="not found"):
        load_config_cached(path, resolve_env=True)


def test_errors_are_not_cached(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("connection_settings: [\n")
    with pytest.raises(ConfigSyntaxError):
        load_config_cached(path)
    path.write_text("connection_settings: {host: h}\n")
    assert load_config_cached(path).config["connection_settings"] == {"host": "h"}
    path.unlink()
    with pytest.raises(ConfigFileError, match="not found"):
        load_config_cached(path)


def test_digest_matches_dict_source(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("connection_settings:\n  port: '5432'\n  password: p\npool_settings: {}\n")
    loaded = load_config_cached(path)
    from_dict = load_config({"connection_settings": {"port": 5432, "password": "p"}})
    assert loaded.digest == config_digest(from_dict)
    assert len(loaded.digest) == 64
    assert config_digest(load_config({"connection_settings": {"password": "q"}})) != loaded.digest


def test_repr_has_no_secret(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("connection_settings:\n  password: hunter2-in-repr\n")
    loaded = load_config_cached(path)
    assert isinstance(loaded, LoadedConfig)
    assert "hunter2" not in repr(loaded)
    assert repr(loaded).startswith("LoadedConfig(path=")
