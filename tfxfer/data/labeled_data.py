"""Labeled examples and the account of how they were read (`LabeledData`), with its checks.

Every reader (tables, folders, fastText, NLTK, data in memory) returns a
`LabeledData`: items, labels, and each row it skipped with the reason. `check`
stops on skipped rows unless the caller accepts them; `check_trainable` refuses
labels no classifier can learn (one class, a column of ids) and notes what a
user should know (labels spelled two ways, several labels in one cell, HTML).
"""

from __future__ import annotations

import collections
import dataclasses
import re
import unicodedata
from collections.abc import Sequence

from tfxfer import config
from tfxfer.errors import DataError, counted

# Labels that spreadsheets and pandas use for "no value" (pandas' default na_values, and "?"), casefolded;
# "None" is left out: it is a common class ("none of the above").
MISSING_LABELS = {"n/a", "na", "nan", "null", "#n/a", "#n/a n/a", "#na", "<na>", "-nan", "?"}

# More distinct labels than this, most of them seen once, are not classes (see `check_trainable`).
MANY_LABELS = 20
# Rows named in an error message; the rest are counted.
SHOWN = 5


def imbalanced(counts, ratio: float = config.IMBALANCE_RATIO) -> bool:
    """Whether the largest of the class sizes `counts` is `ratio` times the smallest (above 0) or more."""
    present = [n for n in counts if n]
    return bool(present) and max(present) >= ratio * min(present)


