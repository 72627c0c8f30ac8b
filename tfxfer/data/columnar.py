"""Parquet and Arrow files (Hugging Face datasets, pandas, Spark): a table's rows as the records of a delimited file.

The Hugging Face Hub serves every data set as Parquet, and `datasets` and
pandas write it (`to_parquet`). Its rows go through the same reader as a
CSV's (`tfxfer.data.table`), the column names as the header. A `ClassLabel`
column stores integers and keeps the class names in the file's metadata:
they are read as those names ("neg", "pos"), as `datasets` shows them.
An `Image` column stores encoded images: each is written once to a file in
the cache (`unpacked_folder`) and read as its path, so images in Parquet go
wherever listed image files go (features and their cache, reports, `suggest`).
The Arrow files `datasets`' `save_to_disk` writes are read the same way.
pyarrow reads the file; like pandas it is optional (`pip install pyarrow`).
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import io
import itertools
import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from tfxfer.cache_dir import default_cache_dir
from tfxfer.atomic import write_atomic
from tfxfer.data.names import TEXT_COLUMNS, find_column
from tfxfer.data.workbook import cell_text
from tfxfer.errors import DataError

# Parquet, and Arrow: the files `datasets`' `save_to_disk` writes (`data-00000-of-00001.arrow`).
PARQUET_SUFFIXES = (".parquet", ".arrow")
# Where `datasets` keeps a file's features (JSON) in its Parquet schema metadata.
HF_METADATA_KEY = b"huggingface"
# Rows read at a time from a Parquet corpus (a few MB of text), and from a table (an image data set's
# rows hold their images: 1,024 photos, 100 MB or so).
PARQUET_BATCH_ROWS = 8192
PARQUET_TABLE_ROWS = 1024
# Suffixes of the image formats Pillow names in encoded bytes; others keep the suffix of the name stored beside them.
FORMAT_SUFFIXES = {"JPEG": ".jpg", "PNG": ".png", "GIF": ".gif", "BMP": ".bmp", "WEBP": ".webp", "TIFF": ".tif"}


def class_names(metadata: dict | None) -> dict[str, list[str]]:
    """Column -> class names of each `ClassLabel` column a Hugging Face file's metadata declares."""
    try:
        features = json.loads((metadata or {})[HF_METADATA_KEY])["info"]["features"]
    except (KeyError, TypeError, ValueError):
        return {}
    return {column: [str(n) for n in feature["names"]] for column, feature in features.items()
            if isinstance(feature, dict) and feature.get("_type") == "ClassLabel"
            and isinstance(feature.get("names"), list)}


