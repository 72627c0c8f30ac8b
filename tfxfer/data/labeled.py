"""Labeled text: CSV/TSV, fastText lines, class folders, NLTK categorized corpora.

Each reader returns `(texts, labels)`, two lists of strings of equal length.
"""

from __future__ import annotations

import csv
from pathlib import Path

from tfxfer.data.text import NLTK_PREFIX, _nltk_reader
from tfxfer.errors import DataError

FASTTEXT_PREFIX = "__label__"
TEXT_COLUMNS = ("text", "sentence", "review", "document", "content")
LABEL_COLUMNS = ("label", "class", "category", "target", "y")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise DataError(f"Cannot read {str(path)!r}: {e.strerror or e}.") from None


def read_table(path: str | Path) -> tuple[list[str], list[str]]:
    """CSV (`,`) or TSV (tab) with a text and a label column.

    A header naming the columns (text/sentence/review..., label/class/category...)
    is detected; without one the column with fewer distinct values is the label.
    """
    path = Path(path)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    rows = [r for r in csv.reader(_read(path).splitlines(), delimiter=delimiter) if any(c.strip() for c in r)]
    if not rows:
        raise DataError(f"{str(path)!r} is empty. Expected rows of text{delimiter}label.")
    header = [c.strip().lower() for c in rows[0]]
    text_col = next((header.index(c) for c in TEXT_COLUMNS if c in header), None)
    label_col = next((header.index(c) for c in LABEL_COLUMNS if c in header), None)
    if text_col is not None and label_col is not None:
        rows = rows[1:]
    else:
        if any(len(r) != 2 for r in rows):
            raise DataError(
                f"{str(path)!r} needs a header naming its text and label columns (e.g. "
                f"text{delimiter}label) or exactly two columns per row."
            )
        distinct = [len({r[i] for r in rows}) for i in (0, 1)]
        text_col, label_col = (0, 1) if distinct[1] <= distinct[0] else (1, 0)
    short = [i for i, r in enumerate(rows, 2) if len(r) <= max(text_col, label_col)]
    if short:
        raise DataError(f"{str(path)!r}: rows {short[:5]} have too few columns.")
    return [r[text_col].strip() for r in rows], [r[label_col].strip() for r in rows]


def read_fasttext(path: str | Path) -> tuple[list[str], list[str]]:
    """Lines of `__label__NAME text` (the first label of each line is used)."""
    texts, labels = [], []
    for n, line in enumerate(_read(Path(path)).splitlines(), 1):
        if not line.strip():
            continue
        first, _, rest = line.strip().partition(" ")
        if not first.startswith(FASTTEXT_PREFIX):
            raise DataError(f"{path}:{n}: a fastText line starts with __label__NAME. Received: {line[:60]!r}.")
        while rest.startswith(FASTTEXT_PREFIX):  # extra labels
            rest = rest.partition(" ")[2]
        texts.append(rest.strip())
        labels.append(first[len(FASTTEXT_PREFIX):])
    return texts, labels


def read_class_folder(root: str | Path) -> tuple[list[str], list[str]]:
    """`root/<label>.txt` files, one example per line."""
    files = sorted(p for p in Path(root).glob("*.txt") if p.is_file())
    if not files:
        raise DataError(f"{str(root)!r} holds no <label>.txt files (one example per line).")
    texts, labels = [], []
    for f in files:
        for line in _read(f).splitlines():
            if line.strip():
                texts.append(line.strip())
                labels.append(f.stem)
    return texts, labels


def read_nltk_categorized(name: str) -> tuple[list[str], list[str]]:
    """Sentences of an NLTK categorized corpus (e.g. `sentence_polarity`), by category."""
    reader = _nltk_reader(name)
    if not hasattr(reader, "categories"):
        raise DataError(f"NLTK corpus {name!r} has no categories; use a categorized corpus like sentence_polarity.")
    texts, labels = [], []
    for category in reader.categories():
        for sent in reader.sents(categories=[category]):
            texts.append(" ".join(sent))
            labels.append(category)
    return texts, labels


def looks_labeled(source: str | Path) -> bool:
    """Whether `source` is in one of the labeled formats (else: plain lines)."""
    source = str(source)
    path = Path(source)
    if source.startswith(NLTK_PREFIX) or path.is_dir() or path.suffix.lower() in (".csv", ".tsv"):
        return True
    if path.is_file():
        first = next((l for l in _read(path).splitlines() if l.strip()), "")
        return first.lstrip().startswith(FASTTEXT_PREFIX)
    return False


def load_labeled_text(source: str | Path) -> tuple[list[str], list[str]]:
    """Read labeled text from any supported format.

    Args:
        source: A `.csv`/`.tsv` file, a fastText file (`__label__x text`), a
            folder of `<label>.txt` files, or `nltk:NAME` for a categorized corpus.

    Returns:
        `(texts, labels)`.
    """
    source = str(source)
    path = Path(source)
    if source.startswith(NLTK_PREFIX):
        texts, labels = read_nltk_categorized(source[len(NLTK_PREFIX):])
    elif path.is_dir():
        texts, labels = read_class_folder(path)
    elif path.suffix.lower() in (".csv", ".tsv") and path.is_file():
        texts, labels = read_table(path)
    elif path.is_file():
        texts, labels = read_fasttext(path)
    else:
        raise DataError(
            f"Labeled data {source!r} not found. Pass a .csv/.tsv with text and label columns, "
            "a fastText file, a folder of <label>.txt files, or nltk:NAME."
        )
    if not texts:
        raise DataError(f"No labeled examples in {source!r}.")
    return texts, labels
