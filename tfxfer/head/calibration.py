"""Calibrated scores: temperature scaling fitted on out-of-fold predictions.

A head's raw scores say how sure it is only roughly: a strongly regularised
head is timid, a weakly regularised one overconfident. One temperature `T`,
scores `softmax(logits / T)`, fitted to minimise the log loss of the
out-of-fold predictions (Guo et al. 2017), makes "0.9" mean right about 9
times in 10 without changing any prediction. It is applied in the export.

A head that weighs imbalanced classes equally (`class_weight="balanced"`)
scores as if every class were equally common, which lifts a rare class's
scores: on 500 pros and 25 cons (10 draws, scored on held-out data as
imbalanced; `scripts/bench_probabilities.py`), the head's "con" answers
scored 0.45 above the share of them that were cons. Its `probabilities` are `softmax(logits / T' + b)`, with a
temperature and a bias per class fitted together on the out-of-fold
predictions (bias-corrected temperature scaling, Alexandari et al. 2020),
starting from the log of each class's share of the labels (the prior shift
of Saerens et al. 2002): the chance each class is right on data as
imbalanced as the training labels. There the gap fell to 0.04; the prior
shift alone, with a temperature, left 0.22 (5 draws).

Before both, on imbalanced labels, the logits get a bias per class
(`fit_decision_bias`) so that the answers weigh the classes equally out of
fold, as the class weights meant them to: with lexical columns the head fits
a rare class's few examples by their own words and sends new ones to the
common class (balanced accuracy 0.677 -> 0.822 on those 525 labels).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize, minimize_scalar
from sklearn.metrics import balanced_accuracy_score

from tfxfer import metrics, reliability

# Temperatures searched (log-uniform bounds): beyond them the data is too thin to say.
TEMPERATURE_BOUNDS = (0.05, 20.0)
# A class bias beyond this (a factor of e^10 in the odds) says a class is never or always right.
BIAS_BOUND = 10.0


def log_softmax(logits: np.ndarray) -> np.ndarray:
    finite = np.where(np.isfinite(logits), logits, -np.inf)
    top = np.max(finite, 1, keepdims=True)
    return finite - top - np.log(np.sum(np.exp(finite - top), 1, keepdims=True))


def log_loss(logits: np.ndarray, index: np.ndarray) -> float:
    """Mean negative log probability of the true class (`index`: int `[n]`)."""
    picked = log_softmax(np.asarray(logits, np.float64))[np.arange(len(index)), index]
    return float(-np.mean(np.maximum(picked, np.log(1e-12))))


def smoothed_log_loss(logits: np.ndarray, index: np.ndarray, smoothing: float) -> float:
    """Cross-entropy against targets `(1 - smoothing) * one-hot + smoothing / classes`."""
    # A class a fold never saw scores -inf there; floored as in `log_loss`.
    logp = np.maximum(log_softmax(np.asarray(logits, np.float64)), np.log(1e-12))
    picked = logp[np.arange(len(index)), index]
    return float(-np.mean((1 - smoothing) * picked + smoothing * logp.mean(1)))


def prior_shift(index: np.ndarray, class_weight: str | None, classes: int | None = None,
                sample_weight: np.ndarray | None = None) -> np.ndarray:
    """What `probabilities` add to the scaled logits before they are fitted: float `[classes]`.

    For a head weighing imbalanced classes equally (the largest
    `config.IMBALANCE_RATIO` times the smallest or more), the log of each
    class's share of `index` (of its rows' `sample_weight`, if given), centred.
    Otherwise zeros, and `probabilities` are the scores: a head that weighs
    examples equally already holds the prior, and a few classes of nearly one
    size would only add noise.
    """
    counts = np.bincount(np.asarray(index), weights=sample_weight, minlength=classes or 0).astype(np.float64)
    if class_weight != "balanced" or not metrics.imbalanced(counts):
        return np.zeros(len(counts))
    # A class without rows counts as one row (of the mean weight), not as log(0).
    one_row = 1.0 if sample_weight is None else float(np.mean(sample_weight))
    log_share = np.log(np.where(counts > 0, counts, one_row) / counts.sum())
    return log_share - log_share.mean()


def fit_temperature(logits: np.ndarray, index: np.ndarray, smoothing: float | None = None) -> float:
    """The temperature minimising the log loss of `softmax(logits / T)` on `index`.

    The targets are smoothed by `smoothing`, by default `2 / (n + 2)`, the
    rule of succession: when all of a few out-of-fold predictions happen to
    be right, plain temperature scaling would make every score ~1.0 (8 of 8
    right does not show 100% accuracy); this keeps the top score near
    `(n + 1) / (n + 2)` then, and changes nothing with many examples.
    """
    logits = np.asarray(logits, np.float64)
    smoothing = 2.0 / (len(index) + 2) if smoothing is None else smoothing
    low, high = np.log(TEMPERATURE_BOUNDS)
    result = minimize_scalar(lambda t: smoothed_log_loss(logits / np.exp(t), index, smoothing), bounds=(low, high),
                             method="bounded", options={"xatol": 1e-4})
    return float(np.exp(result.x))


def fit_bias_temperature(logits: np.ndarray, index: np.ndarray, shift: np.ndarray) -> tuple[float, np.ndarray]:
    """The temperature and per-class bias minimising the log loss of `softmax(logits / T + bias)`.

    Fitted together by L-BFGS from `T = 1` and `bias = shift` (`prior_shift`),
    with `fit_temperature`'s smoothed targets.

    Returns:
        `(T, bias)`: bias float `[classes]`, centred.
    """
    logits = np.asarray(logits, np.float64)
    smoothing = 2.0 / (len(index) + 2)

    def loss(params):
        return smoothed_log_loss(logits / np.exp(params[0]) + params[1:], index, smoothing)

    start = np.concatenate([[0.0], np.asarray(shift, np.float64)])
    bounds = [tuple(np.log(TEMPERATURE_BOUNDS))] + [(-BIAS_BOUND, BIAS_BOUND)] * len(shift)
    result = minimize(loss, start, method="L-BFGS-B", bounds=bounds)
    bias = result.x[1:] - result.x[1:].mean()
    return float(np.exp(result.x[0])), bias


def fit_decision_bias(logits: np.ndarray, index: np.ndarray) -> np.ndarray:
    """The per-class bias that makes `argmax(logits + bias)` weigh classes equally out of fold.

    A head trained with class weights should answer as if every class were
    equally common, but where it can fit a rare class's few examples one by
    one (thousands of n-gram columns), its training loss leaves the rare
    class's region too small, and held-out rare examples go to the common
    class. Fitted on out-of-fold logits, which show that shift: the bias
    minimising the class-balanced log loss (each class weighing the same,
    targets smoothed as in `fit_temperature`).

    Args:
        logits: float `[n, classes]` out-of-fold logits (divided by the temperature).
        index: int `[n]` true class indices.

    Returns:
        float `[classes]`, centred, within `BIAS_BOUND`.
    """
    logits = np.asarray(logits, np.float64)
    classes = logits.shape[1]
    counts = np.bincount(index, minlength=classes).astype(np.float64)
    weight = 1.0 / (np.count_nonzero(counts) * counts[index])  # each class sums to the same, in all to 1
    smoothing = 2.0 / (len(index) + 2)
    target = (1 - smoothing) * np.eye(classes)[index] + smoothing / classes

    def loss(bias):
        logp = np.maximum(log_softmax(logits + bias), np.log(1e-12))
        gradient = ((np.exp(logp) - target) * weight[:, None]).sum(0)
        return -np.sum(weight * (target * logp).sum(1)), gradient

    result = minimize(loss, np.zeros(classes), jac=True, method="L-BFGS-B",
                      bounds=[(-BIAS_BOUND, BIAS_BOUND)] * classes)
    return result.x - result.x.mean()


def softmax(logits: np.ndarray) -> np.ndarray:
    return np.exp(log_softmax(np.asarray(logits, np.float64)))


def calibration_report(logits: np.ndarray, index: np.ndarray, temperature: float,
                       abstain_below: float | None = None, probabilities: np.ndarray | None = None) -> dict:
    """Expected calibration error before and after, the reliability bins, and abstention.

    Args:
        logits: float `[n, classes]` out-of-fold logits.
        index: int `[n]` true class indices.
        temperature: The fitted temperature.
        abstain_below: If given, the coverage (share of examples whose answer's
            probability (see `probabilities`) reaches it) and the accuracy on them.
        probabilities: float `[n, classes]`, the `probabilities` output on
            these logits; `None`: they are the calibrated scores.

    Returns:
        A JSON-able dict: `temperature`, `log_loss_before`, `log_loss_after`, `ece_before`, `ece_after`,
        `ece_chance` (what calibrated scores would show by chance on these `predictions`,
        `reliability.chance_calibration_error`), `bins_before`, `bins_after` and, with
        `abstain_below`, `abstain`.
    """
    raw, calibrated = softmax(logits), softmax(np.asarray(logits) / temperature)
    index = np.asarray(index)
    correct = raw.argmax(1) == index
    out = {
        "temperature": round(float(temperature), 4),
        "log_loss_before": log_loss(logits, index),
        "log_loss_after": log_loss(np.asarray(logits) / temperature, index),
        "ece_before": reliability.expected_calibration_error(raw, correct),
        "ece_after": reliability.expected_calibration_error(calibrated, correct),
        "ece_chance": reliability.chance_calibration_error(calibrated),
        "predictions": len(index),
        "bins_before": reliability.calibration_bins(raw, correct),
        "bins_after": reliability.calibration_bins(calibrated, correct),
    }
    if abstain_below is not None:
        chances = calibrated if probabilities is None else np.asarray(probabilities)
        kept = chances[np.arange(len(index)), raw.argmax(1)] >= abstain_below
        out["abstain"] = {
            "threshold": abstain_below,
            "coverage": float(kept.mean()),
            "accuracy_when_answering": float(correct[kept].mean()) if kept.any() else None,
            "accuracy_overall": float(correct.mean()),
        }
    return out


def probabilities_report(probabilities: np.ndarray, index: np.ndarray, temperature: float, bias: np.ndarray,
                         oof_probabilities: np.ndarray, oof_answers: np.ndarray, oof_index: np.ndarray) -> dict:
    """How the `probabilities` output does out of fold.

    Args:
        probabilities, index: float `[n, classes]` on the stacked out-of-fold
            logits `fit_bias_temperature` saw, and their true classes.
        temperature, bias: What it fitted.
        oof_probabilities, oof_answers, oof_index: On the one cross-validation
            the report's figures come from: the probabilities, the head's
            answers (the argmax of its scores) and the true classes.

    Returns:
        A JSON-able dict: `temperature`, `class_bias`, `ece` (top-label, of
        the probabilities' own top class), `accuracy` and `balanced_accuracy`
        of that top class on the one cross-validation (what answering by the
        probabilities would score), and `by_class`: the head's answers per
        class (the argmax of `scores`) with their mean probability and precision.
    """
    correct = np.asarray(probabilities).argmax(1) == np.asarray(index)
    top = np.asarray(oof_probabilities).argmax(1)
    return {
        "temperature": round(float(temperature), 4),
        "class_bias": [round(float(v), 4) for v in bias],
        "ece": reliability.expected_calibration_error(probabilities, correct),
        "accuracy": float(np.mean(top == oof_index)),
        "balanced_accuracy": float(balanced_accuracy_score(oof_index, top)),
        "by_class": reliability.scores_by_class(oof_probabilities, oof_index, oof_answers),
    }
