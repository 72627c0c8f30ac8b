"""What names say: which column (or JSON key) of a table holds the inputs and which the labels,
when the "classes" of a folder are the splits of a data set, and which files are not data."""

from __future__ import annotations

import os
import re
from pathlib import Path
from collections.abc import Iterator, Sequence

from tfxfer.errors import DataError

TEXT_COLUMNS = ("text", "sentence", "review", "document", "content", "body", "comment", "message", "tweet",
                "utterance", "question", "phrase", "item", "sentence1", "feedback", "description",
                "patterns")  # a chatbot's intents.json: {"tag": ..., "patterns": [texts]}
PATH_COLUMNS = ("path", "file", "filename", "image", "item", "filepath", "image_path")
LABEL_COLUMNS = ("label", "class", "category", "target", "y", "sentiment", "labels", "tag", "polarity", "topic",
                 "intent", "emotion", "gold_label", "stance", "answer", "choice",
                 # star ratings, last: Yelp's "stars", Amazon's "overall" and "Score", TripAdvisor's "Rating"
                 "rating", "stars", "score", "overall")
# The header of the CSV `tfxfer suggest` writes, its label column left for the user to fill in.
SUGGEST_COLUMNS = ("item", "label", "guess", "score")
# `(input column, label column)` names given by the user; `None` (or a `None` name) to detect.
Columns = tuple[str | None, str | None] | None
# Words of column names that say the column is about the content, not the content ("review_id").
_NOT_CONTENT = {"id", "ids", "idx", "index", "key", "uuid", "hash", "url", "uri", "date", "time", "timestamp",
                "count", "counts", "num", "number", "votes", "length", "len", "score", "rating", "lang", "language"}
# Of those, the words a label column may have: ids of a label are still the label ("class_id"), and a
# rating is a label ("review_score").
_CODES = {"id", "ids", "idx", "index", "score", "rating"}


def header_row(item: str, label: str) -> bool:
    """Whether an `(item, label)` row is a header's cells (`text, label`), read as data.

    Both cells, not the label alone: a filled-in `suggest` CSV holds classes such as nps_chat's
    "Emotion" once, and "emotion" names label columns too."""
    return label.strip().lower() in LABEL_COLUMNS and item.strip().lower() in (*TEXT_COLUMNS, *PATH_COLUMNS)


def find_column(cells: Sequence[str], names: Sequence[str], words_from: int = 3,
                named: str | None = None, codes: bool = False) -> int | None:
    """The index of the column a header's `cells` give: the one the user `named`, if there;
    else the first of `names`, a cell equal to it; else, in a row of at least `words_from`
    cells, a cell that ends with it as a word ("Review Text", "review_body"), then one that
    holds it ("text_a"), leaving out ids, dates and counts ("review_id"). Cells are compared
    lowercased and stripped; their words are split at `_`, spaces and camelCase ("reviewText").
    Words alone are not trusted in a labeled file's two cells: those may be a headerless file's
    first row ("The review was fine", pos). `codes`: the column may
    hold ids of what it names (a label column: AG News's "Class Index", "category_id")."""
    # Lowercase letters before an uppercase start a word: "OriginalTweet", "reviewText" (not "URLs").
    words = [[w for w in re.split(r"[^0-9a-z]+", re.sub(r"(?<=[a-z])(?=[A-Z])", " ", c.strip()).lower()) if w]
             for c in cells]
    cells = [c.strip().lower() for c in cells]
    if named and named.strip().lower() in cells:
        return cells.index(named.strip().lower())
    for name in names:
        if name in cells:
            return cells.index(name)
    if len(cells) < words_from:
        return None
    about = _NOT_CONTENT - _CODES if codes else _NOT_CONTENT
    usable = [i for i, w in enumerate(words) if w and not set(w) & about]
    for tier in (lambda w, name: w[-1] == name, lambda w, name: name in w):
        found = next((i for name in names for i in usable if tier(words[i], name)), None)
        if found is not None:
            return found
    return None


# Names of a data set's splits: a folder of them is not a folder of classes.
# Folders that tools leave beside data: macOS's zip metadata (its `._photo.jpg` copies are not photos).
NOT_DATA_FOLDERS = {"__MACOSX"}


def files_under(root: Path) -> Iterator[Path]:
    """Every file under `root`, as `root.rglob("*")` finds them, and through links to folders too: a class
    folder linked in from elsewhere (`ln -s /photos/cats data/cats`, a split made of links) was not searched,
    as `rglob` follows no link to a folder before Python 3.13. A link back up the tree is followed once."""
    seen = set()
    for folder, subfolders, files in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            subfolders.clear()
            continue
        seen.add(real)
        yield from (Path(folder, name) for name in files)


def left_out(path: Path, root: Path) -> bool:
    """Whether `path` under `root` is not data: hidden (`.git`, `.ipynb_checkpoints`, macOS's
    `._photo.jpg`) or inside `__MACOSX`."""
    return any(part.startswith(".") or part in NOT_DATA_FOLDERS for part in path.relative_to(root).parts)


SPLIT_NAMES = {"train", "training", "val", "valid", "validation", "dev", "test", "testing", "eval", "evaluation"}


def check_not_splits(source: str | Path, classes: Sequence[str], entries: Sequence[str] | None = None) -> None:
    """Raise `DataError` when every "class" is a split name (train/, val/): the user passed the
    data set's root, and would train a model that tells the splits apart.

    `entries`: the folder's entry of each class (`train.txt`), to name in the fix. Defaults to `classes`.
    """
    names = {str(c).lower() for c in classes}
    if len(names) < 2 or not names <= SPLIT_NAMES:
        return
    entries = list(entries or classes)
    train = next((e for c, e in zip(classes, entries) if str(c).lower() in ("train", "training")), None)
    held = next((e for c, e in zip(classes, entries) if str(c).lower() not in ("train", "training")), None)
    fix = (f"pass {str(Path(source) / train)!r} as the training data and {str(Path(source) / held)!r} as "
           "--validation (or to evaluate)" if train and held else "pass one of them")
    raise DataError(f"{str(source)!r} holds the splits of a data set ({', '.join(sorted(map(str, classes)))}), "
                    f"not classes: {fix}.")


def unnamed_note(asked: Columns, found: Sequence[str | None]) -> str | None:
    """A note when a column the user named is missing and another was found by its name instead."""
    missed = [f"no column {a!r}: read {f!r}, found by its name" for a, f in zip(asked or (), found)
              if a and f is not None and a.strip().lower() != f.strip().lower()]
    return "; ".join(missed) + " (a merged file without the named columns is read so)" if missed else None


def check_columns(columns: Columns) -> None:
    """Raise `DataError` when the input and label columns named are one column."""
    if columns and all(columns) and columns[0].strip().lower() == columns[1].strip().lower():
        raise DataError(f"The input and label columns are both {columns[0]!r}: name two columns "
                        "(--input-column and --label-column).")
