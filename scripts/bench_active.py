"""Benchmark: does labeling what `suggest` picks beat labeling at random?

A simulated labeling loop on sentence_polarity, pros_cons and hymenoptera
(`bench_suite.py`): start from 4 labels per class; each round, fit the head
(fit-head's search) and add 10 labels (text) or 4 (images), chosen at
random, by `typical_picks` (what `tfxfer suggest` runs by default on balanced labels) or by
`rank_for_labeling` (`--strategy uncertain`), from the same pool (a fixed
random sample of 5,000 pool examples per draw, the whole pool for
hymenoptera); 8 rounds, 20 draws (halves of 10 differed by 2 - 4 points
at a round, more than the target's 1); accuracy on the held-out part after
each round.

Target: `suggest` reaches the accuracy random choice reaches at the last
round with at least 30% fewer labels on at least two of the three data sets,
and is never more than 1 point below random at any round.

`--ratio R` runs the loop on imbalanced labels instead (pros_cons: R pros to
each con in the labels, the pool and the held-out part; `--start` cons and R
times as many pros to start from; balanced accuracy; the rare labels found
are printed too), as `suggest --strategy auto` decides by.

Usage: python scripts/bench_active.py [--datasets a,b] [--draws 20] [--first-draw 0] [--rounds 8]
       python scripts/bench_active.py --datasets pros_cons --ratio 20 --start 10 --step 20 --rounds 6
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import bench_suite as suite
import numpy as np
from sklearn.metrics import balanced_accuracy_score

from tfxfer.head.active import rank_for_labeling, typical_picks
from tfxfer.head.search import train_head

DEFAULT_SETS = ("sentence_polarity", "pros_cons", "hymenoptera")
POOL = 5000
STRATEGIES = ("random", "typical", "uncertain")


def loop(data: suite.Dataset, strategy: str, draw: int, rounds: int, step: int,
         start: int = 4, ratio: int | None = None, lexical: bool = True) -> tuple[list[int], list[float], list[int]]:
    """Labels, accuracy (balanced with `ratio`) and labels of the rarest class, after each round.

    The head sees what fit-head's does (a text head's lexical columns too); the picks are spread
    over the module's vectors alone, as `suggest` spreads them."""
    rng = np.random.default_rng(draw)
    test = data.test
    if ratio:
        labeled = data.imbalanced(data.pool, start * (ratio + 1), (ratio, 1), rng)
        pool = data.imbalanced(np.setdiff1d(data.pool, labeled), POOL, (ratio, 1), rng)
        test = data.imbalanced(data.test, len(data.test), (ratio, 1), np.random.default_rng(100 + draw))
    else:
        labeled = data.draw(start, draw)
        pool = np.setdiff1d(data.pool, labeled)
        pool = rng.choice(pool, min(POOL, len(pool)), replace=False)
    x, y = data.features, data.labels
    rarest = data.classes[0] if ratio else None
    sizes, accuracy, rare = [], [], []
    for r in range(rounds + 1):
        train_x, (test_x, pool_x), columns = suite.head_features(data, labeled, test, pool, lexical=lexical)
        clf, _, _ = train_head(train_x, y[labeled], lexical=columns, with_learning_curve=False, seed=draw)
        sizes.append(len(labeled))
        test_x, pool_x = (suite.as_head_reads(clf, v, columns) for v in (test_x, pool_x))
        predicted = clf.predict(test_x)
        accuracy.append(float(balanced_accuracy_score(y[test], predicted) if ratio else np.mean(predicted == y[test])))
        rare.append(int(np.sum(y[labeled] == rarest)))
        if r == rounds:
            break
        if strategy == "random":
            chosen = rng.choice(pool, step, replace=False)
        elif strategy == "typical":
            chosen = pool[typical_picks(x[pool], step, x[labeled], seed=draw)]
        else:
            chosen = pool[rank_for_labeling(x[pool], clf.predict_proba(pool_x), step)]
        labeled = np.union1d(labeled, chosen)
        pool = np.setdiff1d(pool, chosen)
    return sizes, accuracy, rare


def labels_to_reach(sizes, curve, target) -> float | None:
    """The fewest labels at which `curve` reaches `target` (interpolated), or `None`."""
    for i, acc in enumerate(curve):
        if acc >= target:
            if i == 0:
                return sizes[0]
            a0, a1 = curve[i - 1], acc
            return sizes[i - 1] + (sizes[i] - sizes[i - 1]) * (target - a0) / max(a1 - a0, 1e-9)
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default=",".join(DEFAULT_SETS))
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--first-draw", type=int, default=0, help="draws first-draw .. first-draw + draws - 1")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--strategies", default=",".join(STRATEGIES), help="random first")
    parser.add_argument("--start", type=int, default=4, help="labels per class to start from")
    parser.add_argument("--step", type=int, help="labels per round (default 10 for text, 4 for images)")
    parser.add_argument("--ratio", type=int, help="imbalanced labels: this many of the common class to each rare one")
    parser.add_argument("--work", type=Path, default=suite.default_work_dir())
    parser.add_argument("--out", type=Path, help="write the raw results as JSON")
    parser.add_argument("--no-lexical", action="store_true", help="the sentence vectors alone (fit-head --no-lexical)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("tfxfer").setLevel(logging.ERROR)
    results, lines = {}, []
    for name in args.datasets.split(","):
        data = suite.load(name, args.work)
        step = args.step or (4 if data.kind == "image" else 10)
        strategies = args.strategies.split(",")
        curves = {s: [loop(data, s, d, args.rounds, step, args.start, args.ratio, not args.no_lexical)
                      for d in range(args.first_draw, args.first_draw + args.draws)]
                  for s in strategies}
        sizes = curves["random"][0][0]
        mean = {s: np.mean([acc for _, acc, _ in c], 0) for s, c in curves.items()}
        std = {s: np.std([acc for _, acc, _ in c], 0) for s, c in curves.items()}
        rare = {s: np.mean([found for _, _, found in c], 0).round(1).tolist() for s, c in curves.items()}
        results[name] = {"labels": sizes, **{s: [mean[s].tolist(), std[s].tolist()] for s in mean}}
        shown = name
        if args.ratio:
            results[name]["rare_labels"] = rare
            shown = f"{name} {args.ratio}:1"
        for s in strategies:
            cells = " | ".join(f"{m:.3f} ± {d:.3f}" for m, d in zip(mean[s], std[s]))
            if s == "random":
                chosen = f"{s} ({rare[s][-1]:g} rare)" if args.ratio else s
                lines.append(f"| {shown} ({sizes[0]} + {step}/round) | {chosen} | {cells} | | |")
                continue
            need = labels_to_reach(sizes, mean[s], mean["random"][-1])
            saving = "-" if need is None else f"{1 - need / sizes[-1]:.0%}"
            worst = float(np.min(mean[s] - mean["random"]))
            chosen = f"{s} ({rare[s][-1]:g} rare)" if args.ratio else s
            lines.append(f"| | {chosen} | {cells} | {saving} | {100 * worst:+.1f} |")
        print(json.dumps({name: results[name]}), flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    rounds_header = " | ".join(f"round {r}" for r in range(args.rounds + 1))
    print(f"\n| data set (labels per round) | chosen | {rounds_header} | labels saved | worst round |")
    print("|---" * (4 + args.rounds + 1) + "|")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
