"""`train_head`: choose, calibrate and fit a head on feature vectors, and report on it.

Everything here sees feature vectors only; reading data, extracting features
and exporting are `tfxfer.fitting`'s.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import numpy as np

from tfxfer import config
from tfxfer.features.extract import class_counts
from tfxfer.head import learning_curve as curves
from tfxfer.head.calibration import (
    calibration_report,
    fit_bias_temperature,
    fit_decision_bias,
    fit_temperature,
    prior_shift,
    probabilities_report,
    softmax,
)
from tfxfer.head.classifier import HeadClassifier
from tfxfer.head.selection import (
    CrossValidation,
    cross_validate,
    fold_accuracy,
    lower_log_loss,
    make_splits,
    out_of_fold_logits,
)
from tfxfer.head.train import stack_rows, vectors
from tfxfer.metrics import (
    accuracy_interval,
    class_metrics,
    is_imbalanced,
    misclassified,
)
from tfxfer.reliability import scores_by_class

HEADS = {"auto": None, "linear": config.HEAD, "hidden": config.HIDDEN_HEAD}
Progress = Callable[[str, int, int], None]


def train_head(
    features: np.ndarray,
    labels: Sequence[str],
    *,
    head: str = "auto",
    unlabeled: np.ndarray | None = None,
    abstain_below: float | None = None,
    items: Sequence[str] | None = None,
    extra: tuple[np.ndarray, Sequence[str]] | None = None,
    lexical: int = 0,
    use_lexical: bool | str = config.LEXICAL,
    class_weight: str | None = config.HEAD.class_weight,
    with_learning_curve: bool = True,
    seed: int = 1,
    progress: Progress | None = None,
) -> tuple[HeadClassifier, dict, CrossValidation]:
    """Choose, calibrate and fit a head on feature vectors; report how well it does.

    Args:
        features: float `[n, dim]` features of the labeled examples.
        labels: Their `n` labels.
        head: `"auto"`, `"linear"` or `"hidden"` (see `fit_head`).
        unlabeled: float `[m, dim]` features of unlabeled examples, or `None`.
        abstain_below: Report coverage and accuracy where the answer's probability reaches this.
        items: What each row is (texts or paths), for the misclassified list.
        extra: More `(features, labels)` rows for the final fit only
            (augmented views of the images).
        lexical: The trailing columns of `features` (and of `unlabeled`) that
            are lexical features (`tfxfer.features.lexical`). Defaults to `0`.
        use_lexical: `"auto"`: the head keeps those columns only where they
            lower the cross-validated log loss against the vectors alone by
            `config.LEXICAL_MARGIN` standard errors (the report's
            `lexical_choice` says how it went); `True`: it keeps them.
            Defaults to `config.LEXICAL` (`"auto"`).
        class_weight: Every candidate's (see `fit_head`). Defaults to `"balanced"`.
        with_learning_curve: Compute the learning curve and forecast. Defaults to `True`.
        seed: Seed of folds, subsamples and initialisation.
        progress: Called with `(stage, done, total)`.

    Returns:
        `(classifier, report, cross_validation)`: the fitted, calibrated
        `HeadClassifier`, the report dict and the `CrossValidation` behind it
        (its out-of-fold logits, with the head's decision bias where it has
        one, and folds). A classifier whose `lexical_columns` is 0 where
        `lexical` was not reads the features without their last `lexical`
        columns (`train.vectors`), as its export does.
    """
    def stage(name):
        return (lambda done, total: progress(name, done, total)) if progress else None

    y = np.asarray(list(labels))
    classes = sorted(set(y.tolist()))
    index = np.searchsorted(np.array(classes), y)
    candidates = None if HEADS[head] is None else (HEADS[head],)
    cv = cross_validate(features, y, candidates, seed, unlabeled=unlabeled, lexical=lexical,
                        class_weight=class_weight, progress=stage("cross-validation"))
    lexical_choice = None
    if lexical and use_lexical == "auto":
        # The same folds without the columns: on few labels they cost as often as they gain
        # (scripts/bench_lexical.py), so they must win clearly to stay.
        alone_x = vectors(features, lexical)
        alone_unlabeled = None if unlabeled is None else vectors(unlabeled, lexical)
        alone = cross_validate(alone_x, y, candidates, seed, unlabeled=alone_unlabeled, class_weight=class_weight,
                               progress=stage("cross-validation, sentence vectors alone"))
        lexical_choice = _lexical_choice(cv, alone, index, lexical)
        if not lexical_choice["used"]:
            features, unlabeled, lexical, cv = alone_x, alone_unlabeled, 0, alone
    use = unlabeled if cv.use_unlabeled else None
    calibration_logits, calibration_index = _calibration_predictions(cv, features, y, index, use, seed)
    temperature = fit_temperature(calibration_logits, calibration_index) if calibration_logits is not None else 1.0
    shift = prior_shift(index, cv.best.class_weight, len(classes))
    prior_temperature, bias, decision = temperature, shift, None
    if calibration_logits is not None and shift.any():
        # Imbalanced labels, weighed equally: answers shifted so that out of fold they do weigh
        # classes equally (on 500 pros and 25 cons, balanced accuracy 0.68 -> 0.82); the head's
        # logits, and so every figure below, include the shift.
        offset = temperature * fit_decision_bias(calibration_logits / temperature, calibration_index)
        # None where no bias moves an answer: logits hundreds apart (13 photos at C=100) leave it at 0.
        decision = dict(zip(classes, offset.tolist())) if np.abs(offset).max() >= 0.005 else None
        calibration_logits = calibration_logits + offset
        shifted = cv.oof_logits + offset
        cv = dataclasses.replace(cv, oof_logits=shifted, fold_scores=fold_accuracy(shifted, index, cv.splits))
        prior_temperature, bias = fit_bias_temperature(calibration_logits, calibration_index, shift)
    clf = HeadClassifier.from_config(cv.best, temperature=temperature, prior_temperature=prior_temperature,
                                     class_bias=tuple(bias), decision_bias=decision)
    fit_x, fit_y = (features, y) if extra is None else (stack_rows(features, extra[0]),
                                                        np.concatenate([y, np.asarray(list(extra[1]))]))
    clf.fit(fit_x, fit_y, unlabeled=use)
    report = {
        "labels": classes,
        "class_counts": class_counts(y.tolist()),
        "head": clf.describe(),
        "head_asked": head,
        "head_config": dataclasses.asdict(cv.best),
        "validation_scheme": cv.scheme,
        "validation_note": cv.note,
        "candidates": cv.candidates,
    }
    if decision:
        report["decision_bias"] = decision
    if lexical_choice is not None:
        report["lexical_choice"] = lexical_choice
    if cv.oof_logits is not None:
        answers = cv.oof_logits.argmax(1)
        predicted = np.array(classes)[answers]
        calibrated = softmax(cv.oof_logits / temperature)
        # The `probabilities` output out of fold, on the stacked and on the one cross-validation.
        chances = softmax(calibration_logits / prior_temperature + bias)
        oof_chances = chances[: len(index)]  # the stack starts with the search's own
        report["cross_validation"] = _cross_validation_report(y, predicted, index, classes, cv.fold_scores)
        report["calibration"] = {
            **calibration_report(calibration_logits, calibration_index, temperature, abstain_below, chances),
            "repeats": len(calibration_index) // len(index),
            # Per class, on the one cross-validation the figures above come from (calibration may
            # stack several): a temperature fits all answers at once, not each class's.
            "by_class": scores_by_class(calibrated, index),
        }
        if shift.any():
            report["calibration"]["probabilities"] = probabilities_report(
                chances, calibration_index, prior_temperature, bias, oof_chances, answers, index)
        if items is not None:
            # Ranked by the chance the answer is right, which `probabilities` tell where scores run high.
            report["misclassified"] = misclassified(items, y.tolist(), predicted.tolist(),
                                                    oof_chances[np.arange(len(y)), answers])
        if with_learning_curve:
            # The curve fits class indices, not labels.
            by_index = decision and {i: decision[c] for i, c in enumerate(classes)}
            base = HeadClassifier.from_config(cv.best, decision_bias=by_index)
            report.update(_learning_curve(features, index, cv, base, report["cross_validation"], use, seed,
                                          stage("learning curve")))
    if unlabeled is not None:
        report["unlabeled_cv"] = {"used": cv.use_unlabeled, "pseudo_labeled": clf.pseudo_labeled_,
                                  "accuracy_gain": cv.unlabeled_gain, "accuracy_gain_se": cv.unlabeled_gain_se,
                                  "log_loss_choice": cv.unlabeled_log_loss}
    return clf, report, cv


def _cross_validation_report(y: np.ndarray, predicted: np.ndarray, index: np.ndarray, classes: list[str],
                             fold_scores) -> dict:
    """How the out-of-fold answers `predicted` did against the labels `y` (`index`: their class indices)."""
    counts = np.bincount(index)
    return {
        "accuracy_mean": float(np.mean(predicted == y)),
        "accuracy_std": float(np.std(fold_scores)),
        # What another sample of as many labels could have shown: the fold spread is not that.
        "accuracy_interval": accuracy_interval(int(np.sum(predicted == y)), len(y)),
        "folds": len(fold_scores),
        # The floor any head must clear: always answering the commonest label.
        "majority_class": classes[int(counts.argmax())] if np.ptp(counts) else None,
        "majority_accuracy": float(counts.max() / len(y)),
        "metrics": class_metrics(y.tolist(), predicted.tolist(), classes),
    }


def _learning_curve(features, index, cv: CrossValidation, base: HeadClassifier, cross_validation: dict,
                    unlabeled, seed: int, progress) -> dict:
    """The report's `learning_curve` (accuracy on subsamples of the labels, with its spread) and
    `labels_needed` (its forecast for more labels), in balanced accuracy where a head that weighs classes
    equally meets imbalanced ones."""
    curve = curves.learning_curve(features, index, cv.splits, base, seed, unlabeled=unlabeled,
                                  whole=cv.oof_logits, progress=progress)
    figures = cross_validation["metrics"]
    balanced = cv.best.class_weight == "balanced" and is_imbalanced(figures)
    metric = curves.BALANCED_ACCURACY if balanced else curves.ACCURACY
    current = figures["balanced_accuracy"] if balanced else cross_validation["accuracy_mean"]
    return {
        "learning_curve": curves.curve_points(curve, curves.example_weights(index, metric)),
        "labels_needed": curves.forecast(curve, index, curves.reference_count(np.bincount(index)), current, seed,
                                         metric=metric),
    }


def _lexical_choice(with_columns: CrossValidation, alone: CrossValidation, index: np.ndarray, columns: int) -> dict:
    """Whether the head keeps its `columns` lexical columns, and the out-of-fold log losses behind it."""
    choice = {"used": False, "columns": columns, "margin": config.LEXICAL_MARGIN}
    if with_columns.oof_logits is None or alone.oof_logits is None:  # too few labels to compare: the simpler head
        return {**choice, "log_loss": None, "log_loss_without": None, "gain_se": None}
    compared = lower_log_loss(with_columns.oof_logits, alone.oof_logits, index, config.LEXICAL_MARGIN)
    return {**choice, "used": compared["better"], "log_loss": compared["log_loss"],
            "log_loss_without": compared["log_loss_other"], "gain_se": compared["gain_se"]}


def _calibration_predictions(cv: CrossValidation, features, y, index, unlabeled, seed):
    """Out-of-fold logits and true class indices to fit the temperature on.

    Small sets add `config.CALIBRATION_REPEATS - 1` cross-validations of the
    chosen head on other folds to the search's own, stacked.
    """
    if cv.oof_logits is None or len(y) > config.CALIBRATION_REPEATS_MAX:
        return cv.oof_logits, index
    logits = [cv.oof_logits]
    for repeat in range(1, config.CALIBRATION_REPEATS):
        splits, _, _ = make_splits(y.tolist(), seed + 1000 * repeat)
        logits.append(out_of_fold_logits(HeadClassifier.from_config(cv.best), features, y, splits, unlabeled))
    return np.concatenate(logits), np.tile(index, len(logits))
