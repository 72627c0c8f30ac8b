"""Parquet files (Hugging Face datasets, pandas, Spark): a table's rows as the records of a delimited file.

The Hugging Face Hub serves every data set as Parquet, and `datasets` and
pandas write it (`to_parquet`). Its rows go through the same reader as a
CSV's (`tfxfer.data.table`), the column names as the header. A `ClassLabel`
column stores integers and keeps the class names in the file's metadata:
they are read as those names ("neg", "pos"), as `datasets` shows them.
pyarrow reads the file; like pandas it is optional (`pip install pyarrow`).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from tfxfer.data.workbook import cell_text
from tfxfer.errors import DataError

PARQUET_SUFFIXES = (".parquet",)
# Where `datasets` keeps a file's features (JSON) in its Parquet schema metadata.
HF_METADATA_KEY = b"huggingface"


def class_names(metadata: dict | None) -> dict[str, list[str]]:
    """Column -> class names of each `ClassLabel` column a Hugging Face file's metadata declares."""
    try:
        features = json.loads((metadata or {})[HF_METADATA_KEY])["info"]["features"]
    except (KeyError, TypeError, ValueError):
        return {}
    return {column: [str(n) for n in feature["names"]] for column, feature in features.items()
            if isinstance(feature, dict) and feature.get("_type") == "ClassLabel"
            and isinstance(feature.get("names"), list)}


def _cell(value, names: list[str] | None, source: str, column: str) -> str:
    if isinstance(value, dict) and "bytes" in value:  # a `datasets` Image (or Audio) column
        raise DataError(f"{source!r} holds its {column!r} as encoded bytes (a Hugging Face Image column); tfxfer "
                        "reads image files. Save them first, e.g. for i, x in enumerate(ds): "
                        f"x[{column!r}].save(f'images/{{i}}.png'), and list the paths with their labels in a CSV.")
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if names is not None and isinstance(value, int) and 0 <= value < len(names):
        return names[value]
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return cell_text(value)


def read_parquet(path: str | Path, limit: int | None = None) -> tuple[list[tuple[int, list[str]]], str | None]:
    """A Parquet file's column names and non-blank rows.

    Args:
        path: A `.parquet` file.
        limit: Read its first `limit` rows only (a look at its start).
            Defaults to all.

    Returns:
        `(records, note)`: `(1, column names)`, then `(n, cells)` for the
        n-th line a CSV of it would have (`cells` as `workbook.cell_text`
        shows them; a `ClassLabel` column's integers as its class names);
        and a note naming such columns, else `None`.

    Raises:
        DataError: pyarrow is missing, or the file is no Parquet it reads, or
            a column holds encoded images; each with the fix.
    """
    path = Path(path)
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(f"Reading {str(path)!r} needs pyarrow: pip install pyarrow, or save it as CSV or JSON Lines "
                        "(df.to_csv('train.csv', index=False); ds.to_json('train.jsonl')).") from None
    try:
        if limit is None:
            table = pq.read_table(path)
        else:
            parquet = pq.ParquetFile(path)
            table = pa.Table.from_batches(list(itertools.islice(parquet.iter_batches(batch_size=limit), 1)),
                                          schema=parquet.schema_arrow)
    except OSError as e:  # pyarrow's ArrowIOError is one, and ArrowInvalid a ValueError
        raise DataError(f"Cannot read {str(path)!r}: {e}.") from None
    except ValueError as e:
        raise DataError(f"{str(path)!r} cannot be read as a Parquet file ({e}).") from None
    columns = table.column_names
    names = {c: n for c, n in class_names(table.schema.metadata).items() if c in columns}
    rows = [(n, [_cell(row[c], names.get(c), str(path), c) for c in columns])
            for n, row in enumerate(table.to_pylist(), 2)]
    note = None
    if names:
        shown = "; ".join(f"{c}: {', '.join(n[:4])}{', ...' if len(n) > 4 else ''}" for c, n in names.items())
        note = f"integer classes read as the names the file's Hugging Face features give them ({shown})"
    return [(1, list(columns)), *((n, cells) for n, cells in rows if any(c.strip() for c in cells))], note