def spelling_key(label: str) -> str | float:
    """What two spellings of one class have in common: case, spacing and number format aside
    ('Food ' and 'food', '1' and '1.0')."""
    return float(label) if _is_number(label) else " ".join(label.casefold().split())


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@dataclasses.dataclass
class LabeledData:
    """Items (texts or paths) with labels, and the account of how they were read.

    Unpacks as `items, labels = data`.

    Attributes:
        items: The texts (or image paths).
        labels: Their labels.
        source: Where they were read from.
        rows: Data rows met (read or skipped).
        skipped: `{"line": n, "reason": ...}` for each row not used.
        invalid_utf8: Lines that were not valid UTF-8 (read with U+FFFD).
        notes: Things the user should know (how the file was parsed...).
        columns: `(input, label)` column names a header gave, or `None`.
        other_cells: Each item's row's other cells by column name (as
            `unlabeled.item_rows` gives a pool's), where the reader was asked
            to keep them (`keep_columns`); else `None`.
    """

    items: list[str]
    labels: list[str]
    source: str
    rows: int = 0
    skipped: list[dict] = dataclasses.field(default_factory=list)
    invalid_utf8: int = 0
    notes: list[str] = dataclasses.field(default_factory=list)
    columns: tuple[str, str] | None = None
    other_cells: list[dict[str, str]] | None = None

    def __iter__(self):
        yield self.items
        yield self.labels

    @classmethod
    def merge(cls, parts: list[LabeledData]) -> LabeledData:
        """One data set from several, their accounts kept (skipped lines and notes name their source);
        one alone as it is."""
        if len(parts) == 1:
            return parts[0]
        columns = next((p.columns for p in parts if p.columns), None)
        # The report names the first part's columns; a part read from others says which.
        other = [f"{p.source}: inputs from {p.columns[0]!r}, labels from {p.columns[1]!r}"
                 for p in parts if p.columns and tuple(p.columns) != tuple(columns)]
        return cls(
            items=[i for p in parts for i in p.items],
            labels=[l for p in parts for l in p.labels],
            source=" + ".join(p.source for p in parts),
            rows=sum(p.rows for p in parts),
            skipped=[{**s, "line": f"{p.source}:{s['line']}"} for p in parts for s in p.skipped],
            invalid_utf8=sum(p.invalid_utf8 for p in parts),
            notes=[f"{p.source}: {n}" for p in parts for n in p.notes] + other,
            columns=columns,
            other_cells=None if all(p.other_cells is None for p in parts) else
            [cells for p in parts for cells in p.other_cells or [{}] * len(p.items)],
        )

    def summary(self) -> dict:
        return {"source": self.source, "rows": self.rows, "read": len(self.items), "skipped": self.skipped,
                "invalid_utf8_lines": self.invalid_utf8, "notes": self.notes,
                "columns": list(self.columns) if self.columns else None}

    def check(self, skip_bad_rows: bool) -> LabeledData:
        """The data read whole: raise `DataError` listing the skipped rows, unless `skip_bad_rows`;
        labels composed (NFC). macOS writes `é` as `e` and an accent, in text typed there and in file
        and folder names (which zips and copies keep): `Éclair` from a Mac's folder or cell and from
        another's is one class."""
        self.labels = [unicodedata.normalize("NFC", l) if isinstance(l, str) else l for l in self.labels]
        if self.skipped and not skip_bad_rows:
            raise DataError(
                f"{len(self.skipped)} of {self.rows} rows of {self.source!r} cannot be used: "
                f"{'; '.join(skipped_lines(self.skipped))}. "
                "Fix them, or pass --skip-bad-rows (skip_bad_rows=True) to go on without them."
            )
        return self

    def check_trainable(self) -> LabeledData:
        """Raise `DataError` unless the labels can train a classifier: two classes or more, and
        not one label per example (a column of scores, ids or texts read as the labels)."""
        counts = collections.Counter(self.labels)
        if len(counts) < 2:
            raise DataError(
                f"{self.source!r} has a single class ({next(iter(counts), 'none')}); a classifier needs at "
                "least two. Add examples of another class."
            )
        singletons = sum(1 for n in counts.values() if n == 1)
        combined = combined_labels(counts)
        several = (f"Labels such as {', '.join(repr(c) for c in combined[:3])} hold several labels each; tfxfer "
                   "trains one label per example, so each combination is a class of its own. For several labels "
                   "per example, train one yes/no model per label (a column per label).") if combined else ""
        if not looks_like_classes(self.labels):
            shown = ", ".join(repr(label) for label in list(counts)[:3])
            numeric = all(_is_number(label) for label in counts)
            fix = several or (
                "They look like numbers on a continuous scale, and tfxfer fits classifiers: bin them into "
                "classes first (e.g. low / medium / high)." if numeric else
                "Is the label column the right one? Name it with --label-column (columns=(None, NAME)).")
            raise DataError(
                f"{self.source!r} has {len(counts):,} labels for {len(self.labels):,} examples, {singletons:,} of "
                f"them seen once ({shown}...): a classifier needs several examples of each class. {fix}"
            )
        variants = collections.defaultdict(list)
        for label in counts:
            variants[spelling_key(label)].append(label)
        if several:
            self.notes.append(several[0].lower() + several[1:])
        scale = scale_note(counts)
        if scale:
            self.notes.append(scale)
        alike = [sorted(v) for v in variants.values() if len(v) > 1]
        if alike:  # merged files often spell a class two ways; they stay two classes
            shown = "; ".join(" and ".join(repr(label) for label in v) for v in alike[:3])
            self.notes.append(f"labels {shown} differ only in case, spacing or number format: they are "
                              "different classes. Spell each class one way if they mean the same.")
        missing = [label for label in counts if label.casefold() in MISSING_LABELS]
        if missing:  # a spreadsheet's marks for "not labeled yet": a class of their own here
            shown = ", ".join(f"{label!r} ({counts[label]:,})" for label in missing)
            many = len(missing) > 1
            self.notes.append(f"label{'s' if many else ''} {shown} look{'' if many else 's'} like "
                              f"{'marks' if many else 'a mark'} for a missing label, but {'are classes' if many else 'is a class'} "
                              "here. If they mean \"not labeled\", empty those cells and pass --skip-bad-rows to "
                              "leave the rows out.")
        tagged = [item for item in self.items if HTML_TAG.search(item)]
        if len(tagged) >= max(3, HTML_SHARE * len(self.items)):  # scraped pages: aclImdb's <br />
            self.notes.append(f"{len(tagged):,} of {len(self.items):,} texts hold HTML tags (such as "
                              f"{HTML_TAG.search(tagged[0]).group()!r}): they are read as words and punctuation, "
                              "in training and in serving alike. If the texts the model will see have none, strip "
                              "them first (e.g. sed -E 's/<[^>]+>/ /g').")
        return self


