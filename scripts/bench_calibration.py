"""Benchmark: ways to set the temperature on a few labels, scored by held-out calibration error.

fit-head fits one temperature to the out-of-fold logits (of three
cross-validations for sets of up to 100 examples) with targets smoothed by
the rule of succession (`calibration.fit_temperature`). On 8 - 32 labels the
expected calibration error (ECE) on held-out data stays above 0.05 on most
binary sets (`bench_heads.py`). This replays, on the heads table's draws, the
chosen head's final logits on the held-out part under:

- `current`: fit-head's temperature (`train_head`'s, the lexical columns chosen as fit-head does);
- `fresh`: fitted as `current`, on three cross-validations with other folds than the ones that
  chose the head (its C and lexical columns): whether choosing on the same out-of-fold scores
  makes the temperature too sure;
- `mle`: the same without smoothing;
- `smooth2k`: smoothed by the distinct labeled examples, not the stacked predictions;
- `bayes`: no one temperature: the scores averaged over a grid of temperatures
  weighted by their likelihood on the out-of-fold logits (flat prior on log T,
  each example counted once however many cross-validations stack it);
- `T1`: no temperature (the head's raw scores);
- `gated`: fit-head's temperature where it lowers the out-of-fold log loss by more than one standard
  error of the per-example differences against `T1` (each labeled example's losses averaged over the
  cross-validations that stack it), otherwise none: a temperature only where the labels show it;
- `laplace`: no temperature: a linear binary head's logit moderated by its own uncertainty,
  `s / sqrt(1 + pi * var / 8)` (MacKay 1992), `var` the logit's variance under the Laplace
  approximation of the posterior of its weights (the L2 penalty as a Gaussian prior);
- `nested`: fitted as `current`, on three cross-validations with other folds where each fold's head
  is chosen anew on its training part (`train_head`: C and the lexical columns), so that the
  out-of-fold scores carry the choice's own optimism (5x the replay's time);
- `oracle`: the temperature fitted on the held-out part itself, the floor.

Beside them, `chance`: what `current`'s scores would show if they were calibrated exactly, on as
many held-out examples (`reliability.chance_calibration_error`): the part of the error that is the
held-out part's size, not the scores.

Usage: python scripts/bench_calibration.py [--datasets a,b] [--k 4,8,16,64] [--draws 10] [--out raw.jsonl]
       python scripts/bench_calibration.py --replay raw.jsonl
"""

from __future__ import annotations

import bench_suite as suite
import numpy as np
import scipy.sparse
from sklearn.utils.class_weight import compute_sample_weight

from tfxfer.head.calibration import (
    TEMPERATURE_BOUNDS,
    fit_temperature,
    log_softmax,
    softmax,
)
from tfxfer.head.classifier import HeadClassifier
from tfxfer.head.search import _calibration_predictions, train_head
from tfxfer.head.selection import (
    _per_example_loss,
    _significantly_better,
    make_splits,
    out_of_fold_logits,
)
from tfxfer.head.train import normalize, vectors
from tfxfer.reliability import chance_calibration_error, expected_calibration_error

VARIANTS = ("current", "fresh", "mle", "smooth2k", "bayes", "T1", "gated", "laplace", "nested", "oracle")
GRID = np.exp(np.linspace(*np.log(TEMPERATURE_BOUNDS), 200))


def _posterior_scores(logits: np.ndarray, index: np.ndarray, repeats: int, test_logits: np.ndarray) -> np.ndarray:
    rows = np.arange(len(index))
    log_likelihood = np.array([log_softmax(logits / t)[rows, index].sum() for t in GRID]) / repeats
    weight = np.exp(log_likelihood - log_likelihood.max())
    weight /= weight.sum()
    return sum(w * softmax(test_logits / t) for w, t in zip(weight, GRID))


def _laplace_scores(head: HeadClassifier, x, y: np.ndarray, test_x) -> np.ndarray | None:
    """Scores of a linear binary head moderated by the variance of its logit (None for other heads).

    The solver minimises C * sum(w_i * loss_i) + |w|^2 / 2, so the posterior precision is
    I + C * Z' diag(w p (1 - p)) Z over the normalised rows Z (the intercept, unpenalised, gets a
    broad prior); by Woodbury only an n x n system is solved.
    """
    spec = head.spec_
    if head.hidden_units or len(head.classes_) != 2:
        return None
    def rows(features):
        z = normalize(scipy.sparse.csr_matrix(features) if spec["lexical"] else features,
                      spec["l2"], spec["mean"], spec["scale"], spec["lexical"])
        z = z.toarray() if scipy.sparse.issparse(z) else np.asarray(z)
        return np.hstack([z.astype(np.float64), np.ones((z.shape[0], 1))])
    z, zt = rows(x), rows(test_x)
    s = head.logits(x).astype(np.float64) @ [-1.0, 1.0]
    st = head.logits(test_x).astype(np.float64) @ [-1.0, 1.0]
    p = 1 / (1 + np.exp(-s))
    weight = compute_sample_weight(head.class_weight, y) if head.class_weight else np.ones(len(y))
    d = head.C * weight * p * (1 - p)
    a_inv = np.ones(z.shape[1])
    a_inv[-1] = 1e4
    m = np.diag(1 / d) + (z * a_inv) @ z.T
    k = (z * a_inv) @ zt.T
    var = (zt ** 2 * a_inv).sum(1) - np.einsum("ij,ij->j", k, np.linalg.solve(m, k))
    moderated = st / np.sqrt(1 + np.pi * np.maximum(var, 0) / 8)
    return softmax(np.stack([-moderated / 2, moderated / 2], 1))


