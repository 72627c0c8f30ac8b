"""Texts and labels in two files, line by line: TweetEval's layout.

TweetEval (and SemEval tasks shared the same way) keep each split as
`train_text.txt` (one text per line) and `train_labels.txt` (its label on the
same line, a class number), with `mapping.txt` naming the numbers
(`0<TAB>anger`). Read as a folder of `<label>.txt` files, such a folder made a
class of each file; the texts file is read with its labels instead.
"""

from __future__ import annotations

from pathlib import Path

from tfxfer.data.delimited import read_text
from tfxfer.data.labeled_data import LabeledData
from tfxfer.errors import DataError

TEXT_SUFFIX = "_text"
LABELS_SUFFIX = "_labels"
MAPPING_FILE = "mapping.txt"


def labels_file(path: Path) -> Path | None:
    """The labels file beside a `<split>_text.txt` file, if there is one."""
    if not path.stem.endswith(TEXT_SUFFIX):
        return None
    found = path.with_name(path.stem[: -len(TEXT_SUFFIX)] + LABELS_SUFFIX + path.suffix)
    return found if found.is_file() else None


def parallel_splits(root: Path) -> list[Path]:
    """The `<split>_text.txt` files of a folder that have their labels file beside them."""
    return sorted(p for p in root.glob(f"*{TEXT_SUFFIX}.txt") if labels_file(p))


def _lines(path: Path) -> tuple[list[str], int]:
    text, invalid, _ = read_text(path)
    return text.rstrip("\n").split("\n") if text.strip() else [], invalid


def read_parallel(path: str | Path) -> LabeledData:
    """The texts of `path` (`<split>_text.txt`) with the labels of `<split>_labels.txt`, line by
    line; class numbers named by `mapping.txt` beside them (`number<TAB>name` lines), if there.

    Raises:
        DataError: The two files have different numbers of lines.
    """
    path = Path(path)
    labels_path = labels_file(path)
    texts, invalid = _lines(path)
    labels, _ = _lines(labels_path)
    if len(texts) != len(labels):
        raise DataError(f"{str(path)!r} has {len(texts):,} lines and its labels file {labels_path.name!r} "
                        f"{len(labels):,}: each line of one is the label of the same line of the other. Check "
                        "that both come from the same split and version.")
    names = {}
    mapping = path.with_name(MAPPING_FILE)
    if mapping.is_file():
        names = dict(line.split("\t", 1) for line in _lines(mapping)[0] if "\t" in line)
    data = LabeledData([], [], str(path), rows=len(texts), invalid_utf8=invalid)
    named = f", named by {MAPPING_FILE}" if names else ""
    data.notes.append(f"Read with the labels of {labels_path.name}, line by line (TweetEval's layout){named}.")
    for n, (text, label) in enumerate(zip(texts, labels), 1):
        label = names.get(label.strip(), label).strip()
        if not text.strip() or not label:
            data.skipped.append({"line": n, "reason": "empty text" if not text.strip() else "empty label"})
            continue
        data.items.append(text.strip())
        data.labels.append(label)
    return data
