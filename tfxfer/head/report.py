"""The fit report: cross-validated metrics, learning curve, plots and a summary."""

from __future__ import annotations

import json
import logging
import math
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from tfxfer import config
from tfxfer.head.classifier import HeadClassifier
from tfxfer.head.selection import CrossValidation

logger = logging.getLogger(__name__)

GAIN = 0.03  # "how many more labels per class would gain a few (3) points?"
MISCLASSIFIED_SHOWN = 20


def class_metrics(labels: Sequence[str], predicted: Sequence[str], classes: Sequence[str]) -> dict:
    """Accuracy, per-class precision/recall/F1/support and the confusion matrix."""
    p, r, f, s = precision_recall_fscore_support(labels, predicted, labels=list(classes), zero_division=0)
    return {
        "accuracy": float(np.mean(np.array(labels) == np.array(predicted))),
        "per_class": {
            c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, c in enumerate(classes)
        },
        "confusion_matrix": confusion_matrix(labels, predicted, labels=list(classes)).tolist(),
    }


def learning_curve(features, labels, cv: CrossValidation, seed: int) -> list[dict]:
    """Accuracy against labeled examples per class, on the cross-validation folds.

    For sizes 1, 2, 4, ... per class, a head with the chosen settings is trained
    on that many examples of each class from each fold's training part and
    scored on the fold's held-out part.
    """
    if not cv.splits:
        return []
    labels = np.array(labels)
    rng = np.random.default_rng(seed)
    smallest = min(min(np.unique(labels[train], return_counts=True)[1]) for train, _ in cv.splits)
    sizes = sorted({min(2**i, smallest) for i in range(int(math.log2(max(smallest, 1))) + 2)})
    curve = []
    for size in sizes:
        correct, seen = 0, 0
        for train, test in cv.splits:
            chosen = np.concatenate([
                rng.choice(train[labels[train] == c], size, replace=False) for c in np.unique(labels[train])
            ])
            clf = HeadClassifier(cv.best).fit(features[chosen], labels[chosen].tolist())
            correct += int(np.sum(np.array(clf.predict(features[test])) == labels[test]))
            seen += len(test)
        curve.append({"per_class": int(size), "accuracy": correct / seen})
    return curve


def labels_needed(curve: list[dict], gain: float = GAIN) -> dict:
    """Extrapolate the learning curve with `acc(m) = a - b * m^-c` (m: labels per class).

    Returns:
        A dict with `current_per_class`, `current_accuracy`, `target_accuracy`,
        and `per_class_needed` (`None` when the fitted curve levels off below the
        target or cannot be fitted), plus a one-line `message`.
    """
    out = {"current_per_class": None, "current_accuracy": None, "target_accuracy": None, "per_class_needed": None}
    if len(curve) < 3:
        out["message"] = "Too few points on the learning curve to extrapolate; add labels to see the trend."
        return out
    from scipy.optimize import curve_fit

    m = np.array([p["per_class"] for p in curve], float)
    acc = np.array([p["accuracy"] for p in curve], float)
    current, target = acc[-1], min(acc[-1] + gain, 1.0)
    out.update(current_per_class=int(m[-1]), current_accuracy=float(current), target_accuracy=float(target))
    try:
        with warnings.catch_warnings():  # an exact fit has no covariance estimate; fine here
            warnings.simplefilter("ignore")
            (a, b, c), _ = curve_fit(lambda x, a, b, c: a - b * x ** (-c), m, acc, p0=(acc[-1], acc[-1] - acc[0] + 1e-3, 0.5),
                                     bounds=([0, 0, 0.05], [1, 2, 3]), maxfev=5000)
    except (RuntimeError, ValueError):
        out["message"] = "The learning curve could not be extrapolated."
        return out
    out["fit"] = {"a": float(a), "b": float(b), "c": float(c)}
    if current >= 1.0 - gain:
        out["message"] = (
            f"Accuracy is already {current:.0%} with {int(m[-1])} labels per class; more labels can "
            "add little. Check it on held-out data that looks like production input."
        )
        return out
    if a <= target + 1e-3:
        out["message"] = (
            f"The learning curve levels off near {a:.0%}: more labels of the same kind are unlikely "
            f"to gain {gain * 100:.0f} points; try --fine-tune, another feature module, or cleaner labels."
        )
        return out
    needed = int(math.ceil((b / (a - target)) ** (1 / c)))
    out["per_class_needed"] = needed
    if needed > 10 * m[-1]:
        out["message"] = (
            f"Gaining {gain * 100:.0f} points would take ~{needed:,} labels per class ({needed / m[-1]:.0f}x what "
            f"you have): better features (pretrain on more in-domain text, another module, --fine-tune) are "
            "likely cheaper than labels."
        )
        return out
    out["message"] = (
        f"About {max(needed - int(m[-1]), 1)} more labels per class (~{needed} in all) should lift accuracy "
        f"from {current:.0%} to {target:.0%} (extrapolated from the learning curve)."
    )
    return out