def _gated(logits: np.ndarray, stacked: np.ndarray, temperature: float, n: int) -> float:
    """`temperature` if it lowers the out-of-fold log loss by more than one standard error (the search's
    paired test, each of the `n` examples' losses averaged over the cross-validations that stack it), else 1."""
    with_t, without = ({"losses": _per_example_loss(logits / t, stacked).reshape(-1, n).mean(0)}
                       for t in (temperature, 1.0))
    return temperature if _significantly_better(with_t, without, 1.0) else 1.0


def _nested_temperature(x, y: np.ndarray, index: np.ndarray, columns: int, draw: int) -> float:
    """The temperature fitted on three cross-validations whose folds each choose their own head."""
    logits, truth = [], []
    for repeat in range(3):
        for train, test in make_splits(y.tolist(), draw + 7000 + repeat)[0]:
            head, _, _ = train_head(x[train], y[train], lexical=columns, with_learning_curve=False, seed=draw)
            logits.append(head.logits(vectors(x[test], columns) if columns and not head.lexical_columns
                                      else x[test]).astype(np.float64))
            truth.append(index[test])
    return fit_temperature(np.concatenate(logits), np.concatenate(truth))


def replay_draw(data: suite.Dataset, k: int, draw: int) -> dict:
    """The held-out ECE of fit-head's head on one draw, under each way of setting its temperature."""
    train = data.draw(k, draw)
    y = data.labels[train]
    classes = np.array(sorted(set(y.tolist())))
    index, truth = np.searchsorted(classes, y), np.searchsorted(classes, data.labels[data.test])
    x, (test_x,), columns = suite.head_features(data, train, data.test)
    chosen, _, cv = train_head(x, y, lexical=columns, with_learning_curve=False, seed=draw)
    nested = _nested_temperature(x, y, index, columns, draw)
    if columns and not chosen.lexical_columns:  # the search left the lexical columns out
        x, test_x = vectors(x, columns), vectors(test_x, columns)
    logits, stacked = _calibration_predictions(cv, x, y, index, None, draw)
    fresh = [out_of_fold_logits(HeadClassifier.from_config(cv.best), x, y, make_splits(y.tolist(), draw + 5000 + r)[0])
             for r in range(len(stacked) // len(index))]
    test_logits = chosen.logits(test_x).astype(np.float64)  # before its temperature
    correct = test_logits.argmax(1) == truth
    temperatures = {"current": chosen.temperature, "fresh": fit_temperature(np.concatenate(fresh), stacked),
                    "mle": fit_temperature(logits, stacked, 0.0),
                    "smooth2k": fit_temperature(logits, stacked, 2.0 / (len(index) + 2)), "T1": 1.0,
                    "gated": _gated(logits, stacked, chosen.temperature, len(index)), "nested": nested,
                    "oracle": fit_temperature(test_logits, truth, 0.0)}
    scores = {name: softmax(test_logits / t) for name, t in temperatures.items()}
    scores["bayes"] = _posterior_scores(logits, stacked, len(stacked) // len(index), test_logits)
    laplace = _laplace_scores(chosen, x, y, test_x)
    scores["laplace"] = scores["current"] if laplace is None else laplace
    return {"dataset": data.name, "k": k, "draw": draw, "accuracy": float(correct.mean()),
            "cv_accuracy": float(np.mean(cv.oof_logits.argmax(1) == index)), "lexical": bool(chosen.lexical_columns),
            "chance": chance_calibration_error(scores["current"]),
            **{name: expected_calibration_error(s, correct) for name, s in scores.items()}}


def summary(records: list[dict]) -> str:
    rows: dict = {}
    for r in records:
        rows.setdefault((r["dataset"], r["k"]), []).append(r)
    lines = ["Held-out ECE, mean over draws:",
             "| data set | k | accuracy | CV accuracy | " + " | ".join(VARIANTS) + " | chance |",
             "|---" * (len(VARIANTS) + 5) + "|"]
    means = {v: [] for v in VARIANTS}
    for (name, k), rs in sorted(rows.items()):
        for v in VARIANTS:
            means[v].append(np.mean([r[v] for r in rs]))
        lines.append(f"| {name} | {k} | {np.mean([r['accuracy'] for r in rs]):.3f} | "
                     f"{np.mean([r['cv_accuracy'] for r in rs]):.3f} | " + " | ".join(f"{means[v][-1]:.3f}" for v in VARIANTS)
                     + (f" | {np.mean([r['chance'] for r in rs]):.3f} |" if "chance" in rs[0] else " | |"))
    for label, f in (("mean", np.mean), ("worst", np.max), ("rows <= 0.05", lambda m: sum(x <= 0.05 for x in m))):
        lines.append(f"| {label} | | | | " + " | ".join(f"{f(means[v]):.3f}" if label != "rows <= 0.05"
                                                       else f"{f(means[v])}" for v in VARIANTS) + " |")
    return "\n".join(lines)


def main():
    suite.replay_main(__doc__, replay_draw, summary,
                      "pros_cons,sentence_polarity,names,hymenoptera,product_reviews", "4,8,16,64")


if __name__ == "__main__":
    main()
