"""Parquet files (the Hugging Face Hub's format, pandas' to_parquet): read wherever a CSV is."""

import json
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tfxfer.data.image_files import holds_images, load_image_list
from tfxfer.data.labeled import load_labeled_text
from tfxfer.data.records import read_values
from tfxfer.data.text import TextCorpus
from tfxfer.errors import DataError


def hf_parquet(path, columns, class_labels=()):
    """A Parquet file as `datasets` writes it: its features in the schema's metadata."""
    table = pa.table(columns)
    features = {c: ({"names": list(class_labels), "_type": "ClassLabel"} if c == "label" and class_labels
                    else {"dtype": "string", "_type": "Value"}) for c in columns}
    pq.write_table(table.replace_schema_metadata({b"huggingface": json.dumps({"info": {"features": features}})}), path)
    return path


def test_a_hugging_face_parquet_reads_with_its_class_names(tmp_path):
    path = hf_parquet(tmp_path / "train-00000-of-00001.parquet",
                      {"text": ["a fine film", "a dull film", "", "fine acting"], "label": [1, 0, 1, 1]},
                      class_labels=["neg", "pos"])
    data = load_labeled_text(path, skip_bad_rows=True)
    assert data.items == ["a fine film", "a dull film", "fine acting"] and data.labels == ["pos", "neg", "pos"]
    assert data.skipped == [{"line": 4, "reason": "empty item"}]  # the line a CSV of it would have
    assert data.notes == [("integer classes read as the names the file's Hugging Face features give them "
                           "(label: neg, pos)")]
    # pandas' to_parquet: no features, the labels as they are; a pool's column; a corpus.
    pq.write_table(pa.table({"review": ["great", "awful", "fine"], "stars": [5, 1, 4]}), tmp_path / "df.parquet")
    assert load_labeled_text(tmp_path / "df.parquet", columns=("review", "stars")).labels == ["5", "1", "4"]
    assert read_values(tmp_path / "df.parquet", "review") == ["great", "awful", "fine"]
    assert list(TextCorpus([tmp_path / "df.parquet"])) == ["great", "awful", "fine"]


def test_parquet_image_lists_and_what_cannot_be_read(tmp_path):
    (tmp_path / "a.png").write_bytes(b"\x89PNG")
    pq.write_table(pa.table({"path": ["a.png", "a.png"], "label": ["x", "y"]}), tmp_path / "list.parquet")
    assert holds_images(tmp_path / "list.parquet")
    assert load_image_list(tmp_path / "list.parquet").items == [str(tmp_path / "a.png")] * 2
    images = pa.table({"image": [{"bytes": b"\x89PNG", "path": None}], "label": [0]})
    pq.write_table(images, tmp_path / "beans.parquet")
    with pytest.raises(DataError, match=r"holds its 'image' as encoded bytes \(a Hugging Face Image column\); "
                                        r"tfxfer reads image files. Save them first"):
        load_image_list(tmp_path / "beans.parquet")
    (tmp_path / "bad.parquet").write_text("text,label\na,b\n")
    with pytest.raises(DataError, match="cannot be read as a Parquet file"):
        load_labeled_text(tmp_path / "bad.parquet")


def test_without_the_optional_readers_the_error_names_the_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)  # `import` fails, as where it is not installed
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    for name, package in (("a.parquet", "pyarrow"), ("a.xlsx", "openpyxl")):
        (tmp_path / name).write_bytes(b"PK\x03\x04")
        with pytest.raises(DataError, match=f"needs {package}: pip install {package}, or save "):
            load_labeled_text(tmp_path / name)


def test_readers_raise_only_their_own_errors_on_odd_cells(tmp_path):
    # Cells of every type a workbook or a Parquet file holds, in every column: rows are read or skipped,
    # or the file refused with a one-line Error; never a traceback.
    import datetime
    import random

    import openpyxl

    from tfxfer.data.image_files import load_image_list
    from tfxfer.data.unlabeled import load_unlabeled
    from tfxfer.errors import TfxferError

    rng = random.Random(0)
    values = [None, "", " ", "pos", "neg", "a fine film", 0, 1, 1.0, 2.5, True, False, "=1+1", "x" * 500,
              datetime.datetime(2026, 1, 2, 3, 4), datetime.date(2026, 1, 2), "a.jpg", "\u2028", "é"]
    headers = ["text", "label", "path", "x", "", "1"]
    for i in range(60):
        width = rng.randint(1, 4)
        header = [rng.choice(headers) for _ in range(width)]
        rows = [[rng.choice(values) for _ in range(width)] for _ in range(rng.randint(0, 6))]
        book = openpyxl.Workbook()
        for row in [header, *rows]:
            book.active.append(row)
        book.save(tmp_path / f"w{i}.xlsx")
        names = [f"{h or 'c'}{j}" if header.count(h) > 1 or not h else h for j, h in enumerate(header)]
        columns = {n: [str(r[j]) if r[j] is not None else None for r in rows] for j, n in enumerate(names)}
        pq.write_table(pa.table(columns or {"text": []}), tmp_path / f"p{i}.parquet")
        for path in (tmp_path / f"w{i}.xlsx", tmp_path / f"p{i}.parquet"):
            for read in (lambda p: load_labeled_text(p, skip_bad_rows=True), read_values,
                         lambda p: list(TextCorpus([p])), lambda p: load_image_list(p, skip_bad_rows=True),
                         lambda p: load_unlabeled(p, True, 10), holds_images):
                try:
                    read(path)
                except TfxferError:
                    pass
