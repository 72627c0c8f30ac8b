"""Labeled text: CSV/TSV, workbooks, Parquet, JSON records, fastText lines, class folders, NLTK corpora.

Each reader returns a `LabeledData`: the texts and labels (it unpacks as
`texts, labels`) and the account of the rows read and skipped.
"""

from __future__ import annotations

from pathlib import Path

from tfxfer.data.compressed import format_suffix
from tfxfer.data.delimited import read_text
from tfxfer.data.labeled_data import LabeledData
from tfxfer.data.names import Columns, check_not_splits, left_out
from tfxfer.data.patterns import NLTK_PREFIX
from tfxfer.data.records import TABLE_SUFFIXES, read_labeled
from tfxfer.data.text import _nltk_reader, looks_binary, open_text
from tfxfer.data.workbook import other_spreadsheet
from tfxfer.errors import DataError, not_found

FASTTEXT_PREFIX = "__label__"
# A file none of whose first lines holds a fastText label is no labeled data at all.
PLAIN_TEXT_LINES = 1000
# Folders of unlabeled examples inside labeled data sets (aclImdb's train/unsup): not a class.
UNLABELED_FOLDERS = {"unsup", "unlabeled", "unlabelled"}


def _read(path: Path) -> tuple[str, int]:
    """The file's text and its count of lines that were not valid UTF-8."""
    text, invalid, _ = read_text(path)
    return text, invalid


def _lines(text: str) -> list[str]:
    # Only \n and \r\n end a line: U+2028, \x85, \f... are characters of the text.
    return text.split("\n")


def read_fasttext(path: str | Path) -> LabeledData:
    """Lines of `__label__NAME text` (the first label of each line is used)."""
    text, invalid = _read(Path(path))
    data = LabeledData([], [], str(path), invalid_utf8=invalid)
    lines = _lines(text)
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        data.rows += 1
        first, _, rest = line.strip().partition(" ")
        if not first.startswith(FASTTEXT_PREFIX):
            if data.rows == 1 and not any(FASTTEXT_PREFIX in later for later in lines[:PLAIN_TEXT_LINES]):
                raise DataError(f"{str(path)!r} is plain text, one line after another with no label: labeled text "
                                "is a CSV/TSV with text and label columns, or fastText lines (__label__NAME text). "
                                "Unlabeled text is for pretrain-text, fit-head --unlabeled and suggest --pool.")
            if data.rows == 1:
                raise DataError(f"{path}:{n}: a fastText line starts with __label__NAME. Received: {line[:60]!r}.")
            data.skipped.append({"line": n, "reason": "no __label__NAME at the start"})
            continue
        while rest.startswith(FASTTEXT_PREFIX):  # extra labels
            rest = rest.partition(" ")[2]
        label = first[len(FASTTEXT_PREFIX):]
        if not label or not rest.strip():
            data.skipped.append({"line": n, "reason": "empty label" if not label else "empty text"})
            continue
        data.items.append(rest.strip())
        data.labels.append(label)
    return data


def read_class_folder(root: str | Path) -> LabeledData:
    """`root/<label>.txt` files, one example per line; or `root/<label>/` folders of documents
    (`read_document_folders`) when it has two such folders, or one and no `.txt` file."""
    root = Path(root)
    files = sorted(p for p in root.iterdir()
                   if p.suffix.lower() == ".txt" and p.is_file() and not p.name.startswith("."))
    folders = _class_folders(root)
    if len([d for d in folders if d.name.lower() not in UNLABELED_FOLDERS]) >= 2 or (folders and not files):
        return read_document_folders(root)
    if not files and (any(root.glob("*.arrow")) or (root / "dataset_info.json").is_file()):
        raise DataError(f"{str(root)!r} is a Hugging Face dataset saved with save_to_disk: pass its Arrow files, "
                        f"'{root / 'data-*.arrow'}' (quoted).")
    if not files:
        raise DataError(f"{str(root)!r} holds no <label>.txt files (one example per line) and no <label>/ "
                        "folders of text files (one example per file).")
    check_not_splits(root, [f.stem for f in files], [f.name for f in files])
    data = LabeledData([], [], str(root))
    for f in files:
        text, invalid = _read(f)
        data.invalid_utf8 += invalid
        for line in _lines(text):
            if line.strip():
                data.rows += 1
                data.items.append(line.strip())
                data.labels.append(f.stem)
    return data


def _class_folders(root: Path) -> list[Path]:
    """Subfolders of `root` that hold files (hidden and `__MACOSX` folders left out)."""
    return sorted(d for d in root.iterdir() if d.is_dir() and not left_out(d, root)
                  and any(p.is_file() and not left_out(p, root) for p in d.rglob("*")))


def read_document_folders(root: str | Path) -> LabeledData:
    """`root/<label>/` folders of text files, one example per file (searched recursively).

    The layout of `keras.utils.text_dataset_from_directory`, scikit-learn's
    `load_files`, IMDB's aclImdb and 20 Newsgroups. A folder named as
    unlabeled examples (`unsup`, `unlabeled`) is left out with a note naming
    `--unlabeled`, as are files beside the class folders (aclImdb's
    `urls_pos.txt`). Binary and empty files are skipped rows.
    """
    root = Path(root)
    folders = _class_folders(root)
    data = LabeledData([], [], str(root))
    unlabeled = [d for d in folders if d.name.lower() in UNLABELED_FOLDERS]
    for d in unlabeled:
        data.notes.append(f"{d.name}/ was left out of the labeled examples: its name says they are "
                          f"unlabeled (--unlabeled {d} uses them).")
    folders = [d for d in folders if d not in unlabeled]
    check_not_splits(root, [d.name for d in folders])
    beside = sorted(p.name for p in root.iterdir() if p.is_file() and not left_out(p, root))
    if beside:
        data.notes.append(f"{len(beside)} file{'s' if len(beside) > 1 else ''} beside the class folders "
                          f"{'were' if len(beside) > 1 else 'was'} left out "
                          f"({', '.join(beside[:3])}{', ...' if len(beside) > 3 else ''}).")
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and not left_out(p, root)):
            data.rows += 1
            line = str(path.relative_to(root))
            if looks_binary(path):
                data.skipped.append({"line": line, "reason": "not a text file"})
                continue
            text, invalid = _read(path)
            data.invalid_utf8 += invalid
            if not text.strip():
                data.skipped.append({"line": line, "reason": "empty file"})
                continue
            data.items.append(text.strip())
            data.labels.append(folder.name)
    return data


