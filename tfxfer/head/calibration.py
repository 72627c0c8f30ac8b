"""Calibrated scores: temperature scaling fitted on out-of-fold predictions.

A head's raw scores say how sure it is only roughly: a strongly regularised
head is timid, a weakly regularised one overconfident. One temperature `T`,
scores `softmax(logits / T)`, fitted to minimise the log loss of the
out-of-fold predictions (Guo et al. 2017), makes "0.9" mean right about 9
times in 10 without changing any prediction. It is applied in the export.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

from tfxfer import metrics

# Temperatures searched (log-uniform bounds): beyond them the data is too thin to say.
TEMPERATURE_BOUNDS = (0.05, 20.0)


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


def fit_temperature(logits: np.ndarray, index: np.ndarray) -> float:
    """The temperature minimising the log loss of `softmax(logits / T)` on `index`.

    The targets are smoothed by `2 / (n + 2)`, the rule of succession: when
    all of a few out-of-fold predictions happen to be right, plain
    temperature scaling would make every score ~1.0 (8 of 8 right does not
    show 100% accuracy); this keeps the top score near `(n + 1) / (n + 2)`
    then, and changes nothing with many examples.
    """
    logits = np.asarray(logits, np.float64)
    smoothing = 2.0 / (len(index) + 2)
    low, high = np.log(TEMPERATURE_BOUNDS)
    result = minimize_scalar(lambda t: smoothed_log_loss(logits / np.exp(t), index, smoothing), bounds=(low, high),
                             method="bounded", options={"xatol": 1e-4})
    return float(np.exp(result.x))


def softmax(logits: np.ndarray) -> np.ndarray:
    return np.exp(log_softmax(np.asarray(logits, np.float64)))


def calibration_report(logits: np.ndarray, index: np.ndarray, temperature: float,
                       abstain_below: float | None = None) -> dict:
    """Expected calibration error before and after, the reliability bins, and abstention.

    Args:
        logits: float `[n, classes]` out-of-fold logits.
        index: int `[n]` true class indices.
        temperature: The fitted temperature.
        abstain_below: If given, the coverage (share of examples whose top
            calibrated score reaches it) and the accuracy on them.

    Returns:
        A JSON-able dict: `temperature`, `log_loss_before`, `log_loss_after`, `ece_before`, `ece_after`,
        `bins_before`, `bins_after` and, with `abstain_below`, `abstain`.
    """
    raw, calibrated = softmax(logits), softmax(np.asarray(logits) / temperature)
    index = np.asarray(index)
    correct = raw.argmax(1) == index
    out = {
        "temperature": round(float(temperature), 4),
        "log_loss_before": log_loss(logits, index),
        "log_loss_after": log_loss(np.asarray(logits) / temperature, index),
        "ece_before": metrics.expected_calibration_error(raw, correct),
        "ece_after": metrics.expected_calibration_error(calibrated, correct),
        "bins_before": metrics.calibration_bins(raw, correct),
        "bins_after": metrics.calibration_bins(calibrated, correct),
    }
    if abstain_below is not None:
        kept = calibrated.max(1) >= abstain_below
        out["abstain"] = {
            "threshold": abstain_below,
            "coverage": float(kept.mean()),
            "accuracy_when_answering": float(correct[kept].mean()) if kept.any() else None,
            "accuracy_overall": float(correct.mean()),
        }
    return out
