"""Use an export as a client would: only the SavedModel, through `serving_default`."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import tensorflow as tf

from tfxfer.data.images import load_image_list
from tfxfer.data.labeled import load_labeled_text
from tfxfer.errors import DataError
from tfxfer.export.saved_model import IMAGE_INPUT, existing_versions, read_labels
from tfxfer.head.report import class_metrics

BATCH = 64


def resolve_export(path: str | Path) -> Path:
    """The SavedModel directory for `EXPORT_DIR`, `EXPORT_DIR/NAME` or `EXPORT_DIR/NAME/VERSION`.

    Without a version the highest is used, as TF Serving does.
    """
    path = Path(path)
    if (path / "saved_model.pb").is_file():
        return path
    if existing_versions(path):
        return path / str(existing_versions(path)[-1])
    names = [p for p in path.iterdir() if p.is_dir() and existing_versions(p)] if path.is_dir() else []
    if len(names) == 1:
        return names[0] / str(existing_versions(names[0])[-1])
    if names:
        raise DataError(
            f"{str(path)!r} holds several models ({', '.join(sorted(p.name for p in names))}); pass "
            f"{path}/NAME or {path}/NAME/VERSION."
        )
    raise DataError(f"No exported model at {str(path)!r}. Pass the --out directory of `tfxfer fit-head`.")


class ExportedModel:
    """A loaded export: `predict` raw inputs, `evaluate` labeled data."""

    def __init__(self, path: str | Path):
        self.path = resolve_export(path)
        self._signature = tf.saved_model.load(str(self.path)).signatures["serving_default"]
        (self.input_name,) = self._signature.structured_input_signature[1]
        self.kind = "image" if self.input_name == IMAGE_INPUT else "text"
        self.labels = read_labels(self.path)

    def _inputs(self, items: Sequence[str]) -> list:
        if self.kind == "text":
            return list(items)
        out = []
        for item in items:
            try:
                out.append(Path(item).read_bytes())
            except OSError as e:
                raise DataError(f"Cannot read image {item!r}: {e.strerror or e}.") from None
        return out

    def scores(self, items: Sequence[str]) -> np.ndarray:
        """float32 `[len(items), classes]` scores, in the order of `labels`."""
        inputs = self._inputs(items)
        chunks = []
        for start in range(0, len(inputs), BATCH):
            try:
                out = self._signature(**{self.input_name: tf.constant(inputs[start : start + BATCH])})
            except tf.errors.InvalidArgumentError as e:
                raise DataError(f"The model could not read an input in {items[start:start + BATCH]}: {e.message.splitlines()[0]}") from None
            chunks.append(out["scores"].numpy())
        return np.concatenate(chunks) if chunks else np.zeros((0, len(self.labels)), np.float32)

    def predict(self, items: Sequence[str]) -> list[tuple[str, float]]:
        """`(label, probability)` of each text or image path."""
        scores = self.scores(items)
        return [(self.labels[i], float(s[i])) for s, i in zip(scores, scores.argmax(1))]

    def evaluate(self, data) -> dict:
        """Accuracy, per-class metrics and confusion matrix on labeled `data`."""
        if self.kind == "image":
            paths, labels = load_image_list(data)
            items = [str(p) for p in paths]
        else:
            items, labels = load_labeled_text(data)
        unknown = sorted(set(labels) - set(self.labels))
        if unknown:
            raise DataError(f"Labels {unknown} in {str(data)!r} are not classes of the model ({self.labels}).")
        predicted = [label for label, _ in self.predict(items)]
        return {"model": str(self.path), "examples": len(items), **class_metrics(labels, predicted, self.labels)}
