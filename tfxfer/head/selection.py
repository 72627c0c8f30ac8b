"""Choose the head and its regularisation by stratified cross-validation."""

from __future__ import annotations

import collections
import dataclasses
import logging
from typing import Callable, Sequence

import numpy as np
from sklearn.model_selection import LeaveOneOut, StratifiedKFold

from tfxfer import config
from tfxfer.head.classifier import HeadClassifier

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class CrossValidation:
    """The outcome of the search.

    Attributes:
        best: The chosen `HeadConfig`.
        scheme: How it was validated, e.g. `"stratified 5-fold"`, `"leave-one-out"`,
            or `"none"` when a class has a single example.
        note: Why the scheme was chosen, for the report.
        fold_scores: Accuracy of `best` on each fold.
        candidates: Mean accuracy of every candidate, `(description, mean, std)`.
        oof_predictions: Out-of-fold label predicted for each example by `best`.
        oof_probabilities: Out-of-fold probability of that label.
    """

    best: config.HeadConfig
    scheme: str
    note: str
    fold_scores: list[float]
    candidates: list[tuple[str, float, float]]
    oof_predictions: list[str] | None
    oof_probabilities: list[float] | None
    splits: list[tuple[np.ndarray, np.ndarray]] = dataclasses.field(repr=False, default_factory=list)


def make_splits(labels: Sequence[str], seed: int) -> tuple[list, str, str]:
    """Folds adapted to the data: `(splits, scheme, note)`."""
    counts = collections.Counter(labels)
    smallest_class, smallest = min(counts.items(), key=lambda kv: (kv[1], kv[0]))
    n = len(labels)
    if smallest < 2:
        note = (
            f"Cross-validation skipped: class {smallest_class!r} has a single example. The default "
            "head was used; add examples to get a validated choice and report."
        )
        return [], "none", note
    if n <= config.LEAVE_ONE_OUT_MAX:
        return list(LeaveOneOut().split(np.zeros(n))), "leave-one-out", f"{n} examples: leave-one-out."
    k = min(config.CV_FOLDS, smallest)
    note = f"stratified {k}-fold"
    if k < config.CV_FOLDS:
        note += f" (fewer than {config.CV_FOLDS} folds: class {smallest_class!r} has {smallest} examples)"
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(n), labels)), f"stratified {k}-fold", note


def cross_validate(
    features: np.ndarray,
    labels: Sequence[str],
    candidates: Sequence[config.HeadConfig] = config.HEAD_CANDIDATES,
    seed: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> CrossValidation:
    """Score each candidate head by cross-validation and keep the best.

    Ties go to the earlier candidate (`config.HEAD_CANDIDATES` lists the most
    regularised first).
    """
    labels = list(labels)
    splits, scheme, note = make_splits(labels, seed)
    candidates = [dataclasses.replace(c, seed=seed) for c in candidates]
    if not splits:
        logger.warning(note)
        return CrossValidation(candidates[0] if len(candidates) == 1 else config.HeadConfig(seed=seed),
                               scheme, note, [], [], None, None, [])
    labels_arr = np.array(labels)
    results = []
    done, total = 0, len(candidates) * len(splits)
    for cand in candidates:
        scores, predicted, prob = [], np.empty(len(labels), object), np.zeros(len(labels))
        for train, test in splits:
            clf = HeadClassifier(cand).fit(features[train], labels_arr[train].tolist())
            p = clf.predict_proba(features[test])
            predicted[test] = np.array(clf.classes_)[p.argmax(1)]
            prob[test] = p.max(1)
            scores.append(float(np.mean(predicted[test] == labels_arr[test])))
            done += 1
            if progress:
                progress(done, total)
        # LOO folds are single examples: score the pooled predictions instead.
        results.append((cand, scores, predicted.tolist(), prob.tolist()))
    best = max(results, key=lambda r: np.mean(r[1]))  # max keeps the first of equals
    summary = [(HeadClassifier(c).describe(), float(np.mean(s)), float(np.std(s))) for c, s, _, _ in results]
    logger.info("Cross-validation (%s): %s", scheme, summary)
    return CrossValidation(best[0], scheme, note, best[1], summary, best[2], best[3], splits)
