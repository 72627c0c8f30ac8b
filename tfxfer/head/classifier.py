"""`HeadClassifier`: a dense softmax classifier on frozen feature vectors."""

from __future__ import annotations

import dataclasses
from typing import Sequence

import keras
import numpy as np

from tfxfer import config
from tfxfer.errors import ConfigError, DataError, TfxferError
from tfxfer.head.train import standardizer, train_dense


class NotFittedError(TfxferError):
    """The classifier was used before `fit`."""


class HeadClassifier:
    """Softmax classifier (linear or one hidden layer) on feature vectors.

    Inputs are standardised with the training mean and variance (a layer of the
    model, so exports apply it too). Trained full-batch with Adam in one
    compiled loop (`tfxfer.head.train`): with a few hundred examples that is
    fast and deterministic.

    Args:
        cfg: The head's settings. Defaults to `config.HEAD`.

    Attributes:
        classes_: The labels, sorted; column order of `predict_proba`.
        model_: The trained Keras model, float32 `[batch, dim]` to `[batch, classes]`.
    """

    def __init__(self, cfg: config.HeadConfig = config.HEAD):
        self.cfg = cfg

    def _validate(self, features, labels):
        cfg = self.cfg
        if not 0 <= cfg.dropout < 1:
            raise ConfigError(f"`dropout` must be in [0, 1). Received: dropout={cfg.dropout}.")
        if cfg.l2 < 0:
            raise ConfigError(f"`l2` must be >= 0. Received: l2={cfg.l2}.")
        if cfg.hidden_units < 0 or cfg.epochs < 1:
            raise ConfigError(f"`hidden_units` must be >= 0 and `epochs` >= 1. Received: {cfg}.")
        features = np.asarray(features, np.float32)
        if features.ndim != 2 or len(features) != len(labels):
            raise DataError(f"Expected features [n, dim] and n labels. Received: {features.shape} and {len(labels)} labels.")
        classes = sorted(set(labels))
        if len(classes) < 2:
            raise DataError(
                f"Training data has a single class ({classes[0] if classes else 'none'}); a classifier "
                "needs at least two. Add examples of another class."
            )
        return features, classes

    def _build(self, mean: np.ndarray, scale: np.ndarray, weights: list[np.ndarray]) -> keras.Model:
        """The Keras model with the trained weights (used for fine-tuning and export)."""
        cfg = self.cfg
        reg = keras.regularizers.L2(cfg.l2) if cfg.l2 else None
        norm = keras.layers.Normalization(mean=mean, variance=scale**2, name="standardize")
        layers = [keras.Input((len(mean),)), norm]
        if cfg.dropout:
            layers.append(keras.layers.Dropout(cfg.dropout, seed=cfg.seed))
        if cfg.hidden_units:
            layers.append(keras.layers.Dense(cfg.hidden_units, "relu", kernel_regularizer=reg, name="hidden"))
            if cfg.dropout:
                layers.append(keras.layers.Dropout(cfg.dropout, seed=cfg.seed + 1))
        layers.append(keras.layers.Dense(len(self.classes_), "softmax", kernel_regularizer=reg, name="scores"))
        model = keras.Sequential(layers)
        dense = [l for l in model.layers if isinstance(l, keras.layers.Dense)]
        for i, layer in enumerate(dense):
            layer.set_weights(weights[2 * i : 2 * i + 2])
        return model

    def fit(self, features, labels: Sequence[str]) -> "HeadClassifier":
        """Train on float32 `[n, dim]` features and n string labels. Returns self."""
        features, self.classes_ = self._validate(features, labels)
        index = {c: i for i, c in enumerate(self.classes_)}
        y = np.array([index[label] for label in labels], np.int32)
        weights = np.ones(len(y), np.float32)
        if self.cfg.class_weight == "balanced":
            counts = np.bincount(y, minlength=len(self.classes_))
            weights = (len(y) / (len(self.classes_) * counts))[y].astype(np.float32)
        self.mean_, self.scale_ = standardizer(features)
        cfg = self.cfg
        self.weights_ = train_dense(
            (features - self.mean_) / self.scale_, y, weights, len(self.classes_), cfg.hidden_units,
            cfg.epochs, cfg.learning_rate, cfg.l2, cfg.dropout, cfg.seed,
        )
        self.model_ = self._build(self.mean_, self.scale_, self.weights_)
        return self

    def _check_fitted(self):
        if not hasattr(self, "model_"):
            raise NotFittedError("This HeadClassifier is not fitted yet. Call `fit(features, labels)` first.")

    def predict_proba(self, features) -> np.ndarray:
        """Class probabilities, float32 `[n, len(classes_)]`."""
        self._check_fitted()
        # The Keras model's own weights: after fine-tuning they differ from weights_.
        return np.asarray(self.model_(np.asarray(features, np.float32), training=False))

    def predict(self, features) -> list[str]:
        """The most probable label of each row."""
        return [self.classes_[i] for i in self.predict_proba(features).argmax(1)]

    def score(self, features, labels: Sequence[str]) -> float:
        """Accuracy on `features` and `labels`."""
        return float(np.mean(np.array(self.predict(features)) == np.array(labels)))

    def describe(self) -> str:
        cfg = self.cfg
        kind = f"hidden {cfg.hidden_units} ReLU" if cfg.hidden_units else "linear"
        return f"{kind}, dropout {cfg.dropout}, l2 {cfg.l2:g}"

    def get_params(self) -> dict:
        return dataclasses.asdict(self.cfg)