def unpacked_folder(path: Path) -> Path:
    """Where a Parquet file's encoded images are written: one folder per file name, size and time, in
    the cache (`default_cache_dir()/images`), so a file changed in place is unpacked anew."""
    st = path.stat()
    key = hashlib.sha256(f"{path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()[:12]
    return default_cache_dir() / "images" / f"{path.stem}-{key}"


def unpack_image(value: dict, folder: Path, index: int) -> str:
    """The file holding one `datasets` Image cell (`{"bytes", "path"}`): written to `folder` as
    `<index>-<stored name>` unless there already; the stored path where it has no bytes."""
    data, name = value.get("bytes"), value.get("path")
    if not data:  # `datasets` stores local files' paths alone
        return cell_text(name)
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            found = image.format
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        found = None  # left to the pipeline, which names images it cannot decode
    stem = re.sub(r"[^\w.-]+", "_", Path(name).stem)[:60] if name else ""
    suffix = FORMAT_SUFFIXES.get(found) or (Path(name).suffix.lower() if name else "") or ".bin"
    file = folder / f"{index:06d}{'-' + stem if stem else ''}{suffix}"
    if not (file.is_file() and file.stat().st_size == len(data)):
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(file, lambda tmp: tmp.write_bytes(data))
    return str(file)


def _cell(value, names: list[str] | None) -> str:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if names is not None and isinstance(value, int) and 0 <= value < len(names):
        return names[value]
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return cell_text(value)


class _ArrowFile:
    """An Arrow file (IPC stream, as `datasets` writes, or file format) with `pyarrow.parquet.ParquetFile`'s
    `schema_arrow` and `iter_batches`, so that one reader serves both."""

    def __init__(self, path: Path):
        import pyarrow as pa

        self._pa, self._path = pa, path
        self.schema_arrow = self._open().schema

    def _open(self):
        source = self._pa.memory_map(str(self._path))  # mapped: an image data set is paged in, not read
        try:
            return self._pa.ipc.open_stream(source)
        except self._pa.ArrowInvalid:
            return self._pa.ipc.open_file(source)

    def iter_batches(self, batch_size: int, columns: Sequence[str] | None = None):
        reader = self._open()
        batches = (reader.get_batch(i) for i in range(reader.num_record_batches)) \
            if isinstance(reader, self._pa.ipc.RecordBatchFileReader) else reader
        for batch in batches:
            batch = batch.select(columns) if columns else batch
            for start in range(0, batch.num_rows, batch_size):
                yield batch.slice(start, batch_size)


@contextlib.contextmanager
def _reading(path: Path):
    """`open_table(path)` for the block: a `pyarrow.parquet.ParquetFile`, or an `_ArrowFile` for a `.arrow`
    file; its errors (opening `path`, or any batch of it) made a `DataError` with the fix; a missing
    pyarrow too."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(f"Reading {str(path)!r} needs pyarrow: pip install pyarrow, or save it as CSV or JSON Lines "
                        "(df.to_csv('train.csv', index=False); ds.to_json('train.jsonl')).") from None

    def open_table(table_path: Path):
        return _ArrowFile(table_path) if table_path.suffix.lower() == ".arrow" else pq.ParquetFile(table_path)

    try:
        yield open_table
    except OSError as e:  # pyarrow's ArrowIOError is one, and ArrowInvalid a ValueError
        raise DataError(f"Cannot read {str(path)!r}: {e}.") from None
    except ValueError as e:
        kind = "an Arrow" if path.suffix.lower() == ".arrow" else "a Parquet"
        raise DataError(f"{str(path)!r} cannot be read as {kind} file ({e}).") from None


def iter_parquet_texts(path: str | Path, column: str | None = None, names: Sequence[str] = TEXT_COLUMNS,
                       ) -> Iterator[str]:
    """The texts of a Parquet file's text column, a batch of rows at a time: a corpus of any size
    (a Hugging Face text data set, `wikitext`, C4) is streamed, its other columns never read.

    Args:
        path: A `.parquet` file.
        column: The column to read (`--input-column`), by name or position
            (from 1). Defaults to the one `names` find.
        names: Column names to look for (`names.find_column`); a file with
            one column has its texts there. Defaults to the text column names.

    Yields:
        Each non-empty text, stripped (a list of texts, as in a column of paragraphs, one by one).

    Raises:
        DataError: pyarrow is missing, the file is no Parquet it reads, or no
            column is named as texts are; each with the fix.
    """
    path = Path(path)
    parquet, name = _text_column(path, column, names)
    with _reading(path):
        for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=[name]):
            for value in batch.column(0).to_pylist():
                for text in value if isinstance(value, list) else [value]:
                    if isinstance(text, str) and text.strip():
                        yield text.strip()


def _text_column(path: Path, column: str | None, names: Sequence[str]):
    """The opened file and the name of its text column (`iter_parquet_texts`' arguments)."""
    with _reading(path) as open_table:
        parquet = open_table(path)
    columns = parquet.schema_arrow.names
    if column and column.strip().isdigit() and int(column) - 1 in range(len(columns)):  # a position, as in a CSV
        column = columns[int(column) - 1]
    index = find_column(columns, names, words_from=2, named=column)
    if (index is None and len(columns) != 1) or (column and columns[index or 0].lower() != column.strip().lower()):
        shown = ", ".join(map(repr, columns[:12]))
        what, fix = ((f"column {column!r}", "name one of them with --input-column") if column else
                     (f"column named {', '.join(names[:3])}...", "name the one to read with --input-column"))
        raise DataError(f"{str(path)!r} has no {what} (its columns are {shown}): {fix}.")
    return parquet, columns[index or 0]


def iter_parquet_rows(path: str | Path, column: str | None = None, names: Sequence[str] = TEXT_COLUMNS,
                      ) -> Iterator[tuple[str, dict[str, str]]]:
    """Each row of a Parquet file (`iter_parquet_texts`' arguments), streamed: its text (`""` where it
    has none), and the row's other cells by column, as `read_parquet` shows them (but an image's
    stored name: no image is written)."""
    path = Path(path)
    parquet, text = _text_column(path, column, names)
    classes = class_names(parquet.schema_arrow.metadata)
    with _reading(path):
        for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
            for row in batch.to_pylist():
                value = row.get(text)
                yield (value.strip() if isinstance(value, str) else "",
                       {c: cell_text(v.get("path")) if isinstance(v, dict) and "bytes" in v
                        else _cell(v, classes.get(c)) for c, v in row.items() if c != text})


def read_parquet(path: str | Path, limit: int | None = None) -> tuple[list[tuple[int, list[str]]], str | None]:
    """A Parquet file's column names and non-blank rows.

    Args:
        path: A `.parquet` file.
        limit: Read its first `limit` rows only (a look at its start).
            Defaults to all.

    Returns:
        `(records, note)`: `(1, column names)`, then `(n, cells)` for the
        n-th line a CSV of it would have (`cells` as `workbook.cell_text`
        shows them; a `ClassLabel` column's integers as its class names; an
        `Image` column's images as the paths `unpack_image` gives); and a
        note naming such columns, else `None`.

    Raises:
        DataError: pyarrow is missing, the file is no Parquet it reads, or
            its images cannot be written to the cache; each with the fix.
    """
    path = Path(path)
    folder, images = None, collections.Counter()

    def cell(value, column: str, index: int) -> str:
        if not (isinstance(value, dict) and "bytes" in value):
            return _cell(value, names.get(column))
        images[column] += 1  # a `datasets` Image (or Audio) column
        try:
            return unpack_image(value, folder, index)
        except OSError as e:
            raise DataError(f"Cannot write the images of {str(path)!r} to {str(folder)!r}: {e.strerror or e}. Set "
                            "TFXFER_CACHE_DIR to a writable directory with room for them.") from None

    rows = []
    with _reading(path) as open_table:  # a batch of rows at a time: an image data set's bytes are never all in memory
        parquet = open_table(path)
        folder = unpacked_folder(path)
        columns = parquet.schema_arrow.names
        names = {c: n for c, n in class_names(parquet.schema_arrow.metadata).items() if c in columns}
        batches = parquet.iter_batches(batch_size=limit or PARQUET_TABLE_ROWS)
        for batch in itertools.islice(batches, 1) if limit else batches:
            for row in batch.to_pylist():
                line = len(rows) + 2  # a CSV's line: the header is line 1
                rows.append((line, [cell(row[c], c, line - 2) for c in columns]))
    notes = []
    if names:
        shown = "; ".join(f"{c}: {', '.join(n[:4])}{', ...' if len(n) > 4 else ''}" for c, n in names.items())
        notes.append(f"integer classes read as the names the file's Hugging Face features give them ({shown})")
    if images:
        shown = ", ".join(f"{n:,} of {c!r}" for c, n in images.items())
        notes.append(f"encoded images ({shown}) written once to files in {folder}, named by row (ds[i]'s i), "
                     "and read from there")
    note = "; ".join(notes) or None
    return [(1, list(columns)), *((n, cells) for n, cells in rows if any(c.strip() for c in cells))], note
