"""What the training features tell about the labeled data: examples a module
cannot see, inputs labeled both ways, examples repeated under one label, and
images unlike every other. Each note is one line of the report."""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Sequence

import numpy as np

from tfxfer import config
from tfxfer.features.load import IMAGE, FeatureModule
from tfxfer.text.vocab import text_words

# Examples of a conflict named in its note, and their length.
SHOWN = 3
EXAMPLE_CHARS = 40


def zero_rows_note(features: np.ndarray, kind: str, lexical: bool = False) -> str | None:
    """A note on the training examples whose feature vectors are all zeros, if any.

    `lexical`: the head also reads the texts' words and character n-grams, which it can
    still learn from where the module knows no word.
    """
    zero = int(np.sum(~features.any(1)))
    if not zero:
        return None
    what = "have no word the text module knows" if kind != IMAGE else "have all-zero feature vectors"
    share = zero / len(features)
    percent = f"{share:.0%}" if share >= 0.01 else "under 1%"
    learned = ("the head reads them by their words and character n-grams alone (its lexical columns), which "
               "carry less to new texts than word vectors do" if lexical and kind != IMAGE
               else "their feature vectors are zeros and only the class balance can be learned from them")
    return (f"{zero:,} of {len(features):,} training examples ({percent}) {what}; {learned}."
            + (" Pretrain on text closer to your data, or lower --min-count." if kind != IMAGE else ""))


def unknown_words_note(texts: Sequence[str], module: FeatureModule, features: np.ndarray,
                       lexical: bool = False) -> str | None:
    """A note when a text module's vocabulary misses `config.UNKNOWN_WORDS_SHARE` or more of the
    training texts' running words (their first `config.UNKNOWN_WORDS_TEXTS`), else `None`.

    A module pretrained on another language or field knows a word here and there (articles, numbers),
    so few examples are without any known word (`zero_rows_note`) while their sentence vectors rest on
    a handful of words each. Where most are without one, that note says more, and this one is left out.

    Args:
        texts: The training texts.
        module: The text module; its vocabulary, a word per line, is `assets/vocab.txt` (that of a
            pretrain-text module or one made from word vectors; other modules get no note).
        features: float `[len(texts), dim]` the texts' feature vectors from it.
        lexical: The head also reads the texts' words and character n-grams.
    """
    vocab_file = module.path / "assets" / "vocab.txt"
    if module.kind == IMAGE or not vocab_file.is_file() or np.mean(~features.any(1)) >= 0.5:
        return None
    share, unknown = unknown_words(texts[:config.UNKNOWN_WORDS_TEXTS], vocab_file)
    if share < config.UNKNOWN_WORDS_SHARE:
        return None
    shown = ", ".join(repr(word) for word, _ in unknown.most_common(SHOWN))
    letters = " (the head still reads those by their letters: its lexical columns)" if lexical else ""
    return (f"{share:.0%} of the words of the training texts are not in the text module's vocabulary (most often "
            f"{shown}): their sentence vectors come from the other words{letters}. Pretrain on text of your "
            "data's language and field (your own texts among it), or lower --min-count.")


def unknown_words(texts: Sequence[str], vocab_file: Path) -> tuple[float, collections.Counter]:
    """The share of the running words of `texts` (as `vocab.text_words` splits them) missing from a
    vocabulary file (a word per line), and how often each missing word occurs."""
    known = set(vocab_file.read_text(encoding="utf-8").split("\n"))
    words = [word for text in texts for word in text_words(text)]
    unknown = collections.Counter(word for word in words if word not in known)
    return sum(unknown.values()) / max(len(words), 1), unknown


def identical_rows(features: np.ndarray, lexical=None) -> list[list[int]]:
    """Row indices of each group of two or more identical feature vectors, all-zero rows left out.

    `lexical`: the sparse `[n, columns]` lexical columns the head reads beside
    the module's features, if any: rows of a group must be identical there too
    ("bye" and "hi" beside the same unknown user name have one module vector,
    and different words).
    """
    groups = collections.defaultdict(list)
    for i, row in enumerate(np.asarray(features)):
        if row.any():
            groups[row.tobytes()].append(i)
    found = [rows for rows in groups.values() if len(rows) > 1]
    if lexical is None or not found:
        return found
    lexical = lexical.tocsr(copy=True)
    lexical.sum_duplicates()  # sorted indices, one entry per column: equal rows have equal bytes
    split = []
    for rows in found:
        by_columns = collections.defaultdict(list)
        for i in rows:
            start, end = lexical.indptr[i], lexical.indptr[i + 1]
            by_columns[lexical.indices[start:end].tobytes(), lexical.data[start:end].tobytes()].append(i)
        split += [same for same in by_columns.values() if len(same) > 1]
    return split