def plot_learning_curve(curve: list[dict], estimate: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    m = [p["per_class"] for p in curve]
    ax.plot(m, [p["accuracy"] for p in curve], "o-", label="cross-validated accuracy")
    if estimate.get("fit"):
        f = estimate["fit"]
        top = max(m[-1] * 4, estimate.get("per_class_needed") or 0)
        xs = np.geomspace(1, top, 100)
        ax.plot(xs, f["a"] - f["b"] * xs ** (-f["c"]), "--", color="gray", label="extrapolation")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("labeled examples per class")
    ax.set_ylabel("accuracy")
    ax.set_title("Learning curve")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_confusion_matrix(matrix, classes: Sequence[str], path: Path, title: str = "Confusion matrix") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.asarray(matrix)
    size = max(4, 0.6 * len(classes) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    for (i, j), v in np.ndenumerate(matrix):
        ax.text(j, i, str(v), ha="center", va="center", color="white" if v > matrix.max() / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def confusion_text(matrix, classes: Sequence[str]) -> str:
    width = max(8, *(len(c) + 1 for c in classes))
    lines = ["true \\ predicted".ljust(width) + "".join(c[:width - 1].rjust(width) for c in classes)]
    for c, row in zip(classes, matrix):
        lines.append(c[:width - 1].ljust(width) + "".join(str(v).rjust(width) for v in row))
    return "\n".join(lines)


def summary_text(report: dict) -> str:
    """A human summary of a fit report."""
    cv = report.get("cross_validation")
    if not cv:
        how = "the default; cross-validation skipped"
    elif len(report["candidates"]) == 1:
        how = f"as asked; scored by {report['validation_scheme']}"
    else:
        how = f"chosen by lowest log loss in {report['validation_scheme']}"
    lines = [f"Head: {report['head']}  ({how})"]
    if cv:
        lines.append(f"Cross-validated accuracy: {cv['accuracy_mean']:.3f} ± {cv['accuracy_std']:.3f}")
        lines.append("")
        lines.append(f"{'class':<20}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}")
        for c, m in cv["metrics"]["per_class"].items():
            lines.append(f"{c[:19]:<20}{m['precision']:>10.3f}{m['recall']:>10.3f}{m['f1']:>10.3f}{m['support']:>9}")
        lines += ["", confusion_text(cv["metrics"]["confusion_matrix"], report["labels"])]
    else:
        lines.append(report["validation_note"])
    if report.get("validation"):
        lines.append(f"\nHeld-out validation accuracy: {report['validation']['accuracy']:.3f} ({report['validation']['examples']} examples)")
    if report.get("labels_needed"):
        lines.append("\n" + report["labels_needed"]["message"])
    wrong = report.get("misclassified") or []
    if wrong:
        lines.append(f"\nMisclassified (out-of-fold), {len(wrong)} shown:")
        for w in wrong:
            lines.append(f"  {w['true']} -> {w['predicted']} ({w['probability']:.2f}): {w['item'][:80]}")
    return "\n".join(lines)


def write_report(report: dict, directory: Path, curve_estimate: tuple | None = None) -> None:
    """Write `report.json`, `report.txt` and the PNG plots into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "report.json").write_text(json.dumps(report, indent=2))
    (directory / "report.txt").write_text(summary_text(report) + "\n")
    if report.get("learning_curve"):
        plot_learning_curve(report["learning_curve"], report.get("labels_needed") or {}, directory / "learning_curve.png")
    cv = report.get("cross_validation")
    if cv:
        plot_confusion_matrix(cv["metrics"]["confusion_matrix"], report["labels"], directory / "confusion_matrix.png",
                              "Confusion matrix (cross-validated)")


def misclassified(items, labels, cv: CrossValidation) -> list[dict]:
    if not cv.oof_predictions:
        return []
    wrong = [
        {"item": str(item), "true": t, "predicted": p, "probability": round(float(q), 4)}
        for item, t, p, q in zip(items, labels, cv.oof_predictions, cv.oof_probabilities)
        if t != p
    ]
    return sorted(wrong, key=lambda w: -w["probability"])[:MISCLASSIFIED_SHOWN]


__all__ = ["class_metrics", "learning_curve", "labels_needed", "write_report", "summary_text", "misclassified", "config"]
