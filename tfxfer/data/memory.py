"""Data held in memory, for the Python API: `(items, labels)` pairs, pandas DataFrames (duck-typed:
pandas is not a dependency), dataset objects (`dataset_objects`: TensorFlow's and Hugging Face's), lists and
Series, read as files are, with the same account of what is skipped."""

from __future__ import annotations

import collections
import os
from pathlib import Path
from typing import Sequence

from tfxfer.data.dataset_objects import (
    dataset_items,
    dataset_name,
    hf_dataset_columns,
    is_hf_dataset,
    is_tf_dataset,
    tf_dataset_columns,
)
from tfxfer.data.labeled_data import LabeledData
from tfxfer.data.names import (
    LABEL_COLUMNS,
    TEXT_COLUMNS,
    Columns,
    check_columns,
    find_column,
    header_row,
)
from tfxfer.data.patterns import path_exists
from tfxfer.errors import DataError


def labeled_from_memory(source, columns: Columns = None, item_columns: Sequence[str] = TEXT_COLUMNS):
    """`source` as labeled data if it is held in memory, else `None` (a file or a list of them).

    In memory: a `LabeledData`; an `(items, labels)` pair of sequences;
    a pandas DataFrame, its columns found by name as a CSV's header is; a
    `tf.data.Dataset` of `(text, label)` pairs or dicts; or a Hugging Face
    `datasets.Dataset` (`dataset_objects`).
    Rows with a missing or empty item or label are skipped with the reason.
    """
    check_columns(columns)
    if isinstance(source, LabeledData):
        return source
    if is_tf_dataset(source):
        pair = tf_dataset_columns(source, columns, item_columns)
        if pair[1] is None:
            raise DataError("The tf.data.Dataset yields inputs without labels, where labeled data goes: pass "
                            "(input, label) pairs, or give it as unlabeled=.")
        where, named = dataset_name(source), None
    elif is_hf_dataset(source):
        *pair, named = hf_dataset_columns(source, columns, item_columns)
        where = dataset_name(source)
    elif hasattr(source, "columns") and hasattr(source, "iloc"):  # a DataFrame, without importing pandas
        names = [str(c) for c in source.columns]
        named_item, named_label = columns or (None, None)
        item = find_column(names, item_columns, named=named_item)
        label = find_column(names, LABEL_COLUMNS, named=named_label, codes=True)
        if item is None or label is None or item == label:
            raise DataError(f"No {'input' if item is None else 'label'} column among the DataFrame's columns "
                            f"({', '.join(map(repr, names[:12]))}). Name them with columns=(INPUT, LABEL).")
        pair = (source.iloc[:, item].tolist(), source.iloc[:, label].tolist())
        where, named = "DataFrame", (names[item], names[label])
    elif _is_pair(source):
        pair, where, named = source, "(items, labels)", None
    else:
        _check_not_unlabeled(source)
        return None
    items, labels = pair
    if len(items) != len(labels):
        raise DataError(f"{where}: {len(items):,} items and {len(labels):,} labels; pass one label per item.")
    data = LabeledData([], [], where, rows=len(items), columns=named)
    rows = [(_cell(item), _cell(label)) for item, label in zip(items, labels)]
    counts = collections.Counter(label for _, label in rows)
    for n, (item, label) in enumerate(rows):
        if not item or not label:
            data.skipped.append({"line": f"row {n}", "reason": f"empty {'item' if not item else 'label'}"})
        elif counts[label] == 1 and header_row(item, label):
            # pandas' read_csv(header=None) on a file with a header, or a file's lines read as they are.
            data.skipped.append({"line": f"row {n}", "reason": f"({item!r}, {label!r}) looks like a file's "
                                 "header read as data (pandas: header=None?)"})
        else:
            data.items.append(item)
            data.labels.append(label)
    return data


