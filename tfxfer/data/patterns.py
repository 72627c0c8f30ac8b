"""Paths and glob patterns that name data: `'data/train-*.parquet'`, the shards of a Hugging Face split.

A shell expands an unquoted pattern into many arguments, which an option that
takes one file (`--train`, `--pool`) cannot hold, and Windows shells expand
none. So wherever a file or folder of data is named, a pattern that is no
existing path stands for the files it matches, read in sorted order as one
source: labeled files merged as repeated `--train` are, unlabeled ones and
corpora read one after the other.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

from tfxfer.errors import DataError

NLTK_PREFIX = "nltk:"
_GLOB_CHARS = "*?["


def path_exists(path: str | Path) -> bool:
    """`Path.exists`, but `False` for what cannot be a path rather than an OSError."""
    try:
        return Path(path).exists()
    except (OSError, ValueError):  # a name too long to be a file, a NUL byte: a text, not a path
        return False


def user_path(path):
    """`path` with a leading `~` expanded to the home folder, as a shell expands it for the command
    line (the Python API has no shell; `load_features`, pandas and TF-Hub's cache expand it too).
    Anything else, data in memory included, is returned unchanged."""
    if isinstance(path, (str, Path)) and str(path).startswith("~"):
        return type(path)(os.path.expanduser(str(path)))
    return path


def expand(source, what: str = "Data") -> list[str] | None:
    """The files and folders a glob pattern names.

    Args:
        source: A path, or a pattern of one (`*`, `?`, `[...]`; `**` spans folders).
        what: How errors name the data (`"Labeled data"`, `"Pool"`).

    Returns:
        The matches, sorted (names starting with "." only where the pattern's
        part does too, as a shell has it); `None` where `source` is no pattern:
        data in memory, an existing path (a file may be called `[draft].csv`),
        `nltk:NAME` or a URL. A `~/...` path that exists is `[that path]`, expanded.

    Raises:
        DataError: A pattern that matches nothing.
    """
    if not isinstance(source, (str, Path)):
        return None
    home = user_path(source)
    if home != source and path_exists(home):
        return [str(home)]  # "~/train.csv" given in Python
    text = str(source)
    if not any(c in text for c in _GLOB_CHARS) or text.startswith(NLTK_PREFIX) or "://" in text or path_exists(text):
        return None
    found = sorted(glob.glob(str(Path(text).expanduser()), recursive=True))
    if not found:
        raise DataError(f"{what} {text!r} matches no file. Check the pattern: * matches within a folder, ** across "
                        "folders.")
    return found


def expand_all(sources, what: str = "Data") -> list:
    """Each of `sources`, or the files its pattern names in its place (`expand`)."""
    return [found for source in sources for found in (expand(source, what) or [source])]
