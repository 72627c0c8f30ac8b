"""Benchmark: the rule that decides whether fit-head uses unlabeled examples, replayed.

For every data set of the suite (`bench_suite.py`), 4, 8 and 16 labels per
class and 10 draws (as `bench_heads.py`, with the rest of the pool as
unlabeled examples, a random 5,000 at most): the search without unlabeled
examples chooses a head; then that head and each pseudo-label candidate of
the search's unlabeled stage (`config.PSEUDO_LABEL_GRID`) are cross-validated
on the labels alone (per-example out-of-fold log losses kept) and fitted and
scored on the held-out part. Any margin rule can then be scored without
refitting: the search keeps a candidate whose log loss is lower by more than
`margin` standard errors (`config.UNLABELED_MARGIN`), and the replay reports,
per margin, the mean held-out gain over the rows, the worst row and the
gains at the smallest label count. Text heads keep their lexical columns
throughout, as fit-head did until stop 53; since then fit-head keeps them
only where cross-validation finds they help, and `bench_heads.py
--only-unlabeled` measures its `--unlabeled` as it is (the README's
figures).

Usage: python scripts/bench_unlabeled.py [--datasets a,b] [--k 4,8,16] [--draws 10] [--out raw.jsonl]
"""

from __future__ import annotations

import dataclasses

import bench_suite as suite
import numpy as np
from bench_heads import unlabeled_rows

from tfxfer import config
from tfxfer.head.classifier import HeadClassifier, one_blas_thread
from tfxfer.head.selection import (
    _per_example_loss,
    _significantly_better,
    cross_validate,
    out_of_fold_logits,
)

MARGINS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)


def replay_draw(data: suite.Dataset, k: int, draw: int) -> dict:
    """The head without unlabeled examples (`f: None`) and each pseudo-label fraction `f`:
    out-of-fold per-example losses and held-out accuracy."""
    train = data.draw(k, draw)
    rest = unlabeled_rows(data, train, draw)
    x, (test_x, unlabeled), columns = suite.head_features(data, train, data.test, rest)
    y, truth = data.labels[train], data.labels[data.test]
    index = np.searchsorted(np.array(sorted(set(y.tolist()))), y)
    cv = cross_validate(x, y, seed=draw, lexical=columns)
    with one_blas_thread():
        plain = HeadClassifier.from_config(cv.best).fit(x, y)
        candidates = [{"f": None, "losses": _per_example_loss(cv.oof_logits, index).tolist(),
                       "accuracy": float(np.mean(plain.predict(test_x) == truth))}]
        for f in config.PSEUDO_LABEL_GRID:
            if f == 0 and cv.best.normalization == "l2":
                continue  # as the search: unit-length rows use no statistics
            cfg = dataclasses.replace(cv.best, pseudo_labels=f)
            logits = out_of_fold_logits(HeadClassifier.from_config(cfg), x, y, cv.splits, unlabeled)
            head = HeadClassifier.from_config(cfg).fit(x, y, unlabeled=unlabeled)
            candidates.append({"f": f, "losses": _per_example_loss(logits, index).tolist(),
                               "accuracy": float(np.mean(head.predict(test_x) == truth))})
    return {"dataset": data.name, "k": k, "draw": draw, "candidates": candidates}


def choose(record: dict, margin: float) -> dict:
    """The candidate the search's unlabeled stage keeps at `margin` (`selection._Search.run`)."""
    without = best = {**record["candidates"][0], "losses": np.array(record["candidates"][0]["losses"])}
    for c in record["candidates"][1:]:
        c = {**c, "losses": np.array(c["losses"])}
        if c["losses"].mean() < best["losses"].mean() and _significantly_better(c, without, margin):
            best = c
    return best


def summary(records: list[dict], margins=MARGINS) -> str:
    rows: dict = {}
    for r in records:
        rows.setdefault((r["dataset"], r["k"]), []).append(r)
    gain = {m: {key: 100 * np.mean([choose(r, m)["accuracy"] - r["candidates"][0]["accuracy"] for r in rs])
                for key, rs in rows.items()} for m in margins}
    lines = ["| data set | k | draws | " + " | ".join(f"margin {m}" for m in margins) + " |",
             "|---" * (len(margins) + 3) + "|"]
    for key, rs in sorted(rows.items()):
        lines.append(f"| {key[0]} | {key[1]} | {len(rs)} | " + " | ".join(f"{gain[m][key]:+.2f}" for m in margins)
                     + " |")
    lines.append("| mean | | | " + " | ".join(f"{np.mean(list(gain[m].values())):+.2f}" for m in margins) + " |")
    lines.append("| worst | | | " + " | ".join(f"{min(gain[m].values()):+.2f}" for m in margins) + " |")
    return "Held-out gain of the chosen use of unlabeled examples (points), per margin:\n" + "\n".join(lines)


def main():
    suite.replay_main(__doc__, replay_draw, summary, ",".join(suite.DATASETS), "4,8,16")


if __name__ == "__main__":
    main()
