"""`fit_head`: a small classifier on a feature module and a few labeled examples."""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf
from sklearn.model_selection import train_test_split

from tfxfer import __version__, config
from tfxfer.atomic import atomic_dir
from tfxfer.data.images import decode_image, load_image_list
from tfxfer.data.labeled import load_labeled_text
from tfxfer.errors import ConfigError, DataError
from tfxfer.export.saved_model import choose_version, save_serving_model
from tfxfer.export.serving import write_serving_files
from tfxfer.features.embed import check_kind
from tfxfer.features.extract import Features, class_counts, extract_image_features, extract_text_features
from tfxfer.features.load import IMAGE, FeatureModule, load_features
from tfxfer.head import report as reporting
from tfxfer.head.classifier import HeadClassifier
from tfxfer.head.selection import cross_validate

logger = logging.getLogger(__name__)

HEADS = {"auto": None, "linear": config.HEAD, "hidden": config.HEAD_CANDIDATES[-1]}
Progress = Callable[[str, int, int], None]


def _load_data(module: FeatureModule, source) -> tuple[list[str], list[str]]:
    """Items (image paths or texts) and labels of `source`, checked against the module."""
    check_kind(module, source)
    if module.kind == IMAGE:
        paths, labels = load_image_list(source)
        return [str(p) for p in paths], labels
    return load_labeled_text(source)


@dataclasses.dataclass
class FittedHead:
    """A feature module with a trained head: predict, evaluate, export.

    Attributes:
        module: The `FeatureModule`.
        classifier: The fitted `HeadClassifier`.
        report: The fit report (dict; see `tfxfer.head.report`).
    """

    module: FeatureModule
    classifier: HeadClassifier
    report: dict
    cache_dir: str | None = None
    use_cache: bool = True

    @property
    def labels(self) -> list[str]:
        return list(self.classifier.classes_)

    def features(self, items: Sequence[str], labels=None) -> Features:
        """Feature vectors of texts, or of image files, for this module."""
        if self.module.kind == IMAGE:
            return extract_image_features(self.module, items, labels, cache_dir=self.cache_dir, use_cache=self.use_cache)
        return extract_text_features(self.module, items, labels)

    def predict(self, items: Sequence[str]) -> list[tuple[str, float]]:
        """`(label, probability)` for each text or image path."""
        feats = self.features(items)
        if len(feats.items) != len(items):
            raise DataError(f"Cannot read {', '.join(s for s, _ in feats.skipped)}.")
        proba = self.classifier.predict_proba(feats.features)
        return [(self.labels[i], float(p[i])) for p, i in zip(proba, proba.argmax(1))]

    def evaluate(self, data) -> dict:
        """Accuracy, per-class metrics and confusion matrix on labeled `data`."""
        items, labels = _load_data(self.module, data)
        feats = self.features(items, labels)
        unknown = sorted(set(feats.labels) - set(self.labels))
        if unknown:
            raise DataError(f"Labels {unknown} of {str(data)!r} are not classes of this model ({self.labels}).")
        return reporting.class_metrics(feats.labels, self.classifier.predict(feats.features), self.labels)

    def export(self, export_dir, name: str = config.EXPORT_NAME, version: int | None = None, overwrite: bool = False) -> Path:
        """Write `export_dir/name/version` (TF Serving layout), `models.config`, a README and the report.

        Returns:
            The version directory.
        """
        export_dir = Path(export_dir)
        base = export_dir / name
        version = choose_version(base, self.labels, version, overwrite)
        path = save_serving_model(self.module, self.classifier.model_, self.labels, base, version)
        write_serving_files(export_dir, name, self.module.kind, self.module.image_size)
        with atomic_dir(base / "reports" / str(version), overwrite=True) as tmp:
            reporting.write_report({**self.report, "export": str(path)}, tmp)
        return path


def _fine_tune(module: FeatureModule, clf: HeadClassifier, items, labels, seed: int) -> int:
    """Train module and head together with a small learning rate; returns the steps taken."""
    variables = module.trainable_variables
    if not variables:
        raise DataError(f"{module.spec!r} has no trainable variables; it cannot be fine-tuned. Drop --fine-tune.")
    index = {c: i for i, c in enumerate(clf.classes_)}
    y = np.array([index[label] for label in labels], np.int32)
    head = clf.model_
    optimizer = keras.optimizers.Adam(config.FINE_TUNE_LEARNING_RATE)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    if module.kind == IMAGE:
        load = lambda path: decode_image(tf.io.read_file(path), module.image_size)  # noqa: E731
        inputs = tf.data.Dataset.from_tensor_slices(list(items)).map(load)
    else:
        inputs = tf.data.Dataset.from_tensor_slices(list(items))
    dataset = tf.data.Dataset.zip((inputs, tf.data.Dataset.from_tensor_slices(y)))
    dataset = dataset.shuffle(len(y), seed=seed).batch(16)
    trainable = [*variables, *head.trainable_variables]

    @tf.function
    def step(x, target):
        with tf.GradientTape() as tape:
            loss = loss_fn(target, head(module(x), training=True))
        optimizer.apply(tape.gradient(loss, trainable), trainable)
        return loss

    steps = 0
    for _ in range(config.FINE_TUNE_EPOCHS):
        for x, target in dataset:
            step(x, target)
            steps += 1
    return steps