# HTML tags left in scraped texts (IMDB's reviews hold <br />), and the share of texts that makes them worth a note.
HTML_TAG = re.compile(r"</?(?:br|p|div|span|a|b|i|em|strong|li|ul|ol|h[1-6]|td|tr|table|img)\b[^<>]*>", re.IGNORECASE)
HTML_SHARE = 0.05
# More distinct numeric labels than this, some with a fraction, are a scale (see `scale_note`).
SCALE_VALUES = 10
# What joins several labels in one cell: "sports;politics", "a|b", "news, tech".
LABEL_SEPARATORS = re.compile(r"\s*[;|,]\s*")


def combined_labels(counts: collections.Counter) -> list[str]:
    """Labels that join several labels ("sports;politics"): their parts are labels of their own,
    or recur in other such labels. Most frequent first."""
    parts = {label: [p for p in LABEL_SEPARATORS.split(label) if p] for label in counts}
    joined = {label: p for label, p in parts.items() if len(p) > 1}
    recurring = collections.Counter(part for p in joined.values() for part in set(p))
    found = [label for label, p in joined.items()
             if all(part in counts or recurring[part] > 1 for part in p)]
    return sorted(found, key=lambda label: -counts[label])


def scale_note(counts: collections.Counter) -> str | None:
    """A note when the labels are measurements, not classes: all numbers, more than
    `SCALE_VALUES` of them, some with a fraction (ratings of 1.0 - 5.0, prices). Whole numbers
    alone may be class codes (AG News' 1 - 4, a category id), so they get none."""
    if len(counts) <= SCALE_VALUES or not all(_is_number(label) for label in counts):
        return None
    labels = sorted(counts, key=float)
    if all(float(label).is_integer() for label in labels):
        return None
    return (f"the labels are {len(labels):,} numbers from {labels[0]} to {labels[-1]}, a measurement rather "
            "than classes: each value is a class of its own here, learned from its few examples alone, and "
            "near values count as wrong as far ones. Bin them into classes first (e.g. low / medium / high).")


def looks_like_classes(labels: Sequence[str]) -> bool:
    """Whether labels name classes: not more than `MANY_LABELS` of them with most seen once
    (a column of scores, ids or texts read as the labels)."""
    counts = collections.Counter(labels)
    return not (len(counts) > MANY_LABELS and sum(n == 1 for n in counts.values()) > len(labels) / 2)


def skipped_at(line) -> str:
    """`line 12` of a file, or as given (`row 3` of data in memory, `file.csv:12` of merged files)."""
    return line if isinstance(line, str) else f"line {line}"


def skipped_lines(skipped: Sequence[dict], shown: int = SHOWN) -> list[str]:
    """Skipped rows (`{"line", "reason"}`) as lines of text, grouped by reason in the order met.

    Args:
        skipped: `LabeledData.skipped`.
        shown: How many rows named per reason, and how many reasons. Defaults to `SHOWN` (5).

    Returns:
        One line a reason (`"lines 3, 7, 9 and 4 more: empty label"`), then, past `shown` reasons,
        one that counts the rows left.
    """
    groups: dict[str, list] = {}
    for row in skipped:
        groups.setdefault(row["reason"], []).append(row["line"])
    out = []
    for reason, lines in list(groups.items())[:shown]:
        if all(isinstance(line, int) for line in lines):
            where = f"line{'s' if len(lines) > 1 else ''} " + ", ".join(str(line) for line in lines[:shown])
        else:
            where = ", ".join(skipped_at(line) for line in lines[:shown])
        out.append(f"{where}{f' and {len(lines) - shown:,} more' if len(lines) > shown else ''}: {reason}")
    rest = sum(len(lines) for lines in list(groups.values())[shown:])
    return out + ([f"and {counted(rest, 'more row')} for other reasons"] if rest else [])
