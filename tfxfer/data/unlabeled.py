"""Unlabeled examples: texts (one per line, or a CSV's text column) or images (a folder, or a CSV of paths).

Users have far more unlabeled examples than labels; a random sample of at
most `limit` is kept, drawn while streaming (reservoir sampling), so memory
is bounded whatever the size of text files and folders (a CSV is parsed whole,
for its quoting).
"""

from __future__ import annotations

import hashlib
import itertools
import random
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from tfxfer.data.columnar import PARQUET_SUFFIXES, iter_parquet_rows, iter_parquet_texts
from tfxfer.data.image_files import (
    IMAGE_SUFFIXES,
    UNDECODED_SUFFIXES,
    absent,
    listed_path,
    undecoded_note,
)
from tfxfer.data.memory import values_from_memory
from tfxfer.data.names import PATH_COLUMNS, TEXT_COLUMNS, files_under, left_out
from tfxfer.data.patterns import expand
from tfxfer.data.records import cell, is_table, read_values, value_rows
from tfxfer.data.text import TextCorpus, json_lines, jsonl_rows, jsonl_texts
from tfxfer.errors import DataError, not_found


def reservoir(items: Iterable, limit: int, seed: int) -> tuple[list, int]:
    """A uniform random sample of at most `limit` items, and how many there were."""
    rng = random.Random(seed)
    sample, seen = [], 0
    for item in items:
        seen += 1
        if len(sample) < limit:
            sample.append(item)
        else:
            j = rng.randrange(seen)
            if j < limit:
                sample[j] = item
    return sample, seen


def item_key(item: str, images: bool) -> str:
    """What identifies an example across runs: a hash of the text (composed, NFC, as the tokenizer
    reads it), or of the image file's bytes."""
    data = Path(item).read_bytes() if images else unicodedata.normalize("NFC", item).encode("utf-8")
    return hashlib.sha1(data).hexdigest()[:16]


def in_training(items: Sequence[str], training: set[str], images: bool) -> np.ndarray:
    """bool `[len(items)]`: whether each item is one of `training` (`item_key`s, as a fit report
    lists them); no item is read when `training` is empty."""
    return np.array([bool(training) and item_key(i, images) in training for i in items], bool)


def image_paths(source: Path, column: str | None = None) -> Iterable[str]:
    """Image files under a folder (recursively, hidden folders left out), or listed in a CSV/TSV
    (`column`, a path/file/image... column, or the first; paths as `listed_path` finds them)."""
    if source.is_dir():
        undecoded = []
        for path in sorted(files_under(source)):
            if path.is_file() and not left_out(path, source):
                if path.suffix.lower() in IMAGE_SUFFIXES:
                    yield str(path)
                elif path.suffix.lower() in UNDECODED_SUFFIXES:
                    undecoded.append(path)
        undecoded_note(undecoded)  # warns
        return
    for entry in read_values(source, column, PATH_COLUMNS, first_by_default=True):
        yield listed_path(entry, source)


def text_items(source, column: str | None = None) -> Iterable[str]:
    """Texts: lines of text files (folders of them, `nltk:NAME`), or the text column (key) of a Parquet
    file or JSON Lines, streamed; or another table's text column."""
    path = Path(str(source))
    if path.suffix.lower() in PARQUET_SUFFIXES and path.is_file():  # streamed: a pool may be a whole data set
        return iter_parquet_texts(path, column)
    if path.is_file() and json_lines(path):
        return (text.strip() for text in jsonl_texts(path, column) if text.strip())
    if is_table(path) and path.is_file():
        return read_values(path, column)
    return iter(TextCorpus([str(source)]))


def item_rows(path: Path, column: str | None = None, images: bool = False) -> Iterator[tuple[str, dict[str, str]]]:
    """Each row of a table of items (a pool, inputs to predict): its item, as `text_items` or
    `image_paths` reads it (`""` where the row has none), and its other cells by column name
    (`column N` without a header). Streamed where `text_items` streams (the texts of Parquet and
    JSON Lines), else read whole."""
    if not images and path.suffix.lower() in PARQUET_SUFFIXES:
        yield from iter_parquet_rows(path, column)
    elif not images and json_lines(path):
        yield from jsonl_rows(path, column)
    else:
        header, rows, index = value_rows(path, column, PATH_COLUMNS if images else TEXT_COLUMNS,
                                         first_by_default=images)
        for row in rows:
            value = cell(row, index).strip()
            item = listed_path(value, path) if images and value else value
            yield item, {name: cell(row, n) for n, name in enumerate(header) if n != index}


def _unlabeled_stream(source, images: bool, column: str | None) -> Iterable[str]:
    source_path = Path(str(source))
    if images:
        if not source_path.exists():  # a URL too: not_found says so
            raise not_found("Unlabeled images", source, "Pass a folder of images or a CSV/TSV of paths.")
        if not (source_path.is_dir() or is_table(source_path)):
            raise DataError(f"Unlabeled images {str(source)!r}: pass a folder of images or a CSV/TSV of paths.")
        return image_paths(source_path, column)
    if absent(source):
        raise not_found("Unlabeled data", source, "Pass a text file (one text per line), a folder of them, or a "
                                                  "table with a text column.")
    return text_items(source, column)


def load_unlabeled(source: str | Path, images: bool, limit: int, seed: int = 1,
                   column: str | None = None) -> tuple[list[str], int]:
    """Read unlabeled examples.

    Args:
        source: For text: text files (one text per line), directories of them,
            `nltk:NAME`, a table (its text column), or texts in memory (a list,
            a Series, a DataFrame). For images: a folder
            (searched recursively; subfolder names are ignored) or a CSV/TSV of paths.
            Or a glob pattern of such files, read one after the other.
        images: Whether the examples are images.
        limit: Keep a random sample of at most this many.
        seed: Seed of the sample.
        column: The column to read in a CSV/TSV. Defaults to the one named
            as texts (or paths) are.

    Returns:
        `(items, total)`: texts or image paths, and how many the source held.
    """
    memory = values_from_memory(source, column, PATH_COLUMNS if images else TEXT_COLUMNS)
    if memory is not None:
        if not memory:
            raise DataError("The unlabeled examples given are empty. Pass some, or drop them.")
        items, total = reservoir(memory, limit, seed)
        return (sorted(items) if images else items), total
    streams = [_unlabeled_stream(s, images, column) for s in expand(source, "Unlabeled data") or [source]]
    items, total = reservoir(itertools.chain.from_iterable(streams), limit, seed)
    if not items:
        raise DataError(f"Unlabeled data {str(source)!r} holds no {'images' if images else 'text'}. "
                        "Pass a non-empty file or folder, or drop --unlabeled.")
    return sorted(items) if images else items, total