def fit_head(
    features: str | Path | FeatureModule,
    train,
    *,
    validation=None,
    validation_split: float | None = None,
    head: str = "auto",
    fine_tune: bool = False,
    image_size: int | None = None,
    augment: int = 0,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    seed: int = 1,
    progress: Progress | None = None,
) -> FittedHead:
    """Train a head on a feature module and labeled data; report how well it does.

    Args:
        features: Feature module spec (TF-Hub handle, SavedModel dir, .tar.gz)
            or a loaded `FeatureModule`.
        train: Labeled data: for text modules a CSV/TSV, fastText file, folder of
            `<label>.txt` or `nltk:NAME`; for image modules a class folder or CSV.
        validation: Held-out labeled data for a report. Defaults to none.
        validation_split: Fraction of `train` held out instead (stratified).
        head: `"auto"` (chosen by cross-validation), `"linear"` or `"hidden"`.
            Defaults to `"auto"`.
        fine_tune: Then train the module's variables too, at a small learning
            rate. Defaults to `False`.
        image_size: For image modules that accept any size. Defaults to
            `features.load.default_image_size`, 288 for most modules.
        augment: Augmented views per training image. Defaults to `0`.
        cache_dir, use_cache: The feature cache. Defaults to the user cache.
        seed: Seed of folds, initialisation and augmentation. Defaults to `1`.
        progress: Called with `(stage, done, total)`.

    Returns:
        A `FittedHead`.
    """
    if head not in HEADS:
        raise ConfigError(f"`head` must be one of {sorted(HEADS)}. Received: head={head!r}.")
    if validation is not None and validation_split:
        raise ConfigError("Pass either `validation` or `validation_split`, not both.")
    if validation_split is not None and not 0 < validation_split < 1:
        raise ConfigError(f"`validation_split` must be in (0, 1). Received: validation_split={validation_split}.")
    t0 = time.time()
    module = features if isinstance(features, FeatureModule) else load_features(features, image_size)
    items, labels = _load_data(module, train)
    counts = class_counts(labels)
    if len(counts) < 2:
        raise DataError(
            f"{str(train)!r} has a single class ({next(iter(counts), 'none')}); a classifier needs at "
            "least two. Add examples of another class."
        )
    held_out = None
    if validation is not None:
        held_out = _load_data(module, validation)
    elif validation_split:
        try:
            items, v_items, labels, v_labels = train_test_split(
                items, labels, test_size=validation_split, stratify=labels, random_state=seed
            )
        except ValueError as e:
            raise DataError(f"Cannot hold out {validation_split:.0%} stratified: {e}. Use a smaller --validation-split.") from None
        held_out = (v_items, v_labels)

    def stage(name):
        return (lambda done, total: progress(name, done, total)) if progress else None

    if module.kind == IMAGE:
        feats = extract_image_features(module, items, labels, cache_dir=cache_dir, use_cache=use_cache,
                                       augment=augment, seed=seed, progress=stage("features"))
    else:
        feats = extract_text_features(module, items, labels, progress=stage("features"))
    originals = feats.views == 0
    x, y = feats.features[originals], [l for l, o in zip(feats.labels, originals) if o]
    kept_items = [i for i, o in zip(feats.items, originals) if o]

    candidates = config.HEAD_CANDIDATES if HEADS[head] is None else (HEADS[head],)
    cv = cross_validate(x, y, candidates, seed=seed, progress=stage("cross-validation"))
    clf = HeadClassifier(cv.best).fit(feats.features, feats.labels)  # all of it, augmented views too
    fine_tune_steps = _fine_tune(module, clf, kept_items, y, seed) if fine_tune else 0

    report = {
        "tfxfer_version": __version__,
        "feature_module": {"spec": module.spec, "kind": module.kind, "image_size": module.image_size,
                           "output_dim": module.output_dim},
        "labels": list(clf.classes_),
        "class_counts": class_counts(y),
        "skipped": [{"item": s, "reason": r} for s, r in feats.skipped],
        "augmented_views": augment,
        "head": clf.describe(),
        "head_config": dataclasses.asdict(cv.best),
        "validation_scheme": cv.scheme,
        "validation_note": cv.note,
        "candidates": [{"head": d, "accuracy_mean": m, "accuracy_std": s, "log_loss": ll}
                       for d, m, s, ll in cv.candidates],
        "fine_tune_steps": fine_tune_steps,
    }
    if cv.fold_scores:
        report["cross_validation"] = {
            "accuracy_mean": float(np.mean(cv.fold_scores)) if cv.scheme != "leave-one-out"
            else float(np.mean(np.array(cv.oof_predictions) == np.array(y))),
            "accuracy_std": float(np.std(cv.fold_scores)),
            "folds": len(cv.fold_scores),
            "metrics": reporting.class_metrics(y, cv.oof_predictions, clf.classes_),
        }
        report["misclassified"] = reporting.misclassified(kept_items, y, cv)
        curve = reporting.learning_curve(x, y, cv, seed)
        report["learning_curve"] = curve
        report["labels_needed"] = reporting.labels_needed(curve)
    fitted = FittedHead(module, clf, report, str(cache_dir) if cache_dir else None, use_cache)
    if held_out is not None:
        v_feats = fitted.features(*held_out)
        predicted = clf.predict(v_feats.features)
        report["validation"] = {
            "examples": len(predicted),
            **reporting.class_metrics(v_feats.labels, predicted, clf.classes_),
        }
    report["seconds"] = round(time.time() - t0, 2)
    return fitted
