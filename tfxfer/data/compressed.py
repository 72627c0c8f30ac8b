"""Compressed files, read as they stream: `.gz`, `.bz2` and `.xz`.

Corpora come compressed (Wikipedia's dumps as `.bz2`), and so do tables of
text: Amazon's reviews as `Books_5.json.gz`, Kaggle's Amazon sentiment set as
fastText lines in `train.ft.txt.bz2`, `.csv.gz` wherever pandas wrote one
(it reads them as it reads the plain file, and users expect the same). The
format of such a file is the suffix before the compression's.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
from pathlib import Path

# What each compression suffix is opened with; anything else is opened as it is.
OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
# Tables of text, read through their compression (a workbook or Parquet file compresses itself).
TEXT_TABLES = (".csv", ".tsv", ".json", ".jsonl")
# What a cut or damaged compressed file raises as it is read.
READ_ERRORS = (OSError, EOFError, lzma.LZMAError)


def format_suffix(path: str | Path) -> str:
    """The lowercased suffix that names a file's format: a text table's before a compression
    suffix (`reviews.json.gz`: `.json`), else the last (`notes.txt.gz`: `.gz`, text)."""
    suffixes = [s.lower() for s in Path(path).suffixes[-2:]]
    if len(suffixes) == 2 and suffixes[1] in OPENERS and suffixes[0] in TEXT_TABLES:
        return suffixes[0]
    return suffixes[-1] if suffixes else ""


def open_bytes(path: str | Path):
    """`path` opened for reading bytes, decompressed as its suffix says."""
    return OPENERS.get(Path(path).suffix.lower(), open)(path, "rb")


def damaged_note(path: str | Path) -> str:
    """What to add to an error reading `path`: a compressed file that cannot be read was likely cut short."""
    return " It may be truncated or damaged." if Path(path).suffix.lower() in OPENERS else ""
