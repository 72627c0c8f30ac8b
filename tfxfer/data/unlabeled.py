"""Unlabeled examples: texts (one per line) or images (a folder, or a CSV of paths).

Users have far more unlabeled examples than labels; a random sample of at
most `limit` is kept, drawn while streaming (reservoir sampling), so memory
is bounded whatever the source's size.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import random
from pathlib import Path
from typing import Iterable

from tfxfer.data.images import IMAGE_SUFFIXES, UNDECODED_SUFFIXES, listed_path, undecoded_note
from tfxfer.data.text import TextCorpus
from tfxfer.errors import DataError

logger = logging.getLogger(__name__)


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
    """What identifies an example across runs: a hash of the text, or of the image file's bytes."""
    data = Path(item).read_bytes() if images else item.encode("utf-8")
    return hashlib.sha1(data).hexdigest()[:16]


def image_paths(source: Path) -> Iterable[str]:
    """Image files under a folder (recursively, hidden folders left out) or in a CSV/TSV's first column."""
    if source.is_dir():
        undecoded = []
        for path in sorted(source.rglob("*")):
            hidden = any(part.startswith(".") for part in path.relative_to(source).parts)
            if path.is_file() and not hidden:
                if path.suffix.lower() in IMAGE_SUFFIXES:
                    yield str(path)
                elif path.suffix.lower() in UNDECODED_SUFFIXES:
                    undecoded.append(path)
        note = undecoded_note(undecoded)
        if note:
            logger.warning(note)
        return
    with open(source, newline="", encoding="utf-8-sig") as f:
        for n, row in enumerate(csv.reader(f, delimiter="\t" if source.suffix.lower() == ".tsv" else ",")):
            if not row or not row[0].strip():
                continue
            if n == 0 and row[0].strip().lower() in ("path", "file", "filename", "image", "item"):
                continue
            yield listed_path(row[0].strip(), source)


def load_unlabeled(source: str | Path, images: bool, limit: int, seed: int = 1) -> tuple[list[str], int]:
    """Read unlabeled examples.

    Args:
        source: For text: text files (one text per line), directories of them
            or `nltk:NAME`. For images: a folder (searched recursively;
            subfolder names are ignored) or a CSV/TSV whose first column holds paths.
        images: Whether the examples are images.
        limit: Keep a random sample of at most this many.
        seed: Seed of the sample.

    Returns:
        `(items, total)`: texts or image paths, and how many the source held.
    """
    source_path = Path(str(source))
    if images:
        if not (source_path.is_dir() or source_path.suffix.lower() in (".csv", ".tsv")):
            raise DataError(f"Unlabeled images {str(source)!r}: pass a folder of images or a CSV/TSV of paths.")
        if not source_path.exists():
            raise DataError(f"Unlabeled data {str(source)!r} not found.")
        items, total = reservoir(image_paths(source_path), limit, seed)
    else:
        items, total = reservoir(iter(TextCorpus([str(source)])), limit, seed)
    if not items:
        raise DataError(f"Unlabeled data {str(source)!r} holds no {'images' if images else 'text'}. "
                        "Pass a non-empty file or folder, or drop --unlabeled.")
    return sorted(items) if images else items, total
