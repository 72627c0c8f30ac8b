"""Labeled text: CSV/TSV, workbooks, Parquet, JSON records, fastText lines, class folders, NLTK corpora.

Each reader returns a `LabeledData`: the texts and labels (it unpacks as
`texts, labels`) and the account of the rows read and skipped.
"""

from __future__ import annotations

import collections
import csv
import mimetypes
from pathlib import Path

from tfxfer.data.compressed import OPENERS
from tfxfer.data.delimited import SNIFF_CHARS, read_text
from tfxfer.data.image_files import IMAGE_SUFFIXES
from tfxfer.data.labeled_data import LabeledData
from tfxfer.data.names import Columns, check_not_splits, files_under, left_out
from tfxfer.data.parallel_files import labels_file, parallel_splits, read_parallel
from tfxfer.data.patterns import NLTK_PREFIX
from tfxfer.data.records import TABLE_SUFFIXES, is_table, read_labeled
from tfxfer.data.table import read_table
from tfxfer.data.text import (
    TEXT_SUFFIXES,
    _nltk_reader,
    check_not_archive,
    looks_binary,
    open_text,
)
from tfxfer.data.workbook import other_spreadsheet
from tfxfer.errors import DataError, counted, not_found

FASTTEXT_PREFIX = "__label__"
# A file none of whose first lines holds a fastText label is no labeled data at all, unless its
# lines start with a label word.
PLAIN_TEXT_LINES = 1000
# `LABEL text` lines: their first words take at most this many values, each first word seen on
# FIRST_WORD_SHARE lines on average or more. TREC's 50 question types fit; the first words of prose
# do not (brown: 52 in 100 sentences, 347 in 1,000), nor a screenplay's speakers (grail: 9 in 100).
FIRST_WORD_LABELS = 50
FIRST_WORD_SHARE = 20
# Folders of unlabeled examples inside labeled data sets (aclImdb's train/unsup): not a class.
UNLABELED_FOLDERS = {"unsup", "unlabeled", "unlabelled"}
# Suffixes of files tfxfer reads, and of others that are no class (`mimetypes` knows the common ones).
KNOWN_SUFFIXES = {*TABLE_SUFFIXES, *TEXT_SUFFIXES, *OPENERS, *IMAGE_SUFFIXES, ".log", ".yaml", ".yml", ".cfg", ".ini",
                  ".npz", ".npy", ".pkl", ".pickle", ".feather", ".bak", ".tmp"}


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
    several = 0
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        data.rows += 1
        first, _, rest = line.strip().partition(" ")
        if not first.startswith(FASTTEXT_PREFIX):
            if data.rows == 1 and not any(FASTTEXT_PREFIX in later for later in lines[:PLAIN_TEXT_LINES]):
                return read_first_word_labels(path, lines, invalid)
            if data.rows == 1:
                raise DataError(f"{path}:{n}: a fastText line starts with __label__NAME. Received: {line[:60]!r}.")
            data.skipped.append({"line": n, "reason": "no __label__NAME at the start"})
            continue
        if rest.startswith(FASTTEXT_PREFIX):  # extra labels: fastText's own tutorial data (cooking) has them
            several += 1
        while rest.startswith(FASTTEXT_PREFIX):
            rest = rest.partition(" ")[2]
        label = first[len(FASTTEXT_PREFIX):]
        if not label or not rest.strip():
            data.skipped.append({"line": n, "reason": "empty label" if not label else "empty text"})
            continue
        data.items.append(rest.strip())
        data.labels.append(label)
    if several:
        data.notes.append(f"{counted(several, 'line')} {'has' if several == 1 else 'have'} several labels: the first "
                          "is used. tfxfer trains one label per example; for several labels per example, train one "
                          "yes/no model per label.")
    return data


