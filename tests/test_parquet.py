"""Parquet files (the Hugging Face Hub's format, pandas' to_parquet): read wherever a CSV is."""

import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import COLOURS, run_cli, solid_image_bytes
from tfxfer.data.image_files import holds_images, load_image_list
from tfxfer.data.labeled import load_labeled_text
from tfxfer.data.records import read_values
from tfxfer.data.text import TextCorpus
from tfxfer.data.unlabeled import item_rows, load_unlabeled
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


def test_a_parquet_corpus_streams_its_text_column(tmp_path):
    # A Hugging Face text data set (wikitext, C4): a text column among others, in row groups.
    rows = [f"line {i} of the corpus" if i % 7 else "" for i in range(5000)]
    table = pa.table({"url": [f"https://example.com/{i}" for i in range(5000)], "text": rows,
                      "timestamp": list(range(5000))})
    pq.write_table(table, tmp_path / "c4.parquet", row_group_size=1000)
    corpus = TextCorpus([tmp_path / "c4.parquet"])
    assert list(corpus) == [r for r in rows if r] and list(corpus) == [r for r in rows if r]  # each pass alike
    # As inputs to predict: every row, those without a text as "" (predict counts them in a warning).
    read = list(item_rows(tmp_path / "c4.parquet"))
    assert len(read) == 5000 and read[7] == ("", {"url": "https://example.com/7", "timestamp": "7"})
    assert read[8] == ("line 8 of the corpus", {"url": "https://example.com/8", "timestamp": "8"})
    # A pool: a random sample, the column named or found.
    sample, total = load_unlabeled(tmp_path / "c4.parquet", images=False, limit=100)
    assert total == len([r for r in rows if r]) and len(sample) == 100 and set(sample) <= set(rows)
    for column in ("url", "1"):
        assert load_unlabeled(tmp_path / "c4.parquet", images=False, limit=10, column=column)[0][0].startswith("https:")
    with pytest.raises(DataError, match=r"c4.parquet' has no column 'body' \(its columns are 'url', 'text', "
                                        r"'timestamp'\): name one of them with --input-column"):
        load_unlabeled(tmp_path / "c4.parquet", images=False, limit=10, column="body")
    pq.write_table(pa.table({"paragraphs": [["one", "two"], ["three"]]}), tmp_path / "lists.parquet")
    assert list(TextCorpus([tmp_path / "lists.parquet"])) == ["one", "two", "three"]  # its only column
    pq.write_table(pa.table({"a": ["x"], "b": ["y"]}), tmp_path / "ab.parquet")
    with pytest.raises(DataError, match=r"ab.parquet' has no column named text, sentence, review... \(its columns "
                                        r"are 'a', 'b'\): name the one to read with --input-column"):
        list(TextCorpus([tmp_path / "ab.parquet"]))


def test_parquet_image_lists_and_what_cannot_be_read(tmp_path):
    (tmp_path / "a.png").write_bytes(b"\x89PNG")
    pq.write_table(pa.table({"path": ["a.png", "a.png"], "label": ["x", "y"]}), tmp_path / "list.parquet")
    assert holds_images(tmp_path / "list.parquet")
    assert load_image_list(tmp_path / "list.parquet").items == [str(tmp_path / "a.png")] * 2
    (tmp_path / "bad.parquet").write_text("text,label\na,b\n")
    with pytest.raises(DataError, match="cannot be read as a Parquet file"):
        load_labeled_text(tmp_path / "bad.parquet")


