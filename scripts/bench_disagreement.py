"""Can unlabeled examples tell a head's accuracy better than cross-validation on its few labels?

The forecast of `labels_needed` starts from the cross-validated accuracy, and
on 8 - 32 labels that starting point is off by 5 - 15 points (its binomial
noise), the bulk of the backtest's error (`bench_labels_needed.py`). Heads
trained on disjoint halves of the labels disagree on unlabeled examples about
as often as independent classifiers of accuracy p would, 2p(1 - p), if their
errors were independent: a label-free estimate of p from the pool.

For each binary data set of the suite, n = 4, 8 and 16 labels per class and
20 draws, with `LogisticRegression(C=1, class_weight="balanced")` on unit rows
of the module's vectors (the head's default, without the search):
- cv: stratified k-fold (k = min(n, 5)), 3 repeats, as fit-head;
- halves: 1 - the disagreement of heads fitted on the two halves of a
  stratified 2-fold split (5 splits) on 5,000 pool rows not drawn;
- independent: p solving 2p(1 - p) = that disagreement;
- mean: the mean of cv and independent.
Reported: the mean estimate and the median absolute error (points) against the
held-out accuracy of the head fitted on all n per class.

Usage: python scripts/bench_disagreement.py [--datasets a,b] [--draws 20]
"""

from __future__ import annotations

import argparse

import bench_suite as suite
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from tfxfer.head.train import l2_normalize

ESTIMATES = ("cv", "halves", "independent", "mean")


def _lr():
    return LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000)


def estimates(x, y, pool_x, n: int) -> dict:
    correct = []
    for repeat in range(3):
        for a, b in StratifiedKFold(min(n, 5), shuffle=True, random_state=repeat).split(x, y):
            correct += list(_lr().fit(x[a], y[a]).predict(x[b]) == y[b])
    disagree = []
    for repeat in range(5):
        halves = [a for a, _ in StratifiedKFold(2, shuffle=True, random_state=repeat).split(x, y)]
        first, second = (_lr().fit(x[h], y[h]).predict(pool_x) for h in halves)
        disagree.append(np.mean(first != second))
    d = float(np.mean(disagree))
    independent = (1 + np.sqrt(max(0.0, 1 - 2 * d))) / 2
    cv = float(np.mean(correct))
    return {"cv": cv, "halves": 1 - d, "independent": independent, "mean": (cv + independent) / 2}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="hymenoptera,pros_cons,sentence_polarity,names,product_reviews")
    parser.add_argument("--draws", type=int, default=20)
    args = parser.parse_args()
    print("| data set | n | held out | " + " | ".join(ESTIMATES) + " |")
    print("|---" * (len(ESTIMATES) + 3) + "|")
    errors: dict = {e: [] for e in ESTIMATES}
    for name in args.datasets.split(","):
        data = suite.load(name, suite.default_work_dir())
        x = l2_normalize(data.features)
        for n in (4, 8, 16):
            rows = []
            for draw in range(args.draws):
                train = data.draw(n, seed=1000 * n + draw)
                rest = np.setdiff1d(data.pool, train)
                pool = np.random.default_rng(draw).choice(rest, min(5000, len(rest)), replace=False)
                held_out = float(np.mean(_lr().fit(x[train], data.labels[train]).predict(x[data.test])
                                         == data.labels[data.test]))
                rows.append((held_out, estimates(x[train], data.labels[train], x[pool], n)))
            truth = np.array([t for t, _ in rows])
            cells = []
            for e in ESTIMATES:
                values = np.array([r[e] for _, r in rows])
                err = 100 * np.abs(values - truth)
                errors[e] += err.tolist()
                cells.append(f"{values.mean():.3f} ({np.median(err):.1f})")
            print(f"| {name} | {n} | {truth.mean():.3f} | " + " | ".join(cells) + " |", flush=True)
    print("| all | | | " + " | ".join(f"({np.median(errors[e]):.1f})" for e in ESTIMATES) + " |")


if __name__ == "__main__":
    main()