def conflicting_labels_note(features: np.ndarray, labels: Sequence[str], items: Sequence[str],
                            groups: list[list[int]] | None = None, kind: str | None = None) -> str | None:
    """A note on examples the head cannot tell apart that carry different labels, if any.

    Identical feature vectors (the same text up to case and spacing, the same
    photo), alike in the lexical columns too where the head reads them, get
    one answer from any head, so all but the commonest label of each group
    count as errors in every evaluation: a ceiling worth knowing, and often a
    labeling mistake. All-zero vectors are left to `zero_rows_note`.

    Args:
        features: float `[n, dim]` training feature vectors.
        labels: `[n]` their labels.
        items: `[n]` the texts or image paths, to name examples.
        groups: `identical_rows(features)` (with the head's lexical columns), where already found.
        kind: The module's (`IMAGE` or text). Images of a group are other files
            (a photo saved in two class folders), so a file of each label is
            named, for the user to find and delete; a text group is named by
            one of its texts.
    """
    conflicts = []
    for rows in identical_rows(features) if groups is None else groups:
        counts = collections.Counter(labels[i] for i in rows)
        if len(counts) > 1:
            conflicts.append((rows, counts))
    if not conflicts:
        return None
    conflicts.sort(key=lambda c: -len(c[0]))
    lost = sum(len(rows) - counts.most_common(1)[0][1] for rows, counts in conflicts)

    def named(rows, counts):
        if kind == IMAGE:
            first = {}
            for i in rows:
                first.setdefault(labels[i], items[i])
            more = len(rows) - len(first)
            return (", ".join(f"{first[label]} as {label}" for label, _ in counts.most_common())
                    + (f" and {more:,} more" if more else ""))
        return (f"{one_line(items[rows[0]], EXAMPLE_CHARS)!r}: "
                + ", ".join(f"{label} {n:,}" for label, n in counts.most_common()))

    examples = "; ".join(named(rows, counts) for rows, counts in conflicts[:SHOWN])
    many = len(conflicts) > 1
    return (f"{len(conflicts):,} input{'s' if many else ''} the head cannot tell apart {'have' if many else 'has'} "
            f"different labels ({examples}). A model gives each one answer, so at least {lost:,} of the "
            f"{len(labels):,} examples ({lost / len(labels):.1%}) count as errors in any evaluation. Check these labels.")


def copies_note(features: np.ndarray, labels: Sequence[str], items: Sequence[str],
                groups: list[list[int]] | None = None, kind: str = IMAGE) -> str | None:
    """A note on training examples that repeat another under the same label, if any.

    A copy that lands in another cross-validation fold than its twin is
    scored by a head that trained on it, so the cross-validated figures (and
    the learning curve) read better than new data will. Images: identical
    feature vectors (`groups`), which are copies. Texts: the same words in
    the same order (`vocab.text_words`), which may be copies or texts that
    recur in real use ("none" among pros and cons, "lol" in chat), where
    new data repeats them too; the note says both. Copies under other
    labels are `conflicting_labels_note`'s. Arguments as there, and `kind`,
    the module's (`IMAGE` or text).
    """
    if kind == IMAGE:
        groups = identical_rows(features) if groups is None else groups
    else:
        by_words = collections.defaultdict(list)
        for i, item in enumerate(items):
            if words := tuple(text_words(item)):
                by_words[words].append(i)
        groups = [rows for rows in by_words.values() if len(rows) > 1]
    copies = [rows for rows in groups if len({labels[i] for i in rows}) == 1]
    if not copies:
        return None
    extra = sum(len(rows) - 1 for rows in copies)
    repeat = "repeats" if extra == 1 else "repeat"
    if kind == IMAGE:
        first = copies[0]
        return (f"{extra:,} of {len(labels):,} training images {repeat} another under the same label (identical "
                f"features; e.g. {items[first[0]]} = {items[first[1]]}). A copy in another fold than its twin "
                "flatters cross-validation: keep one of each (tfxfer inspect-data lists the byte-for-byte copies).")
    first = max(copies, key=len)
    return (f"{extra:,} of {len(labels):,} training texts {repeat} another word for word under the same label (e.g. "
            f"{one_line(items[first[0]], EXAMPLE_CHARS)!r}, {len(first)} times). Where such repeats are copies, not "
            "texts that recur in real use, a copy in another fold than its twin flatters cross-validation: keep one "
            "of each.")


