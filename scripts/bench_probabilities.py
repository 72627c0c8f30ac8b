"""Do the export's `probabilities` mean what they say where the classes are imbalanced?

fit-head's default head weighs classes equally (`class_weight="balanced"`), so
it finds rare classes, and its `scores` (argmax: its answers) are what a head
would say if every class were equally common. `probabilities` are corrected
for the training labels' class frequencies (`tfxfer.head.calibration`).
Both are scored on held-out data with the training labels' class mix:

- pros_cons drawn 19 to 1 and 3 to 1 (pros to cons), the held-out part
  resampled to the same mix;
- nps_chat (15 dialogue acts, 30% Statement, 1% or less for five of them) and
  names (63% women's) drawn at random, scored on their fixed held-out parts.

Columns, mean over draws: log loss of the true class; expected calibration
error (top label, of each output's own top class); and the worst class gap:
over the classes the head answered 10 times or more, the largest distance
between the mean score (or probability) of the answered class and the share
of those answers that are right. Balanced accuracy is the head's (both
outputs share its answers).

Heads are fit-head's: text heads with lexical columns (`--no-lexical`: without).
`--class-weight-hint` also fits each draw's head with `class_weight=None`: is
the accuracy the report foretells for it (answering by the balanced head's
probabilities, out of fold) what it gets, cross-validated and held out?

Usage: python scripts/bench_probabilities.py [--draws 5] [--no-lexical] [--class-weight-hint]
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import bench_suite as suite
import numpy as np
from sklearn.metrics import balanced_accuracy_score

from tfxfer import reliability
from tfxfer.head.search import train_head

# (data set, labels drawn, mix): mix "natural" draws at random; a pair draws (common, rare) of pros_cons.
SETTINGS = (("pros_cons", 525, (20, 1)), ("pros_cons", 2100, (20, 1)), ("pros_cons", 400, (3, 1)),
            ("nps_chat", 500, "natural"), ("nps_chat", 2000, "natural"), ("names", 500, "natural"))


def worst_gap(probabilities: np.ndarray, truth: np.ndarray, answers: np.ndarray) -> float:
    gaps = [abs(probabilities[answers == c, c].mean() - (truth[answers == c] == c).mean())
            for c in np.unique(answers) if (answers == c).sum() >= reliability.SCORES_CHECKED]
    return max(gaps) if gaps else float("nan")


def measure(data: suite.Dataset, size: int, mix, draws: int, lexical: bool = True, hint: bool = False) -> list[dict]:
    out = []
    for seed in range(draws):
        rng = np.random.default_rng(seed)
        if mix == "natural":
            train, test = rng.choice(data.pool, size, replace=False), data.test
        else:
            train, test = data.imbalanced(data.pool, size, mix, rng), data.imbalanced(data.test, len(data.test), mix, rng)
        train_x, (x,), columns = suite.head_features(data, train, test, lexical=lexical)
        clf, report, _ = train_head(train_x, data.labels[train].tolist(), lexical=columns, with_learning_curve=False,
                                    seed=seed)
        known = np.isin(data.labels[test], clf.classes_)
        every, truth = x[known], np.searchsorted(clf.classes_, data.labels[test][known])
        x = suite.as_head_reads(clf, every, columns)
        answers = np.searchsorted(clf.classes_, clf.predict(x))
        row = {"balanced_accuracy": balanced_accuracy_score(truth, answers)}
        if hint:  # what the report foretells for --class-weight none, and what that head does
            plain, plain_report, _ = train_head(train_x, data.labels[train].tolist(), lexical=columns,
                                                class_weight=None, with_learning_curve=False, seed=seed)
            row["hint"] = (report["cross_validation"]["accuracy_mean"], np.mean(answers == truth),
                           (report["calibration"].get("probabilities") or {}).get("accuracy", np.nan),
                           plain_report["cross_validation"]["accuracy_mean"],
                           np.mean(np.searchsorted(plain.classes_, plain.predict(
                               suite.as_head_reads(plain, every, columns))) == truth))
        for name, p in (("scores", clf.predict_proba(x)), ("probabilities", clf.probabilities(x))):
            row[name] = (-np.mean(np.log(np.maximum(p[np.arange(len(truth)), truth], 1e-12))),
                         reliability.expected_calibration_error(p, p.argmax(1) == truth), worst_gap(p, truth, answers))
        out.append(row)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--work", type=Path, default=suite.default_work_dir())
    parser.add_argument("--no-lexical", action="store_true", help="the sentence vectors alone (fit-head --no-lexical)")
    parser.add_argument("--class-weight-hint", action="store_true",
                        help="also fit --class-weight none heads: does the report's hint foretell their accuracy?")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("tfxfer").setLevel(logging.ERROR)
    loaded, hints = {}, []
    lines = [("| data set | labels (mix) | balanced accuracy | log loss: scores -> probabilities | ECE | "
              "worst class gap |"), "|---|---|---|---|---|---|"]
    for name, size, mix in SETTINGS:
        data = loaded.setdefault(name, suite.load(name, args.work))
        rows = measure(data, size, mix, args.draws, lexical=not args.no_lexical, hint=args.class_weight_hint)
        label = f"{size} ({'random' if mix == 'natural' else f'{mix[0]} to {mix[1]}'})"
        if args.class_weight_hint:
            h = np.nanmean([r["hint"] for r in rows], 0)
            hints.append(f"| {name} | {label} | {h[0]:.3f} / {h[1]:.3f} | {h[2]:.3f} | {h[3]:.3f} / {h[4]:.3f} |")
        mean = {k: np.nanmean([r[k] for r in rows], 0) for k in ("scores", "probabilities")}
        lines.append(f"| {name} | {label} | {np.mean([r['balanced_accuracy'] for r in rows]):.3f} | "
                     + " | ".join(f"{mean['scores'][i]:.3f} -> {mean['probabilities'][i]:.3f}" for i in range(3))
                     + " |")
        print(lines[-1], flush=True)
    print("\n".join(lines))
    if hints:
        print("\n| data set | labels (mix) | accuracy of the balanced head: CV / held out | answering by its "
              "probabilities, out of fold (the report's hint) | --class-weight none: CV / held out |")
        print("|---|---|---|---|---|")
        print("\n".join(hints))


if __name__ == "__main__":
    main()
