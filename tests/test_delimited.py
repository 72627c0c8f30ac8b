"""Delimited files as people save them: quoting, delimiters and encodings, every row read as written."""

import csv
import io
import time

import pytest

from tests.conftest import write_csv
from tests.test_labeled import sentences
from tfxfer.data.labeled import load_labeled_text
from tfxfer.data.table import read_table
from tfxfer.errors import DataError


def test_quoted_newlines_and_odd_characters_survive(tmp_path):
    rows = sentences(200, special=["\n", "\u2028", "\x85", "\f", "\x1e", "\r", "\r\n"])
    data = read_table(write_csv(tmp_path / "a.csv", rows))
    assert list(zip(data.items, data.labels)) == [(t.strip(), l) for t, l in rows]
    assert data.rows == 200 and not data.skipped
    assert "Every\nkeyboard" in read_table(write_csv(tmp_path / "b.csv", [("Every\nkeyboard", "a"), ("x", "b")])).items


def test_glue_tsv_keeps_quote_marks_and_every_row(tmp_path):
    rows = sentences(200)
    rows[10] = ('"unbalanced start of a review', "pos")
    rows[57] = ('"..." he said, and left', "neg")
    rows[120] = ('"fully quoted"', "pos")
    path = tmp_path / "train.tsv"
    path.write_text("sentence\tlabel\n" + "".join(f"{t}\t{l}\n" for t, l in rows), encoding="utf-8")
    data = read_table(path)
    assert list(zip(data.items, data.labels)) == rows  # nothing fused, nothing stripped
    assert any("quote marks were read as part of the texts" in n for n in data.notes)
    many = sentences(200)
    many = [('"' + t if i % 4 == 0 else t, l) for i, (t, l) in enumerate(many)]  # 50 leading quotes
    path.write_text("sentence\tlabel\n" + "".join(f"{t}\t{l}\n" for t, l in many), encoding="utf-8")
    assert list(zip(*read_table(path))) == many


def test_tsv_written_by_a_csv_quoter_is_unquoted(tmp_path):
    rows = [('He said "hi"', "pos"), ("plain", "neg"), ("tab\there", "pos")]
    data = read_table(write_csv(tmp_path / "q.tsv", rows, delimiter="\t"))
    assert list(zip(data.items, data.labels)) == rows


