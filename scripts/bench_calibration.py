"""Benchmark: ways to set the temperature on a few labels, scored by held-out calibration error.

fit-head fits one temperature to the out-of-fold logits (of three
cross-validations for sets of up to 100 examples) with targets smoothed by
the rule of succession (`calibration.fit_temperature`). On 8 - 32 labels the
expected calibration error (ECE) on held-out data stays above 0.05 on most
binary sets (`bench_heads.py`). This replays, on the heads table's draws, the
chosen head's final logits on the held-out part under:

- `current`: fit-head's temperature;
- `mle`: the same without smoothing;
- `smooth2k`: smoothed by the distinct labeled examples, not the stacked predictions;
- `bayes`: no one temperature: the scores averaged over a grid of temperatures
  weighted by their likelihood on the out-of-fold logits (flat prior on log T,
  each example counted once however many cross-validations stack it);
- `T1`: no temperature (the head's raw scores);
- `oracle`: the temperature fitted on the held-out part itself, the floor.

Usage: python scripts/bench_calibration.py [--datasets a,b] [--k 4,8,16,64] [--draws 10] [--out raw.jsonl]
       python scripts/bench_calibration.py --replay raw.jsonl
"""

from __future__ import annotations

import bench_suite as suite
import numpy as np

from tfxfer.head.calibration import (
    TEMPERATURE_BOUNDS,
    fit_temperature,
    log_softmax,
    softmax,
)
from tfxfer.head.classifier import HeadClassifier, one_blas_thread
from tfxfer.head.search import _calibration_predictions
from tfxfer.head.selection import cross_validate
from tfxfer.reliability import expected_calibration_error

VARIANTS = ("current", "mle", "smooth2k", "bayes", "T1", "oracle")
GRID = np.exp(np.linspace(*np.log(TEMPERATURE_BOUNDS), 200))


def _posterior_scores(logits: np.ndarray, index: np.ndarray, repeats: int, test_logits: np.ndarray) -> np.ndarray:
    rows = np.arange(len(index))
    log_likelihood = np.array([log_softmax(logits / t)[rows, index].sum() for t in GRID]) / repeats
    weight = np.exp(log_likelihood - log_likelihood.max())
    weight /= weight.sum()
    return sum(w * softmax(test_logits / t) for w, t in zip(weight, GRID))


def replay_draw(data: suite.Dataset, k: int, draw: int) -> dict:
    """The held-out ECE of the search's head on one draw, under each way of setting its temperature."""
    train = data.draw(k, draw)
    y = data.labels[train]
    classes = np.array(sorted(set(y.tolist())))
    index, truth = np.searchsorted(classes, y), np.searchsorted(classes, data.labels[data.test])
    x, (test_x,), columns = suite.head_features(data, train, data.test)
    cv = cross_validate(x, y, seed=draw, lexical=columns)
    logits, stacked = _calibration_predictions(cv, x, y, index, None, draw)
    with one_blas_thread():
        test_logits = HeadClassifier.from_config(cv.best).fit(x, y).logits(test_x).astype(np.float64)
    correct = test_logits.argmax(1) == truth
    temperatures = {"current": fit_temperature(logits, stacked), "mle": fit_temperature(logits, stacked, 0.0),
                    "smooth2k": fit_temperature(logits, stacked, 2.0 / (len(index) + 2)), "T1": 1.0,
                    "oracle": fit_temperature(test_logits, truth, 0.0)}
    scores = {name: softmax(test_logits / t) for name, t in temperatures.items()}
    scores["bayes"] = _posterior_scores(logits, stacked, len(stacked) // len(index), test_logits)
    return {"dataset": data.name, "k": k, "draw": draw, "accuracy": float(correct.mean()),
            "cv_accuracy": float(np.mean(cv.oof_logits.argmax(1) == index)),
            **{name: expected_calibration_error(s, correct) for name, s in scores.items()}}


def summary(records: list[dict]) -> str:
    rows: dict = {}
    for r in records:
        rows.setdefault((r["dataset"], r["k"]), []).append(r)
    lines = ["Held-out ECE, mean over draws:",
             "| data set | k | accuracy | CV accuracy | " + " | ".join(VARIANTS) + " |", "|---" * (len(VARIANTS) + 4) + "|"]
    means = {v: [] for v in VARIANTS}
    for (name, k), rs in sorted(rows.items()):
        for v in VARIANTS:
            means[v].append(np.mean([r[v] for r in rs]))
        lines.append(f"| {name} | {k} | {np.mean([r['accuracy'] for r in rs]):.3f} | "
                     f"{np.mean([r['cv_accuracy'] for r in rs]):.3f} | " + " | ".join(f"{means[v][-1]:.3f}" for v in VARIANTS) + " |")
    for label, f in (("mean", np.mean), ("worst", np.max), ("rows <= 0.05", lambda m: sum(x <= 0.05 for x in m))):
        lines.append(f"| {label} | | | | " + " | ".join(f"{f(means[v]):.3f}" if label != "rows <= 0.05"
                                                       else f"{f(means[v])}" for v in VARIANTS) + " |")
    return "\n".join(lines)


def main():
    suite.replay_main(__doc__, replay_draw, summary,
                      "pros_cons,sentence_polarity,names,hymenoptera,product_reviews", "4,8,16,64")


if __name__ == "__main__":
    main()
