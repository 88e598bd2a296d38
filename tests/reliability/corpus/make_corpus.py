"""Write the hostile CSV files of ``csv/`` and ``names/`` (run once; the files are committed).

``python -m tests.reliability.corpus.make_corpus`` rewrites them; their expected outcomes are
in each folder's ``expected.yaml``, checked by ``tests/reliability/test_corpus_import.py``.
"""

# ruff: noqa: RUF001 (Cyrillic, Greek and Turkish test text is meant)

from __future__ import annotations

import codecs
from pathlib import Path

HERE = Path(__file__).parent

SAMPLE = 1 << 16  # pgimport's detection sample
RUSSIAN = (
    "имя,город,примечание\nИван Петров,Москва,Оплата получена\n"
    "Пётр Смирнов,Санкт-Петербург,Доставка задерживается\n"
    "Анна Кузнецова,Новосибирск,Перезвонить завтра утром\n"
    "Ольга Попова,Екатеринбург,Заказ отменён клиентом\n"
    "Сергей Васильев,Казань,Скидка для постоянного клиента\n"
)
JAPANESE = (
    "名前,都市,備考\n田中太郎,東京,支払い済み\n鈴木花子,大阪,配送が遅れています\n"
    "佐藤一郎,名古屋,明日の朝に電話してください\n高橋美咲,札幌,お客様によるキャンセル\n"
    "伊藤健太,福岡,常連のお客様への割引\n渡辺直子,京都,請求書を郵送しました\n"
)
TEXT = "id,name\n1,café\n2,naïve — “q”\n3,Zoë\n"


def _padding(rows: int) -> bytes:
    return b"".join(b"%d,plain ascii row\n" % i for i in range(rows))


CSV: dict[str, bytes] = {
    "utf8.csv": TEXT.encode(),
    "utf8_bom.csv": codecs.BOM_UTF8 + TEXT.encode(),
    "utf16le_bom.csv": codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"),
    "utf16be_bom.csv": codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
    "utf16le_no_bom.csv": TEXT.encode("utf-16-le"),
    "utf32_bom.csv": TEXT.encode("utf-32"),
    "bom_only.csv": codecs.BOM_UTF8,
    "empty.csv": b"",
    "damaged_utf8.csv": TEXT.encode().replace(b"Zo\xc3\xab", b"Zo\xff"),
    "damaged_utf8_after_sample.csv": b"id,v\n" + _padding(4000) + b"4000,caf\xe9\n",
    "utf8_cut_at_end.csv": b"id,v\n1,caf\xc3",
    "ascii_with_ff_fe.csv": b"a,b\n1,x\n2,\xff\xfeplain\n",
    "nul_byte.csv": b"id,v\n1,a\x00b\n",
    "nul_after_sample.csv": b"id,v\n" + _padding(4000) + b"4000,a\x00b\n",
    "utf16_lone_surrogate.csv": "id\n1\n".encode("utf-16") + b"\x00\xd8\n\x00",
    "cp1252_western.csv": "id,name\n1,Renée\n2,José\n3,€ “q”\n".encode("cp1252"),
    "cp1251_russian.csv": RUSSIAN.encode("cp1251"),
    "shift_jis_japanese.csv": JAPANESE.encode("shift_jis"),
    "cp1252_rows_in_cp1251_file.csv": "François,Besançon\n".encode("cp1252")
    + RUSSIAN.encode("cp1251"),
    "crlf.csv": b"id,v\r\n1,a\r\n2,b\r\n",
    "cr_only.csv": b"id,v\r1,a\r2,b\r",
    "mixed_line_endings.csv": b"id,v\r\n1,a\n2,b\r\n",
    "blank_line.csv": b"id,v\n1,a\n\n2,b\n",
    "no_final_newline.csv": b"id,v\n1,a\n2,b",
    "unbalanced_quote.csv": b'id,v\n1,"open\n2,b\n',
    "quote_inside_field.csv": b'id,v\n1,a"b\n',
    "quoted_newlines.csv": b'id,v\n1,"line one\nline two"\n2,"x,""y"""\n',
    "end_of_data_marker.csv": b"v\na\n\\.\nb\n",
    "ragged_rows.csv": b"id,v\n1,a\n2,b,extra\n",
    "short_row.csv": b"id,v\n1,a\n2\n",
    "huge_field.csv": b"id,v\n1," + b"x" * (2 * SAMPLE) + b"\n2,b\n",
    "huge_quoted_field.csv": b'id,v\n1,"' + b"a,\n" * (SAMPLE // 2) + b'"\n2,b\n',
    "header_collisions.csv": b"a b,A_B,,Name,name,a-b\n1,2,3,4,5,6\n",
    "headerless_all_text.csv": b"alice,london\nbob,paris\n",
    "header_only.csv": b"name,city\n",
    "headerless_numbers.csv": b"1,2\n3,4\n",
    "too_many_columns.csv": (
        ",".join(f"c{i}" for i in range(1700)) + "\n" + ",".join("1" * 1700) + "\n"
    ).encode(),
    "terminal_escapes.csv": b"id,v\n1,\x1b[31mred\x1b[0m\n2,\x07bell\n",
    "semicolon_decimal_comma.csv": b"name;amount\nx;1,5\ny;2,25\n",
}

NAMES: dict[str, bytes] = {
    "quotes.csv": b'"a""b","c\'d",e\n1,2,3\n',
    "dots.csv": b"a.b,.c,d.\n1,2,3\n",
    "reserved.csv": b"select,from,where,user,table\n1,2,3,4,5\n",
    "unicode.csv": "Größe,名前,Ñandú,emoji 😀,İstanbul\n1,2,3,4,5\n".encode(),
    "long.csv": (("x" * 70 + "a,") + ("x" * 70 + "b,") + ("é" * 40) + "\n1,2,3\n").encode(),
    "injection.csv": b'"a""); DROP TABLE canary; --",b\n1,2\n',
    "nul_in_header.csv": b"a\x00b,c\n1,2\n",
    "empty_names.csv": b",,x\n1,2,3\n",
    "digits_first.csv": b"1st,2nd,3rd\nx,y,z\n",
    "only_symbols.csv": b"$,%,&&\n1,2,3\n",
    # plain files: the hostile part is the --table name in expected.yaml
    "table_too_long.csv": b"a,n\nx,1\n",
    "table_with_nul.csv": b"a,n\nx,1\n",
    "schema_missing.csv": b"a,n\nx,1\n",
    "three_parts.csv": b"a,n\nx,1\n",
    "blank_table.csv": b"a,n\nx,1\n",
}


def main() -> None:
    """Write every file."""
    for folder, files in (("csv", CSV), ("names", NAMES)):
        for name, data in files.items():
            (HERE / folder / name).write_bytes(data)


if __name__ == "__main__":
    main()
