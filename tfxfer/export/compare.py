"""Is one model better than another? Measured on the same examples, paired.

`compare_with_previous`: a new version against the one it replaces. The
previous version is run as a client would run it (its `serving_default`
on the raw inputs) on the new training data; the new version's figures are
its out-of-fold predictions on the same cross-validation folds. Examples
the previous version was trained on would flatter it, so only the others
count (by the hashes its report keeps); the difference is paired, example
by example, and called a change only beyond twice its standard error.
Where it was trained on (nearly) all of them (another feature module or
head on the same labels), the two are compared by cross-validation: each
report keeps its out-of-fold results per example (`out_of_fold_record`).

`compare_exports`: any exports (other feature modules, other labels) on one
labeled test set. Two accuracies on the same 300 examples whose 95%
intervals overlap can still differ clearly: what tells is the examples one
gets right and the other wrong (McNemar's test).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from scipy.stats import binomtest

from tfxfer.errors import DataError
from tfxfer.export.predict import ExportedModel
from tfxfer.export.saved_model import read_training_items
from tfxfer.head.calibration import softmax
from tfxfer.layout import read_fit_report, report_dir
from tfxfer.metrics import check_labels_known, is_imbalanced

# A difference counts once it exceeds this many standard errors.
NOISE_SE = 2.0


def _mean_std(values: list[float]) -> list[float]:
    return [float(np.mean(values)), float(np.std(values))] if values else [None, None]


def _right_and_loss(scores: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per example of `scores` `[n, classes]` and true class indices `index`: 1.0 where the top score's
    class is right (else 0.0), and the log loss."""
    return ((scores.argmax(1) == index).astype(float),
            -np.log(np.clip(scores[np.arange(len(index)), index], 1e-12, 1)))


def _by_fold(new: np.ndarray, previous: np.ndarray, folds: list[np.ndarray]) -> dict:
    """`{"new": [mean, std], "previous": [mean, std]}` of per-example figures, averaged within each fold."""
    return {"new": _mean_std([float(new[f].mean()) for f in folds]),
            "previous": _mean_std([float(previous[f].mean()) for f in folds])}


def _difference(right: np.ndarray, right_baseline: np.ndarray) -> tuple[float, float]:
    """The mean paired difference of two models' right answers (1.0 or 0.0 per example), and its standard
    error (0 on one example)."""
    diff = right - right_baseline
    return float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else 0.0


def _verdict(d: float, se: float, figures: str) -> dict:
    """The `verdict` on a paired difference `d` with standard error `se`, and the `message` that gives `figures`."""
    verdict = "better" if d > NOISE_SE * se and d > 0 else "worse" if d < -NOISE_SE * se else "no clear change"
    return {"verdict": verdict, "message": {
        "better": f"The new version is better: {figures}.",
        "worse": f"The new version is WORSE: {figures}.",
        "no clear change": f"The new version is not clearly better: {figures}; the difference is within the noise.",
    }[verdict]}


def out_of_fold_record(keys: Sequence[str], labels: Sequence[str], classes: Sequence[str], oof_logits: np.ndarray,
                       temperature: float) -> dict:
    """Each training example's out-of-fold result, for a later version to compare with on the same examples.

    Args:
        keys: `item_key` of each example.
        labels, classes: The examples' labels, and the classes in score order.
        oof_logits: float `[n, classes]` out-of-fold logits; `temperature` calibrates them.

    Returns:
        `{"right": [...], "log_loss": [...]}`, aligned with `sorted(set(keys))` (the report's
        `training_items`): the share answered right and the mean log loss, over an input's copies.
    """
    index = np.searchsorted(np.array(classes), np.asarray(labels))
    right, loss = _right_and_loss(softmax(np.asarray(oof_logits) / temperature), index)
    unique, inverse = np.unique(np.asarray(keys), return_inverse=True)
    copies = np.bincount(inverse, minlength=len(unique))
    return {"right": np.round(np.bincount(inverse, right, len(unique)) / copies, 4).tolist(),
            "log_loss": np.round(np.bincount(inverse, loss, len(unique)) / copies, 4).tolist()}


