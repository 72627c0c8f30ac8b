"""Benchmark: should the search choose whether a text head uses its lexical columns? Replayed.

fit-head's text heads always see the hashed words and character n-grams
(`tfxfer.features.lexical`) beside the sentence vectors. They gain 1 - 9
points on pros_cons, nps_chat and names, and cost sentence_polarity 0.1 -
0.6 and names at 4 per class 2.4 (`bench_heads.py`). This replays a
choice between the two by cross-validation, on the draws of the heads table:
for every text set of the suite, label count and draw, the search runs with
the lexical columns and without them; each choice's per-example
out-of-fold log losses are kept, and each is fitted and scored on the
held-out part, beside LogisticRegression(C=1) on unit-length rows (the
table's LR column). A rule "keep the default unless the other is better by
more than `margin` standard errors" (as the search's other stages) can then be
scored for any margin and either default without refitting. Since stop 53
the choice is fit-head's (`config.LEXICAL = "auto"`, margin
`config.LEXICAL_MARGIN`), chosen by this replay on modules whose lines
pretraining shuffles; `bench_heads.py` measures it as the fit-head column.

Usage: python scripts/bench_lexical.py [--datasets a,b] [--k 4,8,16,64] [--draws 10] [--out raw.jsonl]
       python scripts/bench_lexical.py --replay raw.jsonl
"""

from __future__ import annotations

import bench_suite as suite
import numpy as np
from bench_heads import baselines

from tfxfer.head.classifier import HeadClassifier, one_blas_thread
from tfxfer.head.selection import (
    _per_example_loss,
    _significantly_better,
    cross_validate,
)

MARGINS = (0.0, 0.5, 1.0, 2.0, float("inf"))


def replay_draw(data: suite.Dataset, k: int, draw: int) -> dict:
    """Out-of-fold losses and held-out accuracy of the search with and without lexical columns."""
    train = data.draw(k, draw)
    y, truth = data.labels[train], data.labels[data.test]
    index = np.searchsorted(np.array(sorted(set(y.tolist()))), y)
    record = {"dataset": data.name, "k": k, "draw": draw,
              "LR": float(np.mean(baselines(data, train)["LR"] == truth))}
    for name, lexical in (("lexical", True), ("plain", False)):
        x, (test_x,), columns = suite.head_features(data, train, data.test, lexical=lexical)
        cv = cross_validate(x, y, seed=draw, lexical=columns)
        with one_blas_thread():
            head = HeadClassifier.from_config(cv.best).fit(x, y)
        losses = _per_example_loss(cv.oof_logits, index) if cv.oof_logits is not None else np.zeros(len(y))
        record[name] = {"losses": losses.tolist(), "accuracy": float(np.mean(head.predict(test_x) == truth))}
    return record


def choose(record: dict, margin: float, default: str) -> float:
    """Held-out accuracy of the choice "`default` unless the other is better by `margin` standard errors"."""
    other = "plain" if default == "lexical" else "lexical"
    a, b = ({"losses": np.array(record[n]["losses"])} for n in (other, default))
    return record[other if _significantly_better(a, b, margin) else default]["accuracy"]


def summary(records: list[dict], margins=MARGINS) -> str:
    rows: dict = {}
    for r in records:
        rows.setdefault((r["dataset"], r["k"]), []).append(r)
    rules = [(d, m) for d in ("lexical", "plain") for m in margins if not (d == "plain" and m == float("inf"))]
    names = [f"{d} unless other by {m:g} se" if m != float("inf") else f"always {d}" for d, m in rules]
    lines = ["Held-out accuracy minus LR (points), mean over draws, per rule:",
             "| data set | k | draws | LR | " + " | ".join(names) + " |", "|---" * (len(rules) + 4) + "|"]
    diffs = {rule: [] for rule in rules}
    for key, rs in sorted(rows.items()):
        lr = np.mean([r["LR"] for r in rs])
        cells = []
        for rule in rules:
            d = 100 * (np.mean([choose(r, rule[1], rule[0]) for r in rs]) - lr)
            diffs[rule].append(d)
            cells.append(f"{d:+.2f}")
        lines.append(f"| {key[0]} | {key[1]} | {len(rs)} | {lr:.3f} | " + " | ".join(cells) + " |")
    for label, f in (("mean", np.mean), ("worst", np.min), ("rows below LR", lambda d: sum(x < 0 for x in d)),
                     ("rows >= +1", lambda d: sum(x >= 1 for x in d))):
        lines.append(f"| {label} | | | | " + " | ".join(f"{f(diffs[rule]):+.2f}" if label in ("mean", "worst")
                                                          else f"{f(diffs[rule])}" for rule in rules) + " |")
    return "\n".join(lines)


def main():
    suite.replay_main(__doc__, replay_draw, summary, ",".join(suite.TEXT_SETS), "4,8,16,64")


if __name__ == "__main__":
    main()
