"""Compose feature module and head into one SavedModel for TF Serving.

The head is re-expressed as plain TensorFlow ops over its trained weights, so
the export loads with nothing but TensorFlow (no Keras objects, no tfxfer), and
raw input goes through the same preprocessing ops as at training time.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from tfxfer.data.images import decode_image
from tfxfer.errors import DataError, OutputExistsError
from tfxfer.features.load import IMAGE, FeatureModule

logger = logging.getLogger(__name__)

LABELS_FILE = "labels.txt"
TEXT_INPUT, IMAGE_INPUT, FLOAT_IMAGE_INPUT = "text", "image_bytes", "images"
FLOAT_IMAGES_SIGNATURE = "serving_images"


def head_weights(model: keras.Model) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray, str]]]:
    """`(mean, scale, [(kernel, bias, activation), ...])` of a `HeadClassifier` model."""
    mean = scale = None
    dense = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Normalization):
            mean = np.asarray(layer.mean, np.float32).reshape(-1)
            # Keras: (x - mean) / max(sqrt(variance), epsilon)
            scale = np.maximum(np.sqrt(np.asarray(layer.variance, np.float32).reshape(-1)), keras.config.epsilon())
        elif isinstance(layer, keras.layers.Dense):
            dense.append((layer.kernel.numpy(), layer.bias.numpy(), keras.activations.serialize(layer.activation)))
    return mean, scale, dense


class ServingModel(tf.Module):
    """Raw input -> feature module -> standardise -> dense layers -> scores, classes."""

    def __init__(self, module: FeatureModule, head: keras.Model, labels: Sequence[str], labels_file: Path):
        super().__init__(name="tfxfer_model")
        self.feature_module = module.obj
        self._features = module.fn
        self.kind, self.image_size = module.kind, module.image_size
        mean, scale, dense = head_weights(head)
        self.mean = tf.Variable(mean, trainable=False, name="feature_mean")
        self.scale = tf.Variable(scale, trainable=False, name="feature_scale")
        self.kernels = [tf.Variable(k, name=f"kernel_{i}") for i, (k, _, _) in enumerate(dense)]
        self.biases = [tf.Variable(b, name=f"bias_{i}") for i, (_, b, _) in enumerate(dense)]
        self.activations = [a for _, _, a in dense]
        self.labels_asset = tf.saved_model.Asset(str(labels_file))
        self.labels = tf.constant(list(labels))

    def scores(self, features):
        x = (features - self.mean) / self.scale
        for kernel, bias, activation in zip(self.kernels, self.biases, self.activations):
            x = tf.matmul(x, kernel) + bias
            x = tf.nn.relu(x) if activation == "relu" else tf.nn.softmax(x) if activation == "softmax" else x
        return x

    def _outputs(self, features):
        scores = self.scores(features)
        return {"scores": scores, "classes": tf.gather(self.labels, tf.argmax(scores, axis=1))}

    def signatures(self) -> dict:
        if self.kind == IMAGE:
            h, w = self.image_size

            @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=IMAGE_INPUT)])
            def serve_bytes(image_bytes):
                images = tf.map_fn(
                    lambda data: decode_image(data, (h, w)), image_bytes,
                    fn_output_signature=tf.TensorSpec([h, w, 3], tf.float32),
                )
                return self._outputs(self._features(images))

            @tf.function(input_signature=[tf.TensorSpec([None, h, w, 3], tf.float32, name=FLOAT_IMAGE_INPUT)])
            def serve_images(images):
                return self._outputs(self._features(images))

            return {"serving_default": serve_bytes, FLOAT_IMAGES_SIGNATURE: serve_images}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=TEXT_INPUT)])
        def serve_text(text):
            return self._outputs(self._features(text))

        return {"serving_default": serve_text}


def existing_versions(base: Path) -> list[int]:
    return sorted(int(p.name) for p in base.iterdir() if p.is_dir() and p.name.isdigit()) if base.is_dir() else []


def read_labels(version_dir: Path) -> list[str]:
    path = version_dir / "assets" / LABELS_FILE
    return path.read_text(encoding="utf-8").splitlines() if path.is_file() else []


def choose_version(base: Path, labels: Sequence[str], version: int | None, overwrite: bool) -> int:
    """The version to write: `version`, or the highest existing + 1. Refuses clashes."""
    versions = existing_versions(base)
    if version is None:
        version = (versions[-1] + 1) if versions else 1
    elif version < 1:
        raise DataError(f"`version` must be a positive integer. Received: version={version}.")
    if version in versions and not overwrite:
        raise OutputExistsError(
            f"Version {version} of {base.name!r} already exists in {str(base)!r}. Pass --overwrite to "
            "replace it, or omit --version to write the next version."
        )
    others = [v for v in versions if v != version]
    if others:
        previous = read_labels(base / str(others[-1]))
        if previous and previous != list(labels):
            raise DataError(
                f"Labels {list(labels)} disagree with version {others[-1]} of {base.name!r} ({previous}); "
                "clients of one model expect the same classes. Export under another --name."
            )
    return version


def save_serving_model(
    module: FeatureModule, head: keras.Model, labels: Sequence[str], base: Path, version: int
) -> Path:
    """Write the SavedModel to `base/version`, atomically (temp dir, then rename)."""
    base.mkdir(parents=True, exist_ok=True)
    target = base / str(version)
    tmp = Path(tempfile.mkdtemp(prefix=f".{version}.tmp-", dir=base))
    try:
        labels_file = tmp / LABELS_FILE
        labels_file.write_text("".join(f"{label}\n" for label in labels), encoding="utf-8")
        model = ServingModel(module, head, labels, labels_file)
        tf.saved_model.save(model, str(tmp / "model"), signatures=model.signatures())
        if target.exists():
            shutil.rmtree(target)
        (tmp / "model").rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    logger.info("Exported %s", target)
    return target
