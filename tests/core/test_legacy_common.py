"""The ``pgmonkey.common`` import paths of pgmonkey 3.x/4.x: same objects, same behaviour."""

from __future__ import annotations

from pathlib import Path

import pytest

import pgmonkey
from pgmonkey.common.exceptions import ConfigFileCreatedError
from pgmonkey.common.utils import configutils, envutils, redaction
from pgmonkey.errors import PgMonkeyError


def test_same_objects_as_the_new_paths() -> None:
    assert configutils.load_config is pgmonkey.load_config
    assert envutils.EnvInterpolationError is pgmonkey.EnvInterpolationError
    assert redaction.redact_config is pgmonkey.redact_config


def test_normalize_config_unwraps_the_legacy_key_with_the_old_warning() -> None:
    inner = {"connection_settings": {"host": "db"}}
    with pytest.warns(DeprecationWarning, match="top-level 'postgresql:' key") as caught:
        assert configutils.normalize_config({"postgresql": inner}) is inner
    assert caught[0].filename == __file__  # points at the caller, as 3.x's stacklevel did


def test_normalize_config_leaves_a_current_config_alone() -> None:
    current = {"connection_settings": {"host": "db"}, "postgresql": "not a wrapper"}
    assert configutils.normalize_config(current) is current


def test_load_config_through_the_old_path_reads_a_wrapped_file(tmp_path: Path) -> None:
    path = tmp_path / "old.yaml"
    path.write_text("postgresql:\n  connection_settings:\n    host: db\n    port: 5433\n")
    with pytest.warns(DeprecationWarning, match="top-level 'postgresql:' key"):
        cfg = configutils.load_config(path)
    assert cfg["connection_settings"] == {"host": "db", "port": 5433}


def test_config_file_created_error_is_a_pgmonkey_error() -> None:
    with pytest.raises(ConfigFileCreatedError):
        raise ConfigFileCreatedError("written")
    assert issubclass(ConfigFileCreatedError, PgMonkeyError)
