"""Tables and corpora shared compressed (`.csv.gz`, `.json.gz`, `.txt.bz2`) read as the plain files
do: the format is the suffix before the compression's."""

import bz2
import gzip
import json
import lzma

import pytest

from tests.conftest import cli_error
from tfxfer.data.compressed import format_suffix
from tfxfer.data.labeled import load_labeled_text
from tfxfer.data.text import TextCorpus
from tfxfer.data.unlabeled import load_unlabeled
from tfxfer.errors import DataError

REVIEWS = [{"reviewerID": f"A{i}", "reviewText": f"review number {i}, it was {'good' if i % 2 else 'bad'}",
            "overall": 5.0 if i % 2 else 1.0} for i in range(6)]


def test_the_format_is_the_suffix_before_the_compression():
    assert [format_suffix(name) for name in ("Books_5.json.gz", "a.CSV.BZ2", "notes.txt.gz", "v1.2.tsv", "raw.xz",
                                             "book.xlsx.gz", "README")] == [
        ".json", ".csv", ".gz", ".tsv", ".xz", ".gz", ""]


def test_compressed_tables_read_as_the_plain_ones(tmp_path):
    # Amazon's reviews: JSON Lines under .json.gz; Kaggle's Amazon sentiment set: fastText lines in .txt.bz2.
    (tmp_path / "Books_5.json.gz").write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in REVIEWS).encode()))
    (tmp_path / "reviews.csv.xz").write_bytes(lzma.compress(
        ("reviewText,overall\n" + "".join(f'"{r["reviewText"]}",{r["overall"]:g}\n' for r in REVIEWS)).encode()))
    (tmp_path / "train.ft.txt.bz2").write_bytes(bz2.compress(
        "".join(f"__label__{r['overall']:g} {r['reviewText']}\n" for r in REVIEWS).encode()))
    expected = [("review number 0, it was bad", "1"), ("review number 1, it was good", "5")]
    for name in ("Books_5.json.gz", "reviews.csv.xz", "train.ft.txt.bz2"):
        assert list(zip(*load_labeled_text(tmp_path / name)))[:2] == expected, name
    # As a corpus and a pool: the text column, not the file's raw lines (braces, keys and quotes).
    texts = [r["reviewText"] for r in REVIEWS]
    assert list(TextCorpus([tmp_path / "Books_5.json.gz"])) == texts
    assert list(TextCorpus([tmp_path / "reviews.csv.xz"])) == texts
    assert sorted(load_unlabeled(tmp_path / "reviews.csv.xz", images=False, limit=100)[0]) == sorted(texts)


def test_a_damaged_compressed_table_is_named_in_one_line(tmp_path):
    whole = gzip.compress(("text,label\n" + "".join(f"text {i},{i % 2}\n" for i in range(2000))).encode())
    (tmp_path / "cut.csv.gz").write_bytes(whole[:len(whole) // 2])  # a download cut short
    (tmp_path / "plain.csv.gz").write_text("text,label\na,b\n")  # named .gz, not compressed
    with pytest.raises(DataError, match=r"Cannot read '.*cut.csv.gz': Compressed file ended .* It may be truncated"):
        load_labeled_text(tmp_path / "cut.csv.gz")
    for name in ("cut.csv.gz", "plain.csv.gz"):  # not click's "Aborted!" on an EOFError, nor a traceback
        assert f"Error: Cannot read '{tmp_path / name}'" in cli_error(["inspect-data", tmp_path / name])
