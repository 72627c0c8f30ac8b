"""Backtest: does the report's forecast of "accuracy with 4x the labels" hold up?

For each data set of the suite (`bench_suite.py`), n = 4, 8 and 16 labels
per class and 10 draws: fit-head's search with n labels per class gives the
report's forecast for 4n per class (median and 80% range); then 3n more
random labels per class are added to the same n, the head is fitted again,
and its accuracy is measured on the held-out part.

The forecast is of accuracy on examples with the labeled set's class mix (it
extends the cross-validated accuracy), so that is what it is checked
against (for imbalanced labels, where the report forecasts balanced
accuracy, the held-out balanced accuracy): the held-out accuracy with each class weighted by its share of the
n labels per class. Where the held-out part has another mix (nps_chat's 15
classes are drawn up to n each, but its held-out posts are 30% Statement and
25% System), its plain accuracy is shown beside it.

Reported per data set and n, and over all: the median absolute error of the
forecast median, and the coverage of the 80% range (how often the measured
accuracy falls inside it).
Targets: median absolute error <= 3 points; coverage between 70% and 90%.

Text heads get their lexical columns, as fit-head's default (`--no-lexical`:
the sentence vectors alone, the heads of stops 16 - 22).

`--curves DIR` keeps each draw's learning curve (what `forecast` was given)
and its measured accuracy; `--replay DIR` then reruns today's `forecast` on
them and prints the table in seconds, so a change to the forecast alone is
backtested on the same draws without refitting a head.

Usage: python scripts/bench_labels_needed.py [--datasets a,b] [--n 4,8,16] [--draws 10] [--no-lexical]
                                             [--curves DIR]
       python scripts/bench_labels_needed.py --replay DIR
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import bench_suite as suite
import numpy as np

from tfxfer.head import learning_curve as curves
from tfxfer.head.search import train_head

DEFAULT_SETS = ("sentence_polarity", "pros_cons", "nps_chat", "hymenoptera")


class _Recorder:
    """Wraps `curves.forecast` to keep what it was given: the learning curve and its arguments."""

    def __init__(self):
        self.inputs: dict = {}
        self._forecast = curves.forecast

    def __call__(self, curve, index, per_class_now, current_accuracy, seed, **kwargs):
        self.inputs = {"sizes": np.array(curve["sizes"]), "correct": curve["correct"], "index": index,
                       "per_class_now": per_class_now, "current_accuracy": current_accuracy, "seed": seed,
                       "metric": kwargs.get("metric", curves.ACCURACY)}
        return self._forecast(curve, index, per_class_now, current_accuracy, seed, **kwargs)


def replay(path: Path) -> dict:
    """A row as `backtest` makes it, with the forecast rerun on a kept learning curve."""
    kept = np.load(path)
    row = json.loads(str(kept["row"]))
    estimate = curves.forecast({"sizes": kept["sizes"].tolist(), "correct": kept["correct"]}, kept["index"],
                               int(kept["per_class_now"]), float(kept["current_accuracy"]), int(kept["seed"]),
                               metric=str(kept["metric"]))
    return _scored(row, estimate, row["measured"])


def _scored(row: dict, estimate: dict, measured: float) -> dict:
    row = {**row, "too_wide": estimate["too_wide"], "message": estimate["message"]}
    f = {f["per_class"]: f for f in estimate["forecast"]}.get(4 * estimate["current_per_class"])
    if f:
        row.update(low=f["low"], median=f["median"], high=f["high"],
                   error=f["median"] - measured, inside=f["low"] <= measured <= f["high"])
    return row


def backtest(data: suite.Dataset, ns, draws: int, log, lexical: bool = True, keep: Path | None = None) -> list[dict]:
    rows = []
    recorder = _Recorder()
    curves_forecast, curves.forecast = curves.forecast, recorder
    try:
        for n in ns:
            for draw in range(draws):
                rows.append(_backtest_draw(data, n, draw, lexical, recorder, keep))
                log(rows[-1])
    finally:
        curves.forecast = curves_forecast
    return rows


def _backtest_draw(data: suite.Dataset, n: int, draw: int, lexical: bool, recorder: _Recorder,
                   keep: Path | None) -> dict:
    train = data.draw(n, draw)
    y = data.labels
    x, _, columns = suite.head_features(data, train, lexical=lexical)
    _, report, _ = train_head(x, y[train], lexical=columns, seed=draw)
    estimate = report["labels_needed"]
    horizon = 4 * estimate["current_per_class"]
    more = data.draw(horizon - estimate["current_per_class"], 1000 + draw, exclude=train)
    bigger = np.union1d(train, more)
    x, (test_x,), columns = suite.head_features(data, bigger, data.test, lexical=lexical)
    clf, _, _ = train_head(x, y[bigger], lexical=columns, with_learning_curve=False, seed=draw)
    predicted, truth = clf.predict(suite.as_head_reads(clf, test_x, columns)), y[data.test]
    classes, counts = np.unique(y[train], return_counts=True)
    recall = np.array([np.mean(predicted[truth == c] == c) for c in classes])
    measured = float(counts @ recall / counts.sum())  # held-out accuracy at the labeled class mix
    if estimate.get("metric") == "balanced_accuracy":  # imbalanced labels: forecast in balanced accuracy
        measured = float(recall.mean())
    row = {"dataset": data.name, "n": n, "draw": draw, "metric": estimate.get("metric", "accuracy"),
           "cv_accuracy": estimate["current_accuracy"],
           "measured": measured, "measured_test_mix": float(np.mean(predicted == truth))}
    row = _scored(row, estimate, measured)
    if keep:
        keep.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(keep / f"{data.name}-{n}-{draw}.npz", row=json.dumps(row), **recorder.inputs)
    return row


def table(rows: list[dict]) -> str:
    lines = ["| data set | n | measured at 4n (labeled mix) | test's mix | forecast median | median abs. error (points) "
             "| inside the 80% range | too wide to quote |",
             "|---|---|---|---|---|---|---|---|"]
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["n"]), []).append(r)
    for (name, n), rs in [*groups.items(), (("all", ""), rows)]:
        done = [r for r in rs if "error" in r]
        if not done:
            continue
        lines.append(
            f"| {name} | {n} | {np.mean([r['measured'] for r in done]):.3f} | "
            f"{np.mean([r['measured_test_mix'] for r in done]):.3f} | {np.mean([r['median'] for r in done]):.3f} | {100 * np.median(np.abs([r['error'] for r in done])):.1f} | "
            f"{np.mean([r['inside'] for r in done]):.0%} | {np.mean([r['too_wide'] for r in rs]):.0%} |"
        )
    return "\n".join(lines)


def _draw_order(path: Path) -> tuple:
    name, n, draw = path.stem.rsplit("-", 2)
    return DEFAULT_SETS.index(name) if name in DEFAULT_SETS else len(DEFAULT_SETS), name, int(n), int(draw)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default=",".join(DEFAULT_SETS))
    parser.add_argument("--n", default="4,8,16")
    parser.add_argument("--draws", type=int, default=10)
    parser.add_argument("--no-lexical", action="store_true", help="text heads on the sentence vectors alone")
    parser.add_argument("--work", type=Path, default=suite.default_work_dir())
    parser.add_argument("--out", type=Path, help="write the raw results as JSON")
    parser.add_argument("--curves", type=Path, help="keep each draw's learning curve in this folder")
    parser.add_argument("--replay", type=Path, help="rerun the forecast on the curves kept by --curves")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("tfxfer").setLevel(logging.ERROR)
    if args.replay:
        print(table([replay(path) for path in sorted(args.replay.glob("*.npz"), key=_draw_order)]))
        return
    rows = []
    for name in args.datasets.split(","):
        data = suite.load(name, args.work)
        rows += backtest(data, [int(n) for n in args.n.split(",")], args.draws,
                         lambda r: print(json.dumps({k: v for k, v in r.items() if k != "message"}), flush=True),
                         lexical=not args.no_lexical, keep=args.curves)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))
    print()
    print(table(rows))


if __name__ == "__main__":
    main()
