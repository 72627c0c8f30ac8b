"""What the training features tell about the labeled data: examples a module
cannot see, and inputs labeled both ways. Each note is one line of the report."""

from __future__ import annotations

import collections
from typing import Sequence

import numpy as np

from tfxfer.features.load import IMAGE

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


def conflicting_labels_note(features: np.ndarray, labels: Sequence[str], items: Sequence[str]) -> str | None:
    """A note on examples the module cannot tell apart that carry different labels, if any.

    Identical feature vectors (the same text up to case and spacing, the same
    photo) get one answer from any head, so all but the commonest label of
    each group count as errors in every evaluation: a ceiling worth knowing,
    and often a labeling mistake. All-zero vectors are left to `zero_rows_note`.

    Args:
        features: float `[n, dim]` training feature vectors.
        labels: `[n]` their labels.
        items: `[n]` the texts or image paths, to name examples.
    """
    groups = collections.defaultdict(list)
    for i, row in enumerate(np.asarray(features)):
        if row.any():
            groups[row.tobytes()].append(i)
    conflicts = []
    for rows in groups.values():
        counts = collections.Counter(labels[i] for i in rows)
        if len(counts) > 1:
            conflicts.append((rows, counts))
    if not conflicts:
        return None
    conflicts.sort(key=lambda c: -len(c[0]))
    lost = sum(len(rows) - counts.most_common(1)[0][1] for rows, counts in conflicts)
    examples = "; ".join(
        f"{one_line(items[rows[0]], EXAMPLE_CHARS)!r}: "
        + ", ".join(f"{label} {n:,}" for label, n in counts.most_common())
        for rows, counts in conflicts[:SHOWN])
    many = len(conflicts) > 1
    return (f"{len(conflicts):,} input{'s' if many else ''} the module cannot tell apart {'have' if many else 'has'} "
            f"different labels ({examples}). A model gives each one answer, so at least {lost:,} of the "
            f"{len(labels):,} examples ({lost / len(labels):.1%}) count as errors in any evaluation. Check these labels.")


def one_line(text: str, chars: int) -> str:
    """`text` on one line (newlines and runs of spaces made one space), cut to `chars` with "…"."""
    line = " ".join(str(text).split())
    return line if len(line) <= chars else line[:chars - 1].rstrip() + "…"
