"""Whether scores mean what they say: top-label calibration error and its
reliability bins and diagram, each class's scores against its precision, and
examples weighted to a class mix. Shared by `tfxfer.head` (out-of-fold) and
`tfxfer.export` (`evaluate`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tfxfer.plotting import pyplot, save_figure

# Equal-width bins of the top score for the expected calibration error.
CALIBRATION_BINS = 10
# Simulated outcomes behind `chance_calibration_error`: its figure moves by a few percent between seeds.
CHANCE_DRAWS = 200
# A class whose share of evaluated examples is this far from its share of the training labels
# gets the calibration error at the training mix beside the plain one.
MIX_SHIFT_SHOWN = 0.05


def _bins_of(top: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """The `bins + 1` equal-width edges over [0, 1] and the bin of each top score."""
    edges = np.linspace(0, 1, bins + 1)
    return edges, np.clip(np.digitize(top, edges[1:-1], right=True), 0, bins - 1)


def calibration_bins(probabilities: np.ndarray, correct: np.ndarray, bins: int = CALIBRATION_BINS,
                     sample_weight: np.ndarray | None = None) -> list[dict]:
    """Top-label reliability: per bin of the top score, its mean and the accuracy.

    Args:
        probabilities: float `[n, classes]` scores.
        correct: bool `[n]`, whether the top class is the true one.
        bins: Equal-width bins over [0, 1]. Defaults to `CALIBRATION_BINS`.
        sample_weight: float `[n]` weights of the examples, e.g. to score a
            held-out set as if its classes came in the labeled set's mix.
            Defaults to `None` (equal weights).

    Returns:
        One dict per non-empty bin: `low`, `high`, `count`, `confidence`
        (mean top score) and `accuracy`; with `sample_weight`, also `weight`
        (the sum of its examples' weights), and the means are weighted.
    """
    top = np.asarray(probabilities).max(1)
    correct = np.asarray(correct, bool)
    weight = np.ones(len(top)) if sample_weight is None else np.asarray(sample_weight, float)
    edges, which = _bins_of(top, bins)
    out = []
    for b in range(bins):
        mask = which == b
        if mask.any() and weight[mask].sum() > 0:
            out.append({"low": float(edges[b]), "high": float(edges[b + 1]), "count": int(mask.sum()),
                        **({} if sample_weight is None else {"weight": float(weight[mask].sum())}),
                        "confidence": float(np.average(top[mask], weights=weight[mask])),
                        "accuracy": float(np.average(correct[mask], weights=weight[mask]))})
    return out


# A class whose answers score this much above the share of them that are right, over at least
# `SCORES_CHECKED` answers, is named: a temperature fits all answers at once, not each class's.
SCORES_HIGH_BY, SCORES_CHECKED = 0.15, 10


def scores_by_class(probabilities: np.ndarray, index: np.ndarray, answers: np.ndarray | None = None) -> list[dict]:
    """Per class (in column order): how many examples it is the answer for, their mean score
    for it and the share of them that are it (its precision).

    Args:
        probabilities: float `[n, classes]` scores.
        index: int `[n]` true class indices (-1 for a label the model does not know).
        answers: int `[n]` the answers; defaults to the top score's class.
    """
    probabilities, index = np.asarray(probabilities), np.asarray(index)
    answers = probabilities.argmax(1) if answers is None else np.asarray(answers)
    out = []
    for c in range(probabilities.shape[1]):
        called = answers == c
        out.append({"answers": int(called.sum()),
                    "mean_score": float(probabilities[called, c].mean()) if called.any() else None,
                    "precision": float((index[called] == c).mean()) if called.any() else None})
    return out


def scores_run_high(labels: Sequence[str], by_class: list[dict], where: str,
                    balanced_head: bool = False, probabilities: list[dict] | None = None) -> str | None:
    """A note naming the class whose answers score furthest above their precision, when that is more
    than `SCORES_HIGH_BY` over `SCORES_CHECKED` answers or more; `None` otherwise.

    `where`: on which examples ("out of fold", "on this data"). `balanced_head`: the head weighs
    imbalanced classes equally, which explains it. `probabilities`: `scores_by_class` of the
    export's `probabilities` over the same answers, named as the figure to read.
    """
    gaps = [(c["mean_score"] - c["precision"], label, c) for label, c in zip(labels, by_class)
            if c["answers"] >= SCORES_CHECKED]
    if not gaps or max(gaps, key=lambda g: g[0])[0] <= SCORES_HIGH_BY:
        return None
    _, label, c = max(gaps, key=lambda g: g[0])
    text = (f"Scores for {label!r} run high {where}: the {c['answers']:,} examples called {label!r} score "
            f"{c['mean_score']:.2f} for it on average, and {c['precision']:.0%} of them are {label!r}.")
    corrected = probabilities[list(labels).index(label)]["mean_score"] if probabilities else None
    if balanced_head:
        text += " Weighing the classes equally finds more of the rarer classes and lifts their scores"
        text += (f"; the `probabilities` output corrects for how common each class was in training and gives "
                 f"them {corrected:.2f}." if corrected is not None else ": read them as a ranking, not as probabilities.")
    elif corrected is not None:
        text += (f" The `probabilities` output, corrected for how common each class was in training, gives them "
                 f"{corrected:.2f}.")
    return text


def mix_weights(truth: Sequence[str], shares: dict[str, float]) -> np.ndarray:
    """Weights of examples of classes `truth` that give their classes the mix `shares`
    (renormalised over the classes present; a class not in `shares` weighs 0).

    Scores fitted on k labels per class can know nothing of a population that is
    63% one class: weighted this way, a held-out set is scored on the mix the
    labels had.

    Args:
        truth: The `n` examples' true classes.
        shares: Each class's share of the mix, or its count (e.g. the
            training labels'): normalised here.

    Returns:
        float `[n]` weights averaging 1 (zeros if no class of `truth` is in `shares`).
    """
    truth = np.asarray(list(truth))
    present = {c: float(np.mean(truth == c)) for c in set(truth.tolist()) if shares.get(c, 0) > 0}
    total = sum(shares[c] for c in present)
    if not total:
        return np.zeros(len(truth))
    return np.array([shares[c] / total / present[c] if c in present else 0.0 for c in truth.tolist()])


def expected_calibration_error(probabilities: np.ndarray, correct: np.ndarray, bins: int = CALIBRATION_BINS,
                               sample_weight: np.ndarray | None = None) -> float:
    """Top-label expected calibration error (Guo et al. 2017): the weighted
    mean gap between confidence and accuracy over `bins` equal-width bins
    (see `calibration_bins` for the arguments)."""
    table = calibration_bins(probabilities, correct, bins, sample_weight)
    weights = [b.get("weight", b["count"]) for b in table]
    gaps = [abs(b["confidence"] - b["accuracy"]) for b in table]
    return float(np.dot(weights, gaps) / max(sum(weights), 1e-12))


def chance_calibration_error(probabilities: np.ndarray, bins: int = CALIBRATION_BINS,
                             draws: int = CHANCE_DRAWS, seed: int = 0) -> float:
    """The expected calibration error that scores calibrated exactly would show by chance.

    Binned over a few hundred examples, even perfect scores show an error of a
    few points, and a temperature that lowers the log loss can raise it: this
    is the figure to read an error against (a consistency resampling,
    Bröcker & Smith 2007). Each answer is drawn right with the probability
    its top score gives, `draws` times; the mean of their errors.

    Args:
        probabilities: float `[n, classes]` scores.
        bins: As `calibration_bins`. Defaults to `CALIBRATION_BINS`.
        draws: Simulated outcomes. Defaults to `CHANCE_DRAWS`.
        seed: Of the draws. Defaults to `0`.

    Returns:
        The mean error, 0 for no examples.
    """
    top = np.asarray(probabilities, np.float64).max(1)
    if not len(top):
        return 0.0
    _, which = _bins_of(top, bins)
    right = np.random.default_rng(seed).random((draws, len(top))) < top
    # Per draw and bin, |sum of (score - outcome)|: the bins' gaps weighted by their counts.
    gaps = np.zeros((draws, bins))
    np.add.at(gaps.T, which, (top - right).T)
    return float(np.abs(gaps).sum(1).mean() / len(top))


def plot_reliability(before: list[dict], after: list[dict], path: str | Path, title: str = "Reliability") -> None:
    """A reliability diagram: accuracy against confidence per bin, before and after calibration.

    Below it, how many examples each bin of the calibrated scores holds: a bin
    of two examples at 100% is not a finding. On the diagonal, where 95% of
    those bins would fall by chance if the scores were calibrated exactly
    (consistency bars, Bröcker & Smith 2007): a point inside its bar is no
    evidence of miscalibration.
    """
    plt = pyplot()
    fig, (ax, counts) = plt.subplots(2, 1, figsize=(5, 6.2), sharex=True, gridspec_kw={"height_ratios": [4, 1]})
    ax.plot([0, 1], [0, 1], ":", color="gray", label="perfectly calibrated")
    if after:
        confidence = np.array([b["confidence"] for b in after])
        spread = 1.96 * np.sqrt(confidence * (1 - confidence) / np.array([b["count"] for b in after]))
        low, high = np.clip(confidence - spread, 0, 1), np.clip(confidence + spread, 0, 1)
        ax.errorbar(confidence, confidence, yerr=[confidence - low, high - confidence], fmt="none", ecolor="gray",
                    alpha=0.6, capsize=3, label="95% of calibrated bins, by chance")
    for table, style, label in ((before, "s--", "raw scores"), (after, "o-", "calibrated scores")):
        if table:
            ax.plot([b["confidence"] for b in table], [b["accuracy"] for b in table], style, label=label)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    shown = after or before
    counts.bar([(b["low"] + b["high"]) / 2 for b in shown], [b["count"] for b in shown],
               width=[0.9 * (b["high"] - b["low"]) for b in shown], color="tab:orange" if after else "tab:blue")
    counts.set_ylabel("examples")
    counts.set_xlabel("top score (confidence)")
    counts.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