def compare_with_previous(version_dir: Path, items: Sequence[str], labels: Sequence[str], classes: Sequence[str],
                          oof_logits: np.ndarray, temperature: float, splits, keys: Sequence[str]) -> dict:
    """Accuracy and log loss of the new head (out-of-fold) and of the export at `version_dir`.

    `keys`: each item's `item_key`, as the report's `training_items` lists them.

    Returns:
        A JSON-able dict: `previous_version`, `examples` compared, per-fold
        `accuracy` and `log_loss` (`new`, `previous`: `[mean, std]`), the
        paired `difference` of accuracy and its `standard_error`, the
        `verdict` (`"better"`, `"no clear change"`, `"worse"`; `None` where the
        examples cannot tell: all were trained on, or the previous version's
        report, which lists its training examples, is missing), the `basis` (`"held_out"`: the
        examples it was not trained on; `"cross_validation"`: both versions' out-of-fold results
        on the examples both were fitted on) and a `message`.
    """
    trained_on = read_training_items(version_dir)
    previous = ExportedModel(version_dir)
    result = previous.run(list(items), warn_unknown_words=False)
    prev_scores = np.full((len(items), len(classes)), np.nan)
    # A class new in this version scores 0 under the previous one: it could not answer it.
    known = np.array([c in previous.labels for c in classes])
    order = [previous.labels.index(c) for c in np.array(classes)[known]]
    rows = np.zeros((len(result.positions), len(classes)))
    rows[:, known] = result.scores[:, order]
    prev_scores[result.positions] = rows
    index = np.searchsorted(np.array(classes), np.asarray(labels))
    fresh = ~np.isin(keys, list(trained_on)) & ~np.isnan(prev_scores).any(1)
    out = {"previous_version": int(version_dir.name), "examples": int(fresh.sum()),
           "unseen_by_previous": bool(trained_on), "basis": "held_out"}
    if fresh.sum() < 2:
        crossed = _cross_validated(version_dir, keys, index, oof_logits, temperature, splits, list(classes))
        if crossed is not None:
            return {**out, **crossed}
        unseen = int(fresh.sum())
        out.update(verdict=None, message=(
            f"Not compared with version {version_dir.name}: it was trained on "
            + ("all of these examples" if not unseen else f"all but {unseen} of these examples")
            + ", so they cannot tell the two apart. Add new labels to compare versions."))
        return out
    right_new, loss_new = _right_and_loss(softmax(np.asarray(oof_logits) / temperature), index)
    right_prev, loss_prev = _right_and_loss(np.nan_to_num(prev_scores), index)  # its unread rows are not fresh
    folds = [np.asarray(test)[fresh[test]] for _, test in splits]
    folds = [f for f in folds if len(f)]
    out["accuracy"] = _by_fold(right_new, right_prev, folds)
    out["log_loss"] = _by_fold(loss_new, loss_prev, folds)
    d, se = _difference(right_new[fresh], right_prev[fresh])
    out.update(difference=d, standard_error=se)
    figures = (f"accuracy {right_new[fresh].mean():.3f} against {right_prev[fresh].mean():.3f} for version "
               f"{version_dir.name} (difference {d:+.3f} ± {se:.3f}) on {int(fresh.sum())} examples")
    if not trained_on:
        # Its own training examples would flatter it (a head scores near 1.000 on them): no verdict.
        out.update(verdict=None, message=(
            f"Compared with version {version_dir.name}, without a verdict: {figures}, which it may have been "
            f"trained on (its report, {str(report_dir(version_dir) / 'report.json')!r}, "
            "lists the examples it was trained on and is missing)."))
        return out
    out.update(_verdict(d, se, f"{figures} version {version_dir.name} was not trained on"))
    return out


def _cross_validated(version_dir: Path, keys: Sequence[str], index: np.ndarray, oof_logits: np.ndarray,
                     temperature: float, splits, classes: list[str]) -> dict | None:
    """`compare_with_previous`'s figures from both versions' out-of-fold results on the examples both were
    fitted on (another module or head on the same labels), paired example by example; `None` where the
    previous report kept none (a tfxfer before stop 64) or they share fewer than 2 examples."""
    previous = read_fit_report(version_dir)
    record = previous.get("out_of_fold")
    if not record or record.get("classes") not in (None, classes):
        return None
    at = {key: i for i, key in enumerate(previous.get("training_items", []))}
    shared = np.array([key in at for key in keys])
    if shared.sum() < 2 or len(record["right"]) != len(at):
        return None
    rows = [at[key] for key, both in zip(keys, shared) if both]
    right_new, loss_new = (v[shared] for v in _right_and_loss(softmax(np.asarray(oof_logits) / temperature), index))
    right_prev, loss_prev = np.array(record["right"])[rows], np.array(record["log_loss"])[rows]
    position = np.cumsum(shared) - 1  # an example's row among the shared
    folds = [position[np.asarray(test)[shared[test]]] for _, test in splits]
    folds = [f for f in folds if len(f)]
    d, se = _difference(right_new, right_prev)
    figures = (f"cross-validated accuracy {right_new.mean():.3f} against {right_prev.mean():.3f} for version "
               f"{version_dir.name} (difference {d:+.3f} ± {se:.3f}), log loss {loss_new.mean():.3f} against "
               f"{loss_prev.mean():.3f}, on the {int(shared.sum())} examples both were fitted on")
    return {"basis": "cross_validation", "examples": int(shared.sum()), "difference": d, "standard_error": se,
            "accuracy": _by_fold(right_new, right_prev, folds), "log_loss": _by_fold(loss_new, loss_prev, folds),
            **_verdict(d, se, figures)}


