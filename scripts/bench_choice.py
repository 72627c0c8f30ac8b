"""Benchmark: how the search should choose C and the lexical columns on a few labels. Replayed.

fit-head's search takes the C of `config.C_GRID` with the lowest
out-of-fold log loss. With 8 - 30 labels that choice is mostly noise, and
on three rows of the heads table (pros_cons, names and hymenoptera at 4 per
class) fit-head ends 0.2 - 0.7 points below the logistic regression it
starts from (C = 1 on unit rows). This keeps, for every data set of the
suite, label count and draw, each candidate the search tries (unit rows over
the C grid, the other normalisations where the search tries them, with and
without the lexical columns): its per-example out-of-fold log losses and its
held-out accuracy when fitted on all the labels. Any rule of the form "keep
the default unless another is better by `margin` standard errors (paired)"
can then be scored without refitting, beside the LR column of the heads
table.

Usage: python scripts/bench_choice.py [--datasets a,b] [--k 4,8,16,64] [--draws 10] [--out raw.jsonl]
       python scripts/bench_choice.py --replay raw.jsonl
"""

from __future__ import annotations

import dataclasses

import bench_suite as suite
import numpy as np
from bench_heads import _lowest, baselines

from tfxfer import config
from tfxfer.head.classifier import HeadClassifier, one_blas_thread
from tfxfer.head.selection import (
    _per_example_loss,
    _significantly_better,
    make_splits,
    out_of_fold_logits,
)

# (how C is chosen, lexical margin): "lowest" C; C = 1 "unless" another is better by m
# standard errors; "one-se": the most regularised C not worse than the lowest by m (Hastie et al.).
RULES = (
    (("lowest", 0.0), 0.5),  # the search today
    (("lowest", 0.0), 1.0),
    (("lowest", 0.0), 2.0),
    (("one-se", 0.5), 0.5),
    (("one-se", 1.0), 0.5),
    (("unless", 1.0), 0.5),
    (("unless", 2.0), 0.5),
)


def replay_draw(data: suite.Dataset, k: int, draw: int) -> dict:
    """Every candidate's out-of-fold losses and held-out accuracy, with and without lexical columns."""
    train = data.draw(k, draw)
    y, truth = data.labels[train], data.labels[data.test]
    index = np.searchsorted(np.array(sorted(set(y.tolist()))), y)
    splits, _, _ = make_splits(y.tolist(), draw)
    record = {"dataset": data.name, "k": k, "draw": draw, "n": len(y),
              "LR": float(np.mean(baselines(data, train)["LR"] == truth))}
    norms = config.NORMALIZATIONS if len(y) > config.SMALL_SET_MAX else ("l2",)
    for name, lexical in (("plain", False), ("lexical", True)):
        if lexical and data.kind != "text":
            continue
        x, (test_x,), columns = suite.head_features(data, train, data.test, lexical=lexical)
        candidates = []
        with one_blas_thread():
            for norm in norms:
                warm: list = []
                for c in config.C_GRID:
                    cfg = dataclasses.replace(config.HEAD, normalization=norm, C=c, seed=draw, lexical_columns=columns)
                    logits = out_of_fold_logits(HeadClassifier.from_config(cfg), x, y, splits, warm=warm)
                    head = HeadClassifier.from_config(cfg).fit(x, y)
                    candidates.append({"normalization": norm, "C": c,
                                       "losses": np.round(_per_example_loss(logits, index), 5).tolist(),
                                       "accuracy": float(np.mean(head.predict(test_x) == truth))})
        record[name] = candidates
    return record


def _better(a, b, margin) -> bool:
    return _significantly_better({"losses": np.array(a["losses"])}, {"losses": np.array(b["losses"])}, margin)


def choose(record: dict, c_rule: tuple[str, float], lexical_margin: float) -> float:
    """Held-out accuracy of the search under a rule (see `RULES`).

    The other normalisations and the lexical columns then replace the choice
    as the search does (by `config.NORMALIZATION_MARGIN` and `lexical_margin`).
    """
    kind, margin = c_rule

    def branch(cands):
        unit = [c for c in cands if c["normalization"] == "l2"]  # most regularised first
        best = _lowest(unit)
        if kind == "unless":
            default = next(c for c in unit if c["C"] == config.HEAD.C)
            best = best if _better(best, default, margin) else default
        elif kind == "one-se":
            best = next(c for c in unit if not _better(best, c, margin))
        others = [c for c in cands if c["normalization"] != "l2"]
        if others:
            rival = _lowest(others)
            best = rival if _better(rival, best, config.NORMALIZATION_MARGIN) else best
        return best

    plain = branch(record["plain"])
    if "lexical" not in record:
        return plain["accuracy"]
    lexical = branch(record["lexical"])
    return (lexical if _better(lexical, plain, lexical_margin) else plain)["accuracy"]


def _name(rule) -> str:
    (kind, margin), lexical = rule
    c = {"lowest": "lowest C", "one-se": f"one-se {margin:g}", "unless": f"C=1 unless {margin:g} se"}[kind]
    return f"{c}, lexical {lexical:g} se"


def summary(records: list[dict]) -> str:
    rows: dict = {}
    for r in records:
        rows.setdefault((r["dataset"], r["k"]), []).append(r)
    lines = ["Held-out accuracy minus LR (points), mean over draws, per rule (the first: the search today):",
             "| data set | k | draws | LR | " + " | ".join(map(_name, RULES)) + " |", "|---" * (len(RULES) + 4) + "|"]
    diffs: dict = {rule: [] for rule in RULES}
    for key, rs in sorted(rows.items()):
        lr = np.mean([r["LR"] for r in rs])
        cells = []
        for rule in RULES:
            d = 100 * (np.mean([choose(r, *rule) for r in rs]) - lr)
            diffs[rule].append(d)
            cells.append(f"{d:+.2f}")
        lines.append(f"| {key[0]} | {key[1]} | {len(rs)} | {lr:.3f} | " + " | ".join(cells) + " |")
    for label, f in (("mean", np.mean), ("worst", np.min), ("rows below LR", lambda d: sum(x < 0 for x in d)),
                     ("rows >= +1", lambda d: sum(x >= 1 for x in d))):
        lines.append(f"| {label} | | | | " + " | ".join(
            f"{f(diffs[rule]):+.2f}" if label in ("mean", "worst") else f"{f(diffs[rule])}" for rule in RULES) + " |")
    return "\n".join(lines)


def main():
    suite.replay_main(__doc__, replay_draw, summary, ",".join(suite.DATASETS), "4,8,16,64")


if __name__ == "__main__":
    main()