def read_nltk_labeled(name: str) -> LabeledData:
    """The labeled examples of an NLTK corpus, in the three shapes NLTK gives labels.

    - A categorized corpus (`sentence_polarity`, `pros_cons`, `brown`): its
      sentences, labeled by category.
    - `nps_chat`: its chat posts, labeled by dialogue act (the `class` of each post).
    - A word list in several files (`names`: `female.txt`, `male.txt`;
      `stopwords`: one file per language): its words, labeled by file name.

    Raises:
        DataError: The corpus is missing, or has none of these labels.
    """
    from nltk.corpus.reader import WordListCorpusReader

    reader = _nltk_reader(name)
    data = LabeledData([], [], NLTK_PREFIX + name)
    if hasattr(reader, "categories"):
        for category in reader.categories():
            for sent in reader.sents(categories=[category]):
                data.items.append(" ".join(sent))
                data.labels.append(category)
    elif hasattr(reader, "xml_posts"):
        for post in reader.xml_posts():
            data.items.append(post.text or "")
            data.labels.append(post.get("class"))
    elif isinstance(reader, WordListCorpusReader) and len(reader.fileids()) > 1:
        for fileid in reader.fileids():
            words = reader.words(fileid)
            data.items.extend(words)
            data.labels.extend([Path(fileid).stem] * len(words))
    else:
        raise DataError(
            f"NLTK corpus {name!r} has no labels tfxfer can read. nltk:NAME takes a categorized corpus "
            "(sentence_polarity, pros_cons, brown), nps_chat (posts by dialogue act) or a word list in "
            "several files (names, by gender). Write other corpora to a CSV with text and label columns."
        )
    data.rows = len(data.items)
    return data


def looks_labeled(source: str | Path) -> bool:
    """Whether `source` is in one of the labeled formats (else: plain lines)."""
    source = str(source)
    path = Path(source)
    if source.startswith(NLTK_PREFIX) or path.is_dir() or format_suffix(path) in TABLE_SUFFIXES:
        return True
    if path.is_file():
        first = next((l for l in _lines(_read(path)[0]) if l.strip()), "")
        return first.lstrip().startswith(FASTTEXT_PREFIX)
    return False


def _tab_separated(path: Path) -> bool:
    """Whether a file that is not .csv/.tsv is a tab-separated table: its first line holds a tab and
    is no fastText line. Excel's "Save as Unicode Text" writes such tables under .txt (in UTF-16)."""
    with open_text(path) as f:
        first = next((line for line in f if line.strip()), "")
    return "\t" in first and not first.lstrip().startswith(FASTTEXT_PREFIX)


def load_labeled_text(source: str | Path, skip_bad_rows: bool = False, columns: Columns = None) -> LabeledData:
    """Read labeled text from any supported format.

    Args:
        source: A `.csv`/`.tsv` file, an Excel workbook (`.xlsx`: its first sheet), Parquet, JSON records
            (`.jsonl`, `.json`), a fastText file (`__label__x text`), a folder of `<label>.txt` files (one
            example per line) or of `<label>/` folders of text files (one example per file), or `nltk:NAME`
            (`read_nltk_labeled`).
        skip_bad_rows: Drop rows that cannot be used (counted in the result)
            instead of raising `DataError`. Defaults to `False`.
        columns: For a CSV/TSV or JSON, `(text column, label column)` names to take
            (either `None` to detect). Defaults to detecting both.

    Returns:
        `LabeledData` (unpacks as `texts, labels`).
    """
    source = str(source)
    path = Path(source)
    if source.startswith(NLTK_PREFIX):
        data = read_nltk_labeled(source[len(NLTK_PREFIX):])
    elif path.is_dir():
        data = read_class_folder(path)
    elif format_suffix(path) in TABLE_SUFFIXES and path.is_file():
        data = read_labeled(path, columns=columns)
    elif path.is_file() and other_spreadsheet(path):
        raise DataError(other_spreadsheet(path))
    elif path.is_file() and looks_binary(path):
        raise DataError(
            f"{source!r} is not a text file (pickle, Feather or another binary format?). Save it as CSV (UTF-8), "
            "an Excel workbook (.xlsx), Parquet or JSON Lines, or load it with pandas and pass the DataFrame to "
            "tfxfer.fit_head."
        )
    elif path.is_file() and _tab_separated(path):
        data = read_labeled(path, columns=columns)
    elif path.is_file():
        data = read_fasttext(path)
    else:
        raise not_found("Labeled data", source, "Pass a .csv/.tsv/.xlsx/.parquet with text and label columns, JSON "
                        "Lines, a fastText file, a folder of <label>.txt files or <label>/ folders of text files, "
                        "or nltk:NAME.")
    data.check(skip_bad_rows)
    if not data.items:
        raise DataError(f"No labeled examples in {source!r}.")
    return data