def unusual_images(features: np.ndarray, labels: Sequence[str] | None, items: Sequence[str],
                   seed: int = 0) -> list[dict]:
    """Training images unlike every other one: placeholders, wrong files, rare views.

    Each image's similarity to its nearest other image (the cosine of their
    feature vectors) is compared with the median image's, in robust standard
    deviations (1.4826 x the median absolute deviation); those
    `config.UNUSUAL_IMAGE_Z` or more below it, and `config.UNUSUAL_MIN_GAP`
    less similar at least, are returned. Real folders hold
    such files (hymenoptera's ants hold an "image not found" GIF), and a head
    learns from them as from any other labeled photo.

    Args:
        features: float `[n, dim]` training feature vectors; all-zero rows
            are left to `zero_rows_note`.
        labels, items: `[n]` their labels (or `None`) and paths.
        seed: Draws the images compared with, for sets of more than
            `config.UNUSUAL_REFERENCE_IMAGES`. Defaults to `0`.

    Returns:
        `{"item", "label", "nearest_similarity", "typical_similarity", "z"}` of each
        unusual image (typical: the median image's nearest similarity),
        least like the others first; empty for fewer than
        `config.UNUSUAL_MIN_IMAGES` images, or when most are alike to the
        last digit (duplicates).
    """
    x = np.asarray(features, np.float32)
    rows = np.flatnonzero(x.any(1))
    if len(rows) < config.UNUSUAL_MIN_IMAGES:
        return []
    unit = x[rows] / np.linalg.norm(x[rows], axis=1, keepdims=True)
    reference = np.arange(len(rows))
    if len(rows) > config.UNUSUAL_REFERENCE_IMAGES:
        reference = np.sort(np.random.default_rng(seed).choice(len(rows), config.UNUSUAL_REFERENCE_IMAGES,
                                                                replace=False))
    nearest = np.empty(len(rows), np.float32)
    for start in range(0, len(rows), 1024):
        block = np.arange(start, min(start + 1024, len(rows)))
        similarity = unit[block] @ unit[reference].T
        similarity[reference[None, :] == block[:, None]] = -np.inf  # not itself
        nearest[block] = similarity.max(1)
    median = float(np.median(nearest))
    spread = 1.4826 * float(np.median(np.abs(nearest - median)))
    if spread < 1e-6:
        return []
    z = (nearest - median) / spread
    return [{"item": str(items[rows[i]]), "label": None if labels is None else str(labels[rows[i]]),
             "nearest_similarity": round(float(nearest[i]), 3), "typical_similarity": round(median, 3),
             "z": round(float(z[i]), 1)}
            for i in np.argsort(z)
            if z[i] <= -config.UNUSUAL_IMAGE_Z and median - nearest[i] >= config.UNUSUAL_MIN_GAP]


def unusual_images_note(unusual: list[dict], total: int, what: str = "training images",
                        listed_in: str = "report.json") -> str | None:
    """A note naming the images of `unusual_images`, if any, out of `total` images (`what` they are)."""
    if not unusual:
        return None
    n = len(unusual)
    shown = "; ".join(f"{u['item']} ({'' if u['label'] is None else 'labeled ' + u['label'] + ', '}"
                      f"nearest {u['nearest_similarity']:.2f})" for u in unusual[:SHOWN])
    more = f"; and {n - SHOWN:,} more in {listed_in}" if n > SHOWN else ""
    where = ("to their classes" if n > 1 else "to its class") if unusual[0]["label"] is not None else "in the data"
    return (f"{n:,} of {total:,} {what} {'are' if n > 1 else 'is'} unlike every other: {shown}{more}. "
            f"The typical image's nearest other image is {unusual[0]['typical_similarity']:.2f} similar "
            f"(cosine of their features). A placeholder, a wrong file or a rare view: check "
            f"{'they belong' if n > 1 else 'it belongs'} {where}.")


def one_line(text: str, chars: int) -> str:
    """`text` on one line (newlines and runs of spaces made one space), cut to `chars` with "…"."""
    line = " ".join(str(text).split())
    return line if len(line) <= chars else line[:chars - 1].rstrip() + "…"