def test_ambiguous_quoting_is_refused_with_the_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text('text,label\nfine,pos\n"opens but,neg\nmore,pos\n"done",neg\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.csv:3: the quoting of this file is ambiguous.*Check line 3"):
        read_table(path)


def test_excel_windows_csv_is_read_in_its_encoding_and_stray_bytes_are_counted(tmp_path):
    path = tmp_path / "excel.csv"  # French Excel: semicolons, Windows-1252, CRLF
    path.write_bytes("Texte;Étiquette\r\nC'est bien, vraiment;pos\r\nTrès mauvais;neg\r\nPas mal;pos\r\n"
                     "Nul – nul;neg\r\n".encode("cp1252"))
    data = read_table(path)
    assert data.items == ["C'est bien, vraiment", "Très mauvais", "Pas mal", "Nul – nul"] and not data.invalid_utf8
    assert any(n.startswith("read as Windows-1252, not UTF-8") for n in data.notes)
    # Excel's CSV in Japan, China, Korea, Taiwan and Russia: each locale's code page, not Windows-1252.
    for encoding, name, rows in [
            ("cp932", "Shift-JIS (Windows-31J)", ["とても良い映画でした", "つまらない作品です", "最高の体験"]),
            ("gbk", "GBK (GB18030)", ["这部电影非常好看", "太无聊了", "还不错"]),
            ("cp949", "Korean (CP949)", ["정말 좋은 영화였어요", "지루했어요", "괜찮아요"]),
            ("big5", "Big5", ["這部電影非常好看", "太無聊了", "還不錯"]),
            ("cp1251", "Windows-1251", ["Очень хороший фильм", "Скучно и долго", "Неплохо"])]:
        path.write_bytes("".join(f"{text},{label}\r\n" for text, label in zip(["text", *rows], ["label", "a", "b", "a"]))
                         .encode(encoding))
        data = read_table(path)
        assert data.items == rows and any(n.startswith(f"read as {name}, not UTF-8") for n in data.notes), encoding
    path = tmp_path / "mixed.tsv"  # UTF-8 with one stray Latin-1 line: that line is counted, the rest kept
    path.write_bytes("text\tlabel\ncafé crème\tpos\n".encode() + "naïve\tneg\n".encode("latin-1") + b"plain\tpos\n")
    data = read_table(path)
    assert data.invalid_utf8 == 1 and data.items[0] == "café crème" and len(data.items) == 3
    assert any("iconv" in n for n in data.notes)


def test_the_delimiter_is_the_one_that_splits_rows_alike_where_csv_sniffer_gives_up(tmp_path):
    # Prose with commas, quotes and a quoted newline in a ';' or tab file: csv.Sniffer raises, and
    # the ',' it fell back to read the rows as broken quotes or ragged columns.
    said = ['it\'s a "great" film, isn\'t it', "the plot, sadly, goes nowhere", "i'd watch it again",
            "a mess; a long one", "what 's the point ?", "don't bother , really"]
    prose = [f"{said[i % 6]} ({i})" for i in range(12)]
    for delimiter in (";", "\t"):
        out = io.StringIO()
        writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow(["Review Text", "Sentiment"])
        writer.writerows((text + ("\nsecond line; with, both" if i == 3 else ""), "pos" if i % 2 else "neg")
                         for i, text in enumerate(prose))
        path = tmp_path / "reviews.csv"
        path.write_bytes(("\ufeff" + out.getvalue()).encode())
        data = read_table(path)
        assert len(data.items) == 12 and data.items[4] == prose[4] and data.labels[:2] == ["neg", "pos"]
        assert data.items[3] == prose[3] + "\nsecond line; with, both"
    # A ',' file whose texts hold semicolons stays a ',' file.
    (tmp_path / "c.csv").write_text("text,label\n" + "".join(f'"a; b; c, {i}",x{i % 2}\n' for i in range(6)))
    assert read_table(tmp_path / "c.csv").items[0] == "a; b; c, 0"


def test_excel_unicode_text_utf16_tables_are_read(tmp_path):
    # Excel's "Save as Unicode Text": UTF-16 with its byte-order mark, tab-separated, CRLF, under .txt.
    rows = "text\tlabel\r\nC'est très bien\tpos\r\n日本語のテキスト\tneg\r\nPas mal\tpos\r\n"
    for encoding in ("utf-16-le", "utf-16-be"):
        path = tmp_path / f"excel-{encoding}.txt"
        path.write_bytes(("\ufeff" + rows).encode(encoding))
        data = load_labeled_text(path)
        assert data.items == ["C'est très bien", "日本語のテキスト", "Pas mal"] and data.labels == ["pos", "neg", "pos"]
        assert not data.invalid_utf8 and not any("read as" in n for n in data.notes)  # no guess: the BOM says so
    # A .txt of fastText lines stays one, tabs in its texts or not.
    (tmp_path / "ft.txt").write_text("__label__pos great\tfilm\n__label__neg bad\n")
    assert load_labeled_text(tmp_path / "ft.txt").items == ["great\tfilm", "bad"]


def test_a_large_file_reads_in_linear_time(tmp_path):
    # Labels were once recounted for every row: 45k rows took minutes.
    path = tmp_path / "big.csv"
    rows = [f"sentence number {i} about {'good' if i % 2 else 'bad'} things,{'pos' if i % 2 else 'neg'}"
            for i in range(100_000)]
    path.write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    start = time.perf_counter()
    data = read_table(path)
    assert len(data.items) == 100_000 and not data.skipped
    assert time.perf_counter() - start < 10


def test_multiline_quoted_prose_with_commas_is_read(tmp_path):
    # csv.writer quotes texts with newlines; their later lines hold commas, as prose does.
    rows = [(f"Mr. Smith said , in town {i}\nafter the storm , the plan for {i} was made", "news" if i % 2 else "romance")
            for i in range(20)]
    data = read_table(write_csv(tmp_path / "prose.csv", rows))
    assert list(zip(data.items, data.labels)) == rows


def test_unclosed_quote_that_swallows_rows_is_refused(tmp_path):
    # The quote opened on line 3 closes only at '5 inch"' on line 6, fusing three rows into one.
    path = tmp_path / "swallow.csv"
    path.write_text('text,label\nfine,pos\n"opens but,neg\nmore,pos\nother,neg\nend 5 inch",neg\nlast,pos\n',
                    encoding="utf-8")
    with pytest.raises(DataError, match=r"swallow.csv:3: the quoting of this file is ambiguous"):
        read_table(path)