def compare_exports(exports: Sequence, data, skip_bad_rows: bool = False,
                    columns: tuple[str | None, str | None] | None = None) -> dict:
    """Each export's `evaluate` on `data`, and each against the first, paired on the examples all could read.

    Args:
        exports: Two or more export paths (`EXPORT_DIR`, `EXPORT_DIR/NAME` or a version).
        data, skip_bad_rows, columns: As for `ExportedModel.evaluate`.

    Returns:
        A JSON-able dict: `models` (each one's evaluation) and `comparisons`,
        one per later export: `model`, `baseline`, `examples`,
        `difference` (accuracy, the model's minus the baseline's) with its
        95% `interval`, `only_model_right` and `only_baseline_right`
        (counts), McNemar's exact `p_value`, `verdict` (`"better"`,
        `"worse"`, `"no clear difference"`), a `message` and, where the
        classes of `data` are imbalanced, `balanced_difference` (in
        balanced accuracy) with its 95% `balanced_interval`.

    Raises:
        DataError: Exports of different kinds (text and images).
    """
    models = [ExportedModel(e) for e in exports]
    if len({m.kind for m in models}) > 1:
        kinds = ", ".join(f"{m.path} takes {m.kind}" for m in models)
        raise DataError(f"These exports take different inputs ({kinds}): compare models of one kind.")
    items, labels = models[0].labeled(data, skip_bad_rows, columns)
    for model in models:  # each, before any scores all of data
        check_labels_known(labels, model.labels, str(data))
    truth = np.asarray(labels)
    results, right = [], []
    for model in models:
        result, predictions = model.evaluate_items(items, labels, str(data))
        correct = np.full(len(items), np.nan)
        predicted = np.asarray(model.labels)[predictions.scores.argmax(1)]
        correct[predictions.positions] = predicted == truth[predictions.positions]
        results.append(result)
        right.append(correct)
    common = ~np.isnan(np.stack(right)).any(0)
    # Imbalanced data: also the difference in balanced accuracy, each class weighing the same.
    classes = np.unique(truth[common], return_inverse=True)[1] if is_imbalanced(results[0]) else None
    comparisons = [_paired(str(m.path), str(models[0].path), r[common], right[0][common], classes)
                   for m, r in zip(models[1:], right[1:])]
    return {"data": str(data), "models": results, "comparisons": comparisons}


def _paired(model: str, baseline: str, right: np.ndarray, right_baseline: np.ndarray,
            classes: np.ndarray | None = None) -> dict:
    only_model, only_baseline = int((right > right_baseline).sum()), int((right < right_baseline).sum())
    diff = right - right_baseline
    d, se = _difference(right, right_baseline)
    p = binomtest(only_model, only_model + only_baseline).pvalue if only_model + only_baseline else 1.0
    verdict = "no clear difference" if p >= 0.05 else "better" if d > 0 else "worse"
    message = (f"{model} against {baseline}: {d * 100:+.1f} points (95% interval {(d - 1.96 * se) * 100:+.1f} to "
               f"{(d + 1.96 * se) * 100:+.1f}) on {len(diff):,} examples; right where the other is wrong on "
               f"{only_model}, the reverse on {only_baseline} (McNemar p = {p:.2g}): {verdict}.")
    out = {"model": model, "baseline": baseline, "examples": len(diff), "difference": d,
           "interval": [d - 1.96 * se, d + 1.96 * se], "only_model_right": only_model,
           "only_baseline_right": only_baseline, "p_value": float(p), "verdict": verdict, "message": message}
    if classes is not None:
        # The mean over classes of each class's mean paired difference; its error adds the classes'.
        per_class = [diff[classes == c] for c in np.unique(classes)]
        bd = float(np.mean([d.mean() for d in per_class]))
        bse = float(np.sqrt(sum(d.var(ddof=1) / len(d) for d in per_class if len(d) > 1)) / len(per_class))
        out["balanced_difference"], out["balanced_interval"] = bd, [bd - 1.96 * bse, bd + 1.96 * bse]
        out["message"] += (f" Balanced accuracy (the classes are imbalanced): {bd * 100:+.1f} points (95% interval "
                           f"{(bd - 1.96 * bse) * 100:+.1f} to {(bd + 1.96 * bse) * 100:+.1f}).")
    return out


def comparison_text(result: dict) -> str:
    """A human summary of `compare_exports`: one line per model, then the paired differences."""
    width = max(24, *(len(m["model"]) + 2 for m in result["models"]))
    balanced = is_imbalanced(result["models"][0])
    lines = [f"Compared on {result['comparisons'][0]['examples']:,} examples of {result['data']}:",
             f"{'model':<{width}}{'accuracy':>9}{'95% interval':>17}{'macro F1':>10}"
             + (f"{'balanced':>10}" if balanced else "") + f"{'ECE':>7}"]
    for m in result["models"]:
        low, high = m["accuracy_interval"]
        lines.append(f"{m['model']:<{width}}{m['accuracy']:>9.3f}{f'{low:.3f} - {high:.3f}':>17}{m['macro_f1']:>10.3f}"
                     + (f"{m['balanced_accuracy']:>10.3f}" if balanced else "")
                     + f"{m['calibration']['expected_calibration_error']:>7.3f}")
    return "\n".join(lines + [""] + [c["message"] for c in result["comparisons"]])