def holds_labels(source, columns: Columns = None) -> bool:
    """Whether data held in memory comes with labels (as `labeled_from_memory` reads them): an
    `(items, labels)` pair, or a DataFrame or dataset with a column (key, part) of labels."""
    named = (columns or (None, None))[1]

    def found(names) -> bool:
        return find_column([str(n) for n in names], LABEL_COLUMNS, named=named, codes=True) is not None

    if is_tf_dataset(source):
        spec = source.element_spec
        return (isinstance(spec, tuple) and len(spec) > 1) or (isinstance(spec, dict) and found(spec))
    if is_hf_dataset(source):
        return isinstance(source.column_names, dict) or found(source.column_names)  # a DatasetDict: its error
    if hasattr(source, "columns") and hasattr(source, "iloc"):
        return found(source.columns)
    return isinstance(source, LabeledData) or _is_pair(source)


def _is_pair(source) -> bool:
    """Whether `source` is an `(items, labels)` pair of sequences."""
    return (isinstance(source, (list, tuple)) and len(source) == 2
            and all(hasattr(part, "__len__") and not isinstance(part, (str, bytes, Path)) for part in source))


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_not_unlabeled(source) -> None:
    """Raise `DataError` for texts without labels where labeled data goes (`fit_head(module, texts)`): a
    list of sentences, none of them a file, is not 200 missing files."""
    if isinstance(source, (str, bytes, Path)) or not hasattr(source, "__len__") or hasattr(source, "columns"):
        return
    entries = list(source)[:100]
    if len(entries) < 2 or not all(isinstance(e, str) for e in entries) or any(path_exists(e) for e in entries):
        return
    if sum(bool(e.split(maxsplit=1)[1:]) or not Path(e).suffix for e in entries) * 2 > len(entries):
        raise DataError(f"{len(source):,} texts without labels, where labeled data goes. Pass them with their "
                        "labels as an (items, labels) pair, e.g. fit_head(module, (texts, labels)), or as a "
                        "DataFrame; texts without labels go to unlabeled=.")


def values_from_memory(source, column: str | None = None, names: Sequence[str] = TEXT_COLUMNS) -> list[str] | None:
    """Unlabeled items held in memory (a list, array or Series; a DataFrame's `column` or text column),
    as text; `None` for a file, a folder or `nltk:NAME`."""
    if isinstance(source, (str, Path)):
        return None
    held = dataset_items(source, column, names)
    source = source if held is None else held
    if not hasattr(source, "__len__"):
        if not hasattr(source, "__iter__"):
            raise DataError(f"Inputs must be a file, folder or pattern, or a list, array or Series of texts or "
                            f"image paths. Received: {type(source).__name__} {_short(source)}.")
        source = list(source)  # a generator: read once, here
    if hasattr(source, "columns") and hasattr(source, "iloc"):  # a DataFrame
        labels = [str(c) for c in source.columns]
        index = find_column(labels, names, named=column)
        if index is None:
            raise DataError(f"No column of the DataFrame ({', '.join(map(repr, labels[:12]))}) is named as the "
                            "inputs are. Pass the column itself (df[NAME]), or name it with column=NAME.")
        source = source.iloc[:, index].tolist()
    return [v for v in map(_cell, source) if v]


def _cell(value) -> str:
    """A value held in memory as text: '' for missing ones (None, NaN); 1.0 -> '1' (labels read as floats)."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def inputs_to_score(items) -> list[str]:
    """What `predict` and `scores` take, each input kept in its place: one text or image path (a
    `str` or `Path`: one input, not its characters), or a list, tuple, array, Series or iterator of them.

    Raises:
        DataError: A DataFrame (its column is wanted), or an input that is no text or path (`None`, a number).
    """
    if isinstance(items, (str, os.PathLike)):
        return [os.fspath(items)]
    if hasattr(items, "columns"):
        raise DataError("Inputs must be texts or image paths, not a DataFrame: pass its column (df[NAME]).")
    held = dataset_items(items, None, TEXT_COLUMNS)
    items = items if held is None else held
    if not hasattr(items, "__iter__"):
        raise DataError(f"Inputs must be a text or image path, or a list, array or Series of them. Received: "
                        f"{type(items).__name__} {_short(items)}.")
    items = list(items.tolist() if hasattr(items, "tolist") else items)
    for position, value in enumerate(items):
        if not isinstance(value, (str, os.PathLike)):
            raise DataError(f"Input {position} is {_short(value)} ({type(value).__name__}), not a text or image "
                            "path. Drop it, or pass str(value).")
    return [os.fspath(value) for value in items]
