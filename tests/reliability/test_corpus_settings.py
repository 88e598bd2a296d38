"""The hostile import-settings corpus: every file through the loader and through pgimport.

``corpus/settings/expected.yaml`` lists each file with the message it must be refused with,
or the format it must be read as. Files that cannot live in a repository (a FIFO, a link to
``/dev/zero``, a file over the size cap, a directory) are made here at run time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from pgmonkey.config import MAX_FILE_BYTES
from pgmonkey_cli._transfer._errors import TransferUsageError
from pgmonkey_cli._transfer._settings import CsvFormat, load_format

CORPUS = Path(__file__).with_name("corpus") / "settings"
MANIFEST: list[dict[str, Any]] = yaml.safe_load(
    (CORPUS / "expected.yaml").read_text(encoding="utf-8")
)["cases"]
HANG_LIMIT = 60


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _dev_zero(path: Path) -> None:
    path.symlink_to("/dev/zero")


def _oversized(path: Path) -> None:
    path.write_bytes(b"# " + b"x" * MAX_FILE_BYTES + b"\n")


def _directory(path: Path) -> None:
    path.mkdir()


RUNTIME: dict[str, tuple[Callable[[Path], None], str]] = {
    "fifo": (_fifo, "is not a regular file (it is a FIFO (named pipe))"),
    "dev_zero": (_dev_zero, "is not a regular file (it is a character device)"),
    "oversized": (_oversized, f"the limit is {MAX_FILE_BYTES} bytes"),
    "directory": (_directory, "is a directory, not a settings file"),
}


def test_manifest_covers_the_corpus() -> None:
    listed = {case["file"] for case in MANIFEST}
    present = {p.name for p in CORPUS.iterdir() if p.name != "expected.yaml"}
    assert listed == present


@pytest.mark.parametrize("case", MANIFEST, ids=lambda c: c["file"])
def test_settings_loader(case: dict[str, Any]) -> None:
    path = CORPUS / case["file"]
    if "error" in case:
        with pytest.raises(TransferUsageError) as info:
            load_format(path, {})
        assert case["error"] in str(info.value)
        assert str(path) in str(info.value)
        assert len(str(info.value)) < 1000  # huge values are never echoed whole
        return
    fmt = load_format(path, {})
    assert fmt is not None
    for key, value in case["format"].items():
        assert getattr(fmt, key) == value, key


@pytest.mark.parametrize("kind", sorted(RUNTIME))
def test_settings_loader_non_regular(kind: str, tmp_path: Path) -> None:
    make, message = RUNTIME[kind]
    path = tmp_path / "data.pgimport.yaml"
    make(path)
    with pytest.raises(TransferUsageError) as info:
        load_format(path, {})
    assert message in str(info.value)
    assert str(path) in str(info.value)


def _pgimport(config: Path, workdir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "pgmonkey_cli", "pgimport", "--connconfig", str(config)),
            *("--import-file", str(workdir / "data.csv"), "--table", "t", "-q"),
        ],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


@pytest.mark.slow
def test_pgimport_with_every_settings_file(pg_database: dict[str, Any], tmp_path: Path) -> None:
    """Refused files: exit 2, the message and path on stderr, the table unchanged."""
    config = tmp_path / "conn.yaml"
    config.write_text(yaml.safe_dump(pg_database), encoding="utf-8")
    settings = dict(pg_database["connection_settings"])
    settings.pop("autocommit", None)
    with psycopg.connect(**settings, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (a text)")
        conn.execute("INSERT INTO t VALUES ('before')")
    cases: list[tuple[str, Path, str | None]] = []
    for case in MANIFEST:
        workdir = tmp_path / case["file"]
        workdir.mkdir()
        shutil.copyfile(CORPUS / case["file"], workdir / "data.pgimport.yaml")
        cases.append((case["file"], workdir, case.get("error")))
    for kind, (make, message) in RUNTIME.items():
        workdir = tmp_path / f"runtime-{kind}"
        workdir.mkdir()
        make(workdir / "data.pgimport.yaml")
        cases.append((kind, workdir, message))
    for _, workdir, _ in cases:
        (workdir / "data.csv").write_text("a\nimported\n", encoding="utf-8")
    accepted = 0
    for start in range(0, len(cases), 8):  # a few at a time: two cores, shared
        batch = cases[start : start + 8]
        procs = [_pgimport(config, workdir) for _, workdir, _ in batch]
        for (label, workdir, error), proc in zip(batch, procs, strict=True):
            try:
                out, err = proc.communicate(timeout=HANG_LIMIT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                raise AssertionError(f"pgimport hung on {label}") from None
            if error is None:
                assert proc.returncode == 0, (label, out, err)
                accepted += 1
                continue
            assert proc.returncode == 2, (label, out, err)
            assert error in err, (label, err)
            assert str(workdir / "data.pgimport.yaml") in err, (label, err)
            assert "Traceback" not in err
            assert len(err) < 2000, label
    with psycopg.connect(**settings, autocommit=True) as conn:
        rows = conn.execute("SELECT a, count(*) FROM t GROUP BY a ORDER BY a").fetchall()
    imported = dict(rows)
    assert imported.get("before") == 1
    # every accepted file imported the one data row (a header-less file also the "a" line)
    assert imported.get("imported") == accepted
    assert set(imported) <= {"before", "imported", "a"}


def test_csv_format_fields_are_the_allowed_keys() -> None:
    """The corpus' 'unknown setting' message lists exactly the format's fields."""
    allowed = ", ".join(sorted(f.name for f in fields(CsvFormat)))
    assert f"(allowed: {allowed})" in next(
        c["error"] for c in MANIFEST if c["file"] == "unknown_key.pgimport.yaml"
    )