def test_a_hugging_face_image_parquet_fits_a_head_on_its_encoded_images(tiny_image_module, tmp_path, monkeypatch):
    from tfxfer.fitting import fit_head

    monkeypatch.setenv("TFXFER_CACHE_DIR", str(tmp_path / "cache"))
    # As `datasets` writes an Image column (beans, cats_vs_dogs): {bytes, path} structs, the path often empty.
    rows = [(c, i, "png" if i % 2 else "jpg") for c in COLOURS for i in range(4)]
    encoded = [solid_image_bytes(COLOURS[c], fmt, jitter=i) for c, i, fmt in rows]
    image = [{"bytes": b, "path": f"{c} {i}.{fmt}" if i else None} for b, (c, i, fmt) in zip(encoded, rows)]
    classes = sorted(COLOURS)
    path = hf_parquet(tmp_path / "train.parquet", {"image_file_path": [f"/gone/{c}{i}" for c, i, _ in rows],
                                                   "image": image, "label": [classes.index(c) for c, _, _ in rows]},
                      class_labels=classes)
    assert holds_images(path)
    data = load_image_list(path)
    assert data.labels == [c for c, _, _ in rows]
    assert [Path(p).read_bytes() for p in data.items] == encoded
    # Named by row and stored name, with the suffix of what the bytes hold.
    assert [Path(p).name for p in data.items[:2]] == ["000000.jpg", "000001-red_1.png"]
    assert f"; encoded images (12 of 'image') written once to files in {tmp_path}/cache/images/train-" in data.notes[-1]
    before = [Path(p).stat().st_mtime_ns for p in data.items]
    assert load_image_list(path).items == data.items  # unpacked once
    assert [Path(p).stat().st_mtime_ns for p in data.items] == before
    fitted = fit_head(tiny_image_module, path, image_size=16, cache_dir=tmp_path / "features")
    assert fitted.report["cross_validation"]["accuracy_mean"] == 1.0
    # Without bytes, `datasets` points at local files; a cache it cannot write in names the fix.
    pq.write_table(pa.table({"image": [{"bytes": None, "path": data.items[0]}], "label": ["red"]}),
                   tmp_path / "local.parquet")
    assert load_image_list(tmp_path / "local.parquet").items == [data.items[0]]


def test_a_parquet_whose_images_cannot_be_unpacked_names_the_fix(tmp_path, monkeypatch, read_only_dir):
    monkeypatch.setenv("TFXFER_CACHE_DIR", str(read_only_dir))
    pq.write_table(pa.table({"image": [{"bytes": b"\x89PNG", "path": None}], "label": ["x"]}), tmp_path / "a.parquet")
    with pytest.raises(DataError, match=r"Cannot write the images of '.*a.parquet' to '.*': .*Set TFXFER_CACHE_DIR "
                                        "to a writable directory with room for them."):
        load_image_list(tmp_path / "a.parquet")


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


def test_the_arrow_files_of_save_to_disk_read_as_parquet_does(tmp_path):
    # datasets' save_to_disk: an Arrow IPC stream per shard, the features in the schema's metadata.
    folder = tmp_path / "imdb" / "train"
    folder.mkdir(parents=True)
    features = {"text": {"dtype": "string", "_type": "Value"},
                "label": {"names": ["neg", "pos"], "_type": "ClassLabel"}}
    shards = [(["a fine film", "a dull film"], [1, 0]), (["fine acting", "", "slow"], [1, 1, 0])]
    for i, (texts, labels) in enumerate(shards):
        table = pa.table({"text": texts, "label": labels}).replace_schema_metadata(
            {b"huggingface": json.dumps({"info": {"features": features}})})
        with pa.ipc.new_stream(str(folder / f"data-0000{i}-of-00002.arrow"), table.schema) as writer:
            writer.write_table(table)
    (folder / "dataset_info.json").write_text("{}")
    with pytest.raises(DataError, match=r"save_to_disk: pass its Arrow files, '.*/train/data-\*\.arrow' \(quoted\)"):
        load_labeled_text(folder)
    result = run_cli(["inspect-data", folder / "data-*.arrow"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Read 4 examples of {folder}/data-00000-of-00002.arrow + ")
    assert "2 classes: pos 2, neg 2" in result.output and "data-00001-of-00002.arrow:3: empty item" in result.output
    assert "integer classes read as the names the file's Hugging Face features give them" in result.output
    assert list(TextCorpus([folder / "data-00001-of-00002.arrow"])) == ["fine acting", "slow"]
    # Arrow's file format too (pyarrow's, Feather v2), and a file that is neither.
    with pa.ipc.new_file(str(tmp_path / "df.arrow"), table.schema) as writer:
        writer.write_table(table)
    assert read_values(tmp_path / "df.arrow", "text") == ["fine acting", "slow"]
    (tmp_path / "bad.arrow").write_bytes(b"not arrow at all")
    with pytest.raises(DataError, match=r"'.*bad.arrow' cannot be read as an Arrow file"):
        load_labeled_text(tmp_path / "bad.arrow")
