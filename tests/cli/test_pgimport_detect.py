"""Unit tests of detection, names, type inference and the COPY byte stream (no server)."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from pgmonkey_cli._transfer._badbytes import first_bad_byte
from pgmonkey_cli._transfer._detect import detect_dialect
from pgmonkey_cli._transfer._detect_encoding import (
    LEGACY_CONFIDENCE,
    EncodingGuess,
    detect_encoding,
)
from pgmonkey_cli._transfer._errors import ImportDataError, TransferUsageError
from pgmonkey_cli._transfer._names import (
    default_export_file,
    normalise_column_names,
    parse_table_name,
)
from pgmonkey_cli._transfer._stream import CopySource, record_start_line
from pgmonkey_cli._transfer._types import infer_column_types
from tests.reliability.corpus.make_corpus import RUSSIAN

WESTERN = "name,city\nRenée,Zürich\nJosé,Córdoba\nFrançois,Besançon\n" * 20


def _detect(data: bytes) -> EncodingGuess:
    return detect_encoding(data, complete=True, source="f.csv")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (WESTERN.encode("utf-8"), "utf-8"),
        (b"plain,ascii\n1,2\n", "utf-8"),
        (codecs.BOM_UTF8 + WESTERN.encode("utf-8"), "utf-8-sig"),
        (WESTERN.encode("utf-16"), "utf-16"),
        (WESTERN.encode("utf-16-le"), "utf-16-le"),
        (WESTERN.encode("utf-32"), "utf-32"),
        (RUSSIAN.encode("cp1251"), "cp1251"),
    ],
)
def test_detect_encoding(data: bytes, expected: str) -> None:
    assert _detect(data).encoding == expected


def test_legacy_guess_needs_the_measured_confidence() -> None:
    guess = _detect(RUSSIAN.encode("cp1251"))
    assert guess.method == "chardet"
    assert guess.confidence >= LEGACY_CONFIDENCE
    # Western code pages never reach it (chardet scores by the density of non-ASCII letters)
    with pytest.raises(TransferUsageError, match=r"--encoding \(candidates: cp1252"):
        _detect(WESTERN.encode("cp1252"))


def test_issue_example_is_damaged_utf8_not_cp1251() -> None:
    data = "id,name\n1,café\n2,naïve — “q”\n".encode() + b"3,bad\xff byte\n4,Zo\xc3\xab\n"
    with pytest.raises(ImportDataError, match=r"damaged UTF-8: line 4, byte offset 42 \(ff\)"):
        _detect(data)


def test_stray_bytes_in_ascii_are_refused() -> None:
    with pytest.raises(TransferUsageError, match=r"line 3, byte offset 10 \(ff fe\)|line 3"):
        _detect(b"a,b\n1,x\n2,\xff\xfeplain\n")


def test_nul_bytes_are_refused() -> None:
    with pytest.raises(ImportDataError, match=r"line 2, byte offset 6 \(00\): a NUL byte"):
        _detect(b"a,b\n1,\x00\n")


def test_mixed_encodings_are_refused_even_when_chardet_is_confident() -> None:
    data = "François,Besançon\n".encode("cp1252") + RUSSIAN.encode("cp1251") * 3
    with pytest.raises(TransferUsageError, match="mixing alphabets"):
        _detect(data)


def test_utf8_cut_mid_character_is_still_utf8() -> None:
    data = ("é" * 100).encode("utf-8")[:-1]
    assert detect_encoding(data, complete=False, source="f").encoding == "utf-8"


@pytest.mark.parametrize(
    ("data", "encoding", "where"),
    [
        (b"a\nb\nc\xe9d\n", "utf-8", (3, 5)),
        (b"a\r\nb\rc\xe9d\n", "utf-8", (3, 6)),
        ("a\nb\n".encode("utf-16") + b"\x00\xd8", "utf-16", (3, 10)),
        (b"ab\x81", "cp1252", (1, 2)),
    ],
)
def test_first_bad_byte(data: bytes, encoding: str, where: tuple[int, int]) -> None:
    bad = first_bad_byte(data, encoding, final=True)
    assert bad is not None
    assert (bad.line, bad.offset) == where


@pytest.mark.parametrize(
    ("text", "delimiter", "quote", "header"),
    [
        ("a,b,c\n1,2,3\n4,5,6\n", ",", '"', True),
        ("a;b\n1,5;2,5\n3,5;4\n", ";", '"', True),
        ("a\tb\n1\t2\n", "\t", '"', True),
        ("a|b\n1|2\n", "|", '"', True),
        ('name,addr\nBob,"1 Main St, Town"\n', ",", '"', None),
        ("name,born\nBob,2001-02-03\n", ",", '"', True),
        ("name,ok\nBob,true\n", ",", '"', True),
        ("x,y\n'a, b',c\n'd',e\n", ",", "'", None),  # all text: no evidence
        ("1,2\n3,4\n", ",", '"', False),
        ("word\nalpha\nbeta, gamma\n", ";", '"', None),  # a comma would split a row
        ("2024-01-01,x\n2024-01-02,y\n", ",", '"', False),
    ],
)
def test_detect_dialect(text: str, delimiter: str, quote: str, header: bool | None) -> None:
    dialect = detect_dialect(text, complete=True)
    assert (dialect.delimiter, dialect.quote, dialect.header) == (delimiter, quote, header)


@pytest.mark.parametrize(
    "text",
    [
        "id,name,email\n1,Ada,a@x\n2,Grace,g@x,extra\n3,Alan,t@x\n",  # one ragged row
        "id,name,email\n1,Ada,a@x,1\n2,Grace,g@x,2\n",  # every row ragged
        "id,name\n1,a\n2\n3\n4\n5,e\n",  # mostly short rows
    ],
)
def test_ragged_rows_keep_the_header_delimiter(text: str) -> None:
    # A delimiter that does not occur in the header is never picked: the ragged rows must
    # fail on import with their line number rather than be imported as one column.
    assert detect_dialect(text, complete=True).delimiter == ","


def test_single_column_with_commas_keeps_one_column() -> None:
    text = "sentence\nhello, world\nplain\nmore, commas, here\nnone\nnone again\n"
    assert detect_dialect(text, complete=True).delimiter != ","


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("people", (None, "people")),
        ("public.people", ("public", "people")),
        ('"my.schema"."Odd""Name"', ("my.schema", 'Odd"Name')),
        ("People", (None, "People")),
        ('s."t.u"', ("s", "t.u")),
        ("x'); DROP TABLE y; --", (None, "x'); DROP TABLE y; --")),
    ],
)
def test_parse_table_name(text: str, expected: tuple[str | None, str]) -> None:
    assert parse_table_name(text) == expected


@pytest.mark.parametrize("text", ["", "a.b.c", ".t", "s.", '"open', '"a"b', "x" * 64, "a\x00b"])
def test_parse_table_name_rejects(text: str) -> None:
    with pytest.raises(TransferUsageError):
        parse_table_name(text)


def test_normalise_column_names() -> None:
    raw = ["Amount Paid", "amount_paid", "café", "1st", "", "  ", "a-b", "A" * 80]
    names = normalise_column_names(raw)
    assert names[:7] == [
        "amount_paid", "amount_paid_2", "café", "col_1st", "column_5", "column_6", "a_b",
    ]  # fmt: skip
    assert len(names[7].encode()) == 63
    assert len(set(names)) == len(names)


def test_default_export_file_is_injective() -> None:
    names = [
        ("public", "people"), ("sales", "people"), ("public", "sales.people"),
        ("public", "a/b"), ("public", "a%2Fb"), ("x.y", "z"), ("x", "y.z"),
    ]  # fmt: skip
    files = [default_export_file(s, t) for s, t in names]
    assert len(set(files)) == len(files)
    assert files[0] == Path("people.csv")
    assert files[1] == Path("sales.people.csv")
    assert all("/" not in f.name and f.parent == Path(".") for f in files)


def test_infer_column_types() -> None:
    records = [
        ["1", "3000000000", "1.50", "t", "2024-01-01", "2024-01-01 10:00:00",
         "2024-01-01 10:00:00+00", "007"],
        ["", "1", "2", "f", "2024-12-31", "2024-01-01 10:00:00.5",
         "2024-01-01 10:00:00+05:30", "1"],
    ]  # fmt: skip
    assert infer_column_types(records, 9) == [
        "integer", "bigint", "numeric", "boolean", "date", "timestamp", "timestamptz", "text",
        "text",
    ]  # fmt: skip
    assert infer_column_types([["2024-02-30"], ["1e5"]], 1) == ["text"]


@pytest.mark.parametrize(
    "value",
    [
        "TRUE", "true", "-0", "-0.00", "2024-01-01T10:00", "2024-01-01 10:00",
        "2024-01-01 24:00:00", "2024-01-01 10:00:60", "2024-01-01 10:00:00.50", "+1", "01",
        "1." , ".5", "1e5", "9" * 131073,
    ],
)  # fmt: skip
def test_values_that_would_not_come_back_as_written_stay_text(value: str) -> None:
    assert infer_column_types([[value]], 1) == ["text"]


def test_very_long_numbers_are_numeric_without_crashing() -> None:
    # Python's int() refuses more than 4300 digits: inference must never call it on them
    assert infer_column_types([["9" * 5000], ["-" + "1" * 20]], 1) == ["numeric"]


def _stream(tmp_path: Path, data: bytes, chunk: int, encoding: str = "utf-8") -> bytes:
    path = tmp_path / "d.csv"
    path.write_bytes(data)
    return b"".join(CopySource(path, encoding=encoding, quote='"', chunk_size=chunk))


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 1 << 20])
def test_end_of_data_lookalikes_are_quoted(tmp_path: Path, chunk: int) -> None:
    data = b'\\.\na\n\\.\r\n"x\n\\.\ny"\n\\.,b\nc\\.\n\\.'
    expected = b'"\\."\na\n"\\."\r\n"x\n\\.\ny"\n\\.,b\nc\\.\n\\.'
    assert _stream(tmp_path, data, chunk) == expected


@pytest.mark.parametrize("chunk", [1, 7, 1 << 20])
def test_utf8_bom_dropped_and_utf16_transcoded(tmp_path: Path, chunk: int) -> None:
    assert _stream(tmp_path, codecs.BOM_UTF8 + b"a\n\xc3\xa9\n", chunk) == b"a\n\xc3\xa9\n"
    data = "a,b\né,漢\n".encode("utf-16")
    assert _stream(tmp_path, data, chunk, "utf-16") == "a,b\né,漢\n".encode()


def test_record_start_line(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text('h\n"a\nb\nc"\nd\n"e', encoding="utf-8")
    assert [record_start_line(path, encoding="utf-8", quote='"', line=n) for n in range(1, 8)] == [
        1, 2, 2, 2, 5, 6, 6,
    ]  # fmt: skip