def read_first_word_labels(path: str | Path, lines: list[str], invalid: int = 0) -> LabeledData:
    """Lines of `LABEL text`, as SentEval's and TREC's files are (`1 a stirring , funny ...`,
    `DESC:manner How did serfdom develop ?`): read where the lines' first words take few values
    (`FIRST_WORD_LABELS`, `FIRST_WORD_SHARE`); a colon ending the label (`pos: ...`) is left out.

    Raises:
        DataError: The lines' first words are too many to be labels: plain text.
    """
    rows = [(n, line.split(None, 1)) for n, line in enumerate(lines, 1) if line.strip()]
    firsts = {_label_word(words[0]) for _, words in rows}
    texts = sum(len(words) == 2 for _, words in rows)
    if not (len(firsts) >= 2 and _few_labels(len(firsts), len(rows))
            and len(rows) - texts <= max(1, len(rows) // 100)):  # a label without its text now and then
        raise DataError(f"{str(path)!r} is plain text, one line after another with no label: labeled text is a "
                        "CSV/TSV with text and label columns, fastText lines (__label__NAME text) or lines of a "
                        "label and its text (pos a fine film). Unlabeled text is for pretrain-text, fit-head "
                        "--unlabeled and suggest --pool.")
    data = LabeledData([], [], str(path), rows=len(rows), invalid_utf8=invalid)
    data.notes.append(f"Read as lines of a label and its text (SentEval's and TREC's format): the first word of each "
                      f"line is its label, one of {len(firsts)}.")
    for n, words in rows:
        if len(words) < 2:
            data.skipped.append({"line": n, "reason": "empty text"})
            continue
        data.labels.append(_label_word(words[0]))
        data.items.append(words[1].strip())
    return data


def _few_labels(distinct: int, lines: int) -> bool:
    """Whether `distinct` values over `lines` lines are few enough to be labels, not the words of prose:
    at most `FIRST_WORD_LABELS`, each on `FIRST_WORD_SHARE` lines on average or more."""
    return distinct <= min(FIRST_WORD_LABELS, lines / FIRST_WORD_SHARE)


def _label_word(word: str) -> str:
    """The label a line's first word gives: without a colon that ends it (`pos:`), unless it is one."""
    return word.removesuffix(":") or word


def read_class_folder(root: str | Path) -> LabeledData:
    """`root/<label>.txt` files, one example per line; or `root/<label>/` folders of documents
    (`read_document_folders`) when it has two such folders, or one and no `.txt` file."""
    root = Path(root)
    files = sorted(p for p in root.iterdir()
                   if p.suffix.lower() == ".txt" and p.is_file() and not p.name.startswith("."))
    folders = _class_folders(root)
    if len([d for d in folders if d.name.lower() not in UNLABELED_FOLDERS]) >= 2 or (folders and not files):
        return read_document_folders(root)
    splits = parallel_splits(root)
    if splits:  # TweetEval's layout: as <label>.txt files, each file a class
        train = next((p for p in splits if p.stem.startswith("train")), splits[0])
        raise DataError(f"{str(root)!r} holds texts and their labels in files line by line ({train.name} and "
                        f"{labels_file(train).name}): pass {str(train)!r} (its labels are read beside it), and "
                        "another split's _text.txt to evaluate.")
    if not files and (any(root.glob("*.arrow")) or (root / "dataset_info.json").is_file()):
        raise DataError(f"{str(root)!r} is a Hugging Face dataset saved with save_to_disk: pass its Arrow files, "
                        f"'{root / 'data-*.arrow'}' (quoted).")
    by_suffix = _suffix_classes(root) if len(files) < 2 else {}  # one .txt beside them: the data set's README
    if not files and not by_suffix:
        raise DataError(f"{str(root)!r} holds no <label>.txt files (one example per line), no <label>/ folders "
                        "of text files (one example per file) and no NAME.<label> files (rt-polarity.pos and "
                        "rt-polarity.neg).")
    classes = by_suffix or {f.stem: f for f in files}
    check_not_splits(root, list(classes), [f.name for f in classes.values()])
    data = LabeledData([], [], str(root))
    if by_suffix:
        others = sorted(p.name for p in root.iterdir() if p.is_file() and not left_out(p, root)
                        and p not in by_suffix.values())
        left = f"; left out {', '.join(others[:3])}{', ...' if len(others) > 3 else ''}" if others else ""
        name = next(iter(by_suffix.values())).stem
        data.notes.append(f"Read one class from each {name}.<label> file, one example per line{left}.")
    for label, f in classes.items():
        text, invalid = _read(f)
        data.invalid_utf8 += invalid
        for line in _lines(text):
            if line.strip():
                data.rows += 1
                data.items.append(line.strip())
                data.labels.append(label)
    return data


def _suffix_classes(root: Path) -> dict[str, Path]:
    """Label -> file of a folder's `NAME.<label>` files, one example per line: Pang and Lee's movie
    review sentences (`rt-polarity.pos`, `rt-polarity.neg`). Two or more files of one NAME whose
    suffixes name no file format; `{}` where there are none."""
    found = collections.defaultdict(dict)
    for path in root.iterdir():
        label = path.suffix[1:]
        if (label.isalpha() and path.suffix.lower() not in KNOWN_SUFFIXES and path.is_file()
                and not left_out(path, root) and mimetypes.guess_type(path.name) == (None, None)):
            found[path.stem][label] = path
    if len(found) != 1:
        return {}
    (classes,) = found.values()
    return dict(sorted(classes.items())) if len(classes) >= 2 else {}


def _class_folders(root: Path) -> list[Path]:
    """Subfolders of `root` that hold files (hidden and `__MACOSX` folders left out)."""
    return sorted(d for d in root.iterdir() if d.is_dir() and not left_out(d, root)
                  and any(p.is_file() and not left_out(p, root) for p in files_under(d)))


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
        for path in sorted(p for p in files_under(folder) if p.is_file() and not left_out(p, root)):
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
    - Product reviews (`product_reviews_1`, `product_reviews_2`): the sentences whose aspects
      are scored (`picture[+2]`), labeled `pos` or `neg` by the sign of their scores' sum;
      sentences without a score (or summing to 0) are left out.
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
    elif hasattr(reader, "reviews"):
        for review in reader.reviews():
            for line in review.review_lines:
                score = sum(int(value) for _, value in line.features)
                if score:
                    data.items.append(" ".join(line.sent))
                    data.labels.append("pos" if score > 0 else "neg")
    elif isinstance(reader, WordListCorpusReader) and len(reader.fileids()) > 1:
        for fileid in reader.fileids():
            words = reader.words(fileid)
            data.items.extend(words)
            data.labels.extend([Path(fileid).stem] * len(words))
    else:
        raise DataError(
            f"NLTK corpus {name!r} has no labels tfxfer can read. nltk:NAME takes a categorized corpus "
            "(sentence_polarity, pros_cons, brown), nps_chat (posts by dialogue act), product reviews "
            "(sentences by the sign of their aspect scores) or a word list in several files (names, by gender). "
            "Write other corpora to a CSV with text and label columns."
        )
    data.rows = len(data.items)
    # pros_cons holds 8 empty sentences: no example, and nothing the user could fix in a file.
    kept = [(item, label) for item, label in zip(data.items, data.labels) if item.strip()]
    if len(kept) < data.rows:
        data.items, data.labels = [item for item, _ in kept], [label for _, label in kept]
        data.notes.append(f"{counted(data.rows - len(kept), 'empty text')} of the corpus left out.")
    return data


def looks_labeled(source: str | Path) -> bool:
    """Whether `source` is in one of the labeled formats (else: plain lines)."""
    source = str(source)
    path = Path(source)
    if source.startswith(NLTK_PREFIX) or path.is_dir() or is_table(path):
        return True
    if path.is_file():
        first = next((l for l in _lines(_read(path)[0]) if l.strip()), "")
        return first.lstrip().startswith(FASTTEXT_PREFIX)
    return False


def _tab_separated(path: Path) -> str | None:
    """Tab, where a file that is not .csv/.tsv is a tab-separated table: its first line holds a tab and
    is no fastText line. Excel's "Save as Unicode Text" writes such tables under .txt (in UTF-16)."""
    with open_text(path) as f:
        first = next((line for line in f if line.strip()), "")
    return "\t" if "\t" in first and not first.lstrip().startswith(FASTTEXT_PREFIX) else None


def _label_pairs(path: Path) -> str | None:
    """The delimiter, where a file that is not .csv/.tsv is a headerless two-column table of texts and
    labels, `text;label` (Kaggle's Emotions dataset for NLP: `i didnt feel humiliated;sadness`): every
    line of its start splits in two at `;` or `,`, and one side takes few values (`FIRST_WORD_LABELS`).
    The caller reads it with that delimiter: where each text holds one comma, `,` splits the rows as
    evenly, and a sniffer's tie would go to `,`."""
    with open_text(path) as f:
        head = f.read(SNIFF_CHARS)
    lines = [line for line in head.split("\n")[:-1 if len(head) == SNIFF_CHARS else None] if line.strip()]
    for delimiter in (";", ","):
        rows = list(csv.reader(lines, delimiter=delimiter))
        if len(rows) < FIRST_WORD_SHARE * 2 or any(len(row) != 2 for row in rows):
            continue
        if _few_labels(min(len({row[0] for row in rows}), len({row[1] for row in rows})), len(rows)):
            return delimiter
    return None


def load_labeled_text(source: str | Path, skip_bad_rows: bool = False, columns: Columns = None,
                      keep_columns: bool = False) -> LabeledData:
    """Read labeled text from any supported format.

    Args:
        source: A `.csv`/`.tsv` file, an Excel workbook (`.xlsx`: its first sheet), Parquet, JSON records
            (`.jsonl`, `.json`, or a table in one object), a fastText file (`__label__x text`), lines that
            start with their label (`read_first_word_labels`), a `.txt` of `text;label` lines, a
            `_text.txt` with its `_labels.txt` (`read_parallel`), a folder of `<label>.txt` or
            `NAME.<label>` files (one example per line) or of `<label>/` folders of text files (one
            example per file), or `nltk:NAME` (`read_nltk_labeled`).
        skip_bad_rows: Drop rows that cannot be used (counted in the result)
            instead of raising `DataError`. Defaults to `False`.
        columns: For a CSV/TSV or JSON, `(text column, label column)` names to take
            (either `None` to detect). Defaults to detecting both.
        keep_columns: Keep a table's other columns (`LabeledData.other_cells`),
            for `evaluate --out`. Defaults to `False`.

    Returns:
        `LabeledData` (unpacks as `texts, labels`).
    """
    source = str(source)
    path = Path(source)
    check_not_archive(path, "Labeled data")
    if source.startswith(NLTK_PREFIX):
        data = read_nltk_labeled(source[len(NLTK_PREFIX):])
    elif path.is_dir():
        data = read_class_folder(path)
    elif is_table(path) and path.is_file():
        data = read_labeled(path, columns=columns, keep_columns=keep_columns)
    elif path.is_file() and other_spreadsheet(path):
        raise DataError(other_spreadsheet(path))
    elif path.is_file() and looks_binary(path):
        raise DataError(
            f"{source!r} is not a text file (pickle, Feather or another binary format?). Save it as CSV (UTF-8), "
            "an Excel workbook (.xlsx), Parquet or JSON Lines, or load it with pandas and pass the DataFrame to "
            "tfxfer.fit_head."
        )
    elif path.is_file() and labels_file(path):
        data = read_parallel(path)
    elif path.is_file() and (delimiter := _tab_separated(path) or _label_pairs(path)):
        data = read_table(path, columns=columns, delimiter=delimiter, keep_columns=keep_columns)
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
