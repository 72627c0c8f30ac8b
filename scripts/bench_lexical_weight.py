"""Benchmark: how much a text head's lexical columns should weigh against the sentence vectors. Replayed.

Both blocks of a text head's features have rows of unit length (the
vectors after `normalization="l2"`, the hashed counts by construction), and
one L2 penalty covers both. Scaling the lexical block by `a` is a penalty
`1 / a^2` times as strong on its weights, relative to the vectors': a
choice the search's C grid cannot make. This replays fit-head's search on
the heads table's draws (every text set of the suite, 4 - 64 labels per
class, 10 draws) with the lexical block scaled by each `a` of `WEIGHTS`,
each fitted and scored on the held-out part beside
LogisticRegression(C=1) on unit-length rows (the table's LR column).

Usage: python scripts/bench_lexical_weight.py [--datasets a,b] [--k 4,8,16,64] [--draws 10] [--out raw.jsonl]
       python scripts/bench_lexical_weight.py --replay raw.jsonl
"""

from __future__ import annotations

import bench_suite as suite
import numpy as np
from bench_heads import baselines

from tfxfer.head.classifier import HeadClassifier, one_blas_thread
from tfxfer.head.selection import cross_validate

WEIGHTS = (0.5, 0.7, 1.0, 1.4)  # 1.0: fit-head's


def replay_draw(data: suite.Dataset, k: int, draw: int) -> dict:
    """Held-out accuracy of the search's head with the lexical block scaled by each weight."""
    train = data.draw(k, draw)
    y, truth = data.labels[train], data.labels[data.test]
    record = {"dataset": data.name, "k": k, "draw": draw,
              "LR": float(np.mean(baselines(data, train)["LR"] == truth))}
    x, (test_x,), columns = suite.head_features(data, train, data.test)
    for weight in WEIGHTS:
        scale = np.ones(x.shape[1], np.float32)
        scale[x.shape[1] - columns:] = weight
        cv = cross_validate(x * scale, y, seed=draw, lexical=columns)
        with one_blas_thread():
            head = HeadClassifier.from_config(cv.best).fit(x * scale, y)
        record[str(weight)] = float(np.mean(head.predict(test_x * scale) == truth))
    return record


def summary(records: list[dict]) -> str:
    rows: dict = {}
    for r in records:
        rows.setdefault((r["dataset"], r["k"]), []).append(r)
    lines = ["Held-out accuracy minus LR (points), mean over draws, per weight of the lexical block:",
             "| data set | k | LR | " + " | ".join(f"a = {w:g}" for w in WEIGHTS) + " |", "|---" * (len(WEIGHTS) + 3) + "|"]
    diffs = {w: [] for w in WEIGHTS}
    for (name, k), rs in sorted(rows.items()):
        lr = np.mean([r["LR"] for r in rs])
        for w in WEIGHTS:
            diffs[w].append(100 * (np.mean([r[str(w)] for r in rs]) - lr))
        lines.append(f"| {name} | {k} | {lr:.3f} | " + " | ".join(f"{diffs[w][-1]:+.2f}" for w in WEIGHTS) + " |")
    lines.append("| mean | | | " + " | ".join(f"{np.mean(diffs[w]):+.2f}" for w in WEIGHTS) + " |")
    lines.append("| worst | | | " + " | ".join(f"{np.min(diffs[w]):+.2f}" for w in WEIGHTS) + " |")
    lines.append("| rows below LR | | | " + " | ".join(f"{sum(d < 0 for d in diffs[w])}" for w in WEIGHTS) + " |")
    lines.append("| rows >= LR + 1 | | | " + " | ".join(f"{sum(d >= 1 for d in diffs[w])}" for w in WEIGHTS) + " |")
    return "\n".join(lines)


def main():
    suite.replay_main(__doc__, replay_draw, summary, ",".join(suite.TEXT_SETS), "4,8,16,64")


if __name__ == "__main__":
    main()
