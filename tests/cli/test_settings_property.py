"""The import/export settings-file loader: any file is read or refused with a clear error.

Fixed seeds (``derandomize``): the same examples every run, each test well under a minute.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pgmonkey_cli._transfer._errors import TransferUsageError
from pgmonkey_cli._transfer._settings import CsvFormat, load_format, read_settings, write_settings

TOKENS = [
    "encoding:",
    "delimiter:",
    "quote:",
    "header:",
    "null:",
    '"null":',
    "other:",
    " ",
    ": ",
    "- ",
    "\n",
    "\n  ",
    "&a ",
    "*a",
    "<<: ",
    "!!str ",
    "!!python/name:os.system ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "'",
    '"',
    "#",
    "---",
    "~",
    "yes",
    "Off",
    "0123",
    "1:30",
    "0x2C",
    ";",
    "\\t",
    "\t",
    "utf-8",
    "latin-1",
    "\x00",
    "\ufeff",
    "é",
]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("settings_property")


def _read_or_refuse(path: Path) -> None:
    try:
        fmt = load_format(path, {})
    except TransferUsageError as exc:
        message = str(exc)
    else:
        assert isinstance(fmt, CsvFormat)
        return
    assert str(path) in message


@settings(derandomize=True, max_examples=300, deadline=None)
@given(raw=st.binary(max_size=200))
def test_arbitrary_bytes(workdir: Path, raw: bytes) -> None:
    path = workdir / "bytes.pgimport.yaml"
    path.write_bytes(raw)
    _read_or_refuse(path)


@settings(derandomize=True, max_examples=400, deadline=None)
@given(tokens=st.lists(st.sampled_from(TOKENS), max_size=30))
def test_yaml_token_soup(workdir: Path, tokens: list[str]) -> None:
    path = workdir / "soup.pgimport.yaml"
    path.write_text("".join(tokens), encoding="utf-8")
    _read_or_refuse(path)


ascii_char = st.characters(min_codepoint=0x20, max_codepoint=0x7E)


@st.composite
def formats(draw: st.DrawFn) -> CsvFormat:
    delimiter = draw(ascii_char | st.just("\t"))
    quote = draw(ascii_char.filter(lambda c: c != delimiter))
    null = draw(
        st.text(st.characters(codec="utf-8", exclude_characters="\x00\r\n"), max_size=8).filter(
            lambda s: delimiter not in s and quote not in s
        )
    )
    return CsvFormat(
        encoding=draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"])),
        delimiter=delimiter,
        quote=quote,
        header=draw(st.booleans()),
        null=null,
    )


@settings(derandomize=True, max_examples=200, deadline=None)
@given(fmt=formats())
@example(fmt=CsvFormat(delimiter="\t", quote="0", header=False, null="\x85"))  # YAML's NEL
@example(fmt=CsvFormat(null="a\u2028b\u2029c"))  # YAML's line and paragraph separators
def test_round_trip_as_written_by_pgmonkey(workdir: Path, fmt: CsvFormat) -> None:
    path = workdir / "written.pgimport.yaml"
    path.unlink(missing_ok=True)
    assert write_settings(path, fmt, kind="import", data_file=workdir / "data.csv")
    assert load_format(path, {}) == fmt


@settings(derandomize=True, max_examples=200, deadline=None)
@given(fmt=formats())
def test_round_trip_through_yaml_safe_dump(workdir: Path, fmt: CsvFormat) -> None:
    path = workdir / "dumped.pgimport.yaml"
    path.write_text(yaml.safe_dump(asdict(fmt), allow_unicode=True), encoding="utf-8")
    assert read_settings(path) == asdict(fmt)
    assert load_format(path, {}) == fmt
