"""Compose feature module and head into one SavedModel for TF Serving.

The head is plain TensorFlow ops over its trained weights (`head_logits`, the
same function training and fine-tuning use), so the export loads with nothing
but TensorFlow (no Keras objects, no tfxfer), and raw input goes through the
same preprocessing ops as at training time.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path
from typing import Sequence

import tensorflow as tf

from tfxfer import config
from tfxfer.atomic import (
    make_temp_dir,
    removed_on_failure,
    replace_dir,
    writable_parent,
)
from tfxfer.data.images import decode_image
from tfxfer.errors import ConfigError, DataError, OutputError, OutputExistsError
from tfxfer.export.warmup import write_warmup
from tfxfer.features.lexical import LexicalColumns
from tfxfer.features.load import IMAGE, FeatureModule
from tfxfer.head.train import head_logits
from tfxfer.layout import LABELS_FILE, read_fit_report

logger = logging.getLogger(__name__)

TEXT_INPUT, IMAGE_INPUT, FLOAT_IMAGE_INPUT = "text", "image_bytes", "images"
FLOAT_IMAGES_SIGNATURE = "serving_images"
FEATURES_SIGNATURE, CLASSIFY_SIGNATURE, FEATURES_OUTPUT = "features", "classify_features", "features"
# The alias the Cloud TPU Inference Converter is told to place on the TPU (`tpu_functions`).
TPU_FUNCTION = "tpu_func"


def _signature(*specs: tf.TensorSpec):
    """`tf.function` of a serving signature, without autograph: these graphs have no Python
    control flow on tensors, and converting their code took 3 of the 6 s of an export."""
    return tf.function(input_signature=list(specs), autograph=False)


class ServingModel(tf.Module):
    """Raw input -> feature module (and lexical columns) -> head (`head_logits`) -> calibrated scores,
    classes, probabilities.

    The numeric part is one function of its own, `tpu_func` (decoded images
    through the module and head; a text model's feature vectors through the
    head, or a BERT-style encoder's token ids through the encoder and head,
    beside the lexical columns), saved under that alias for the Cloud TPU Inference Converter:
    decoding, tokenizing and the class names stay on the host's CPU, where
    TPU serving runs string ops, and `tpu_func` is plain float math that XLA
    compiles.

    Args:
        module: The `FeatureModule`.
        spec: `HeadClassifier.spec()`: normalisation, layers, temperatures and class bias.
        labels: Class names, in score order.
        labels_file: A file holding them, one per line (an asset).
        abstain_below: If set, `classes` is `reject_label` where the
            answer's probability is below it (its calibrated score, for
            classes of one size).
        reject_label: Defaults to `config.REJECT_LABEL`.
        lexical: A text head's lexical columns, appended to the module's vectors.
    """

    def __init__(self, module: FeatureModule, spec: dict, labels: Sequence[str], labels_file: Path,
                 abstain_below: float | None = None, reject_label: str = config.REJECT_LABEL,
                 lexical: LexicalColumns | None = None):
        super().__init__(name="tfxfer_model")
        self.feature_module = module.obj
        self._module_features, self._lexical = module.fn, lexical
        self._tokenize, self._encode = module.token_ids or (None, None)
        self.kind, self.image_size = module.kind, module.image_size
        self.spec = {
            "l2": bool(spec["l2"]),
            "lexical": int(spec.get("lexical", 0)),
            "mean": tf.Variable(spec["mean"], trainable=False, name="feature_mean"),
            "scale": tf.Variable(spec["scale"], trainable=False, name="feature_scale"),
            "layers": [(tf.Variable(k, name=f"kernel_{i}"), tf.Variable(b, name=f"bias_{i}"))
                       for i, (k, b) in enumerate(spec["layers"])],
        }
        self.temperature = tf.constant(spec["temperature"], tf.float32)
        self.prior_temperature = tf.constant(spec["prior_temperature"], tf.float32)
        self.class_bias = tf.constant(spec["class_bias"], tf.float32)
        self.abstain_below = abstain_below
        self.reject_label = tf.constant(reject_label)
        self.labels_asset = tf.saved_model.Asset(str(labels_file))
        self.labels = tf.constant(list(labels))
        if self.kind == IMAGE:
            specs = [tf.TensorSpec([None, *self.image_size, 3], tf.float32, name=FLOAT_IMAGE_INPUT)]
            numeric = self._image_head
        elif self._tokenize is not None:  # the encoder is the compute: on the TPU, from the token ids
            ids = self._tokenize(tf.constant(["a"]))
            width = int(self.spec["mean"].shape[0]) - module.output_dim
            # [batch, length]: a batch is packed as long as its longest text needs (`features.token_ids`).
            specs = [{name: tf.TensorSpec([None, None], t.dtype, name=name) for name, t in ids.items()},
                     tf.TensorSpec([None, width], tf.float32, name="lexical")]
            numeric = self._encoder_head
        else:
            specs = [tf.TensorSpec([None, int(self.spec["mean"].shape[0])], tf.float32, name=FEATURES_OUTPUT)]
            numeric = self._head
        self.tpu_func = _signature(*specs)(numeric)

    def _features(self, inputs):
        features = self._module_features(inputs)
        return features if self._lexical is None else tf.concat([features, self._lexical(inputs)], axis=1)

    def _head(self, features):
        logits = head_logits(features, self.spec)
        # `scores` rank and decide; `probabilities` are the chance of each class at the training
        # labels' class frequencies (the same as `scores` unless a balanced head met imbalanced labels).
        return {"scores": tf.nn.softmax(logits / self.temperature),
                "probabilities": tf.nn.softmax(logits / self.prior_temperature + self.class_bias)}

    def _image_head(self, images):
        return self._head(self._features(images))

    def _encoder_head(self, ids, lexical):
        return self._head(tf.concat([self._encode(ids), lexical], axis=1))

    def _serve_text(self, text):
        if self._tokenize is None:
            return self.tpu_func(self._features(text))
        lexical = self._lexical(text) if self._lexical is not None else tf.zeros([tf.shape(text)[0], 0])
        return self.tpu_func(self._tokenize(text), lexical)

    def _answer(self, outputs):
        """`outputs` of `_head` with `classes`, the top score's label (or the reject label)."""
        scores, probabilities = outputs["scores"], outputs["probabilities"]
        answers = tf.argmax(scores, axis=1)
        classes = tf.gather(self.labels, answers)
        if self.abstain_below is not None:
            unsure = tf.gather(probabilities, answers, batch_dims=1) < self.abstain_below
            classes = tf.where(unsure, self.reject_label, classes)
        return {"scores": scores, "classes": classes, "probabilities": probabilities}

    def signatures(self) -> dict:
        """`serving_default` (raw input), and for tools: `serving_images` (decoded
        images), `features` (what the head classifies: the module's feature vectors, then a text
        head's lexical columns) and `classify_features` (scores of those): `tfxfer suggest`
        caches the first and ranks with the second."""
        dim = int(self.spec["mean"].shape[0])

        @_signature(tf.TensorSpec([None, dim], tf.float32, name=FEATURES_OUTPUT))
        def classify(features):
            return self._answer(self._head(features))

        if self.kind == IMAGE:
            h, w = self.image_size

            @_signature(tf.TensorSpec([None], tf.string, name=IMAGE_INPUT))
            def serve_bytes(image_bytes):
                images = tf.map_fn(
                    lambda data: decode_image(data, (h, w)), image_bytes,
                    fn_output_signature=tf.TensorSpec([h, w, 3], tf.float32),
                )
                return self._answer(self.tpu_func(images))

            @_signature(tf.TensorSpec([None, h, w, 3], tf.float32, name=FLOAT_IMAGE_INPUT))
            def serve_images(images):
                return self._answer(self.tpu_func(images))

            @_signature(tf.TensorSpec([None, h, w, 3], tf.float32, name=FLOAT_IMAGE_INPUT))
            def image_features(images):
                return {FEATURES_OUTPUT: self._features(images)}

            return {"serving_default": serve_bytes, FLOAT_IMAGES_SIGNATURE: serve_images,
                    FEATURES_SIGNATURE: image_features, CLASSIFY_SIGNATURE: classify}

        @_signature(tf.TensorSpec([None], tf.string, name=TEXT_INPUT))
        def serve_text(text):
            return self._answer(self._serve_text(text))

        @_signature(tf.TensorSpec([None], tf.string, name=TEXT_INPUT))
        def text_features(text):
            return {FEATURES_OUTPUT: self._features(text)}

        return {"serving_default": serve_text, FEATURES_SIGNATURE: text_features, CLASSIFY_SIGNATURE: classify}


def existing_versions(base: Path) -> list[int]:
    """Version numbers under `base` that hold a SavedModel, as TF Serving sees them."""
    if not base.is_dir():
        return []
    return sorted(int(p.name) for p in base.iterdir() if p.name.isdigit() and (p / "saved_model.pb").is_file())


def check_model_name(name) -> None:
    """Refuse a model name that is no single folder or URL segment: TF Serving finds the model at
    `EXPORT_DIR/NAME` and answers it at `/v1/models/NAME:predict`. A name with a slash made nested
    folders, an empty one wrote versions into EXPORT_DIR itself, and a number reads as a version."""
    if (isinstance(name, str) and re.fullmatch(r"[\w.-]+", name) and not name.startswith((".", "-"))
            and not name.isdigit()):
        return
    fixed = re.sub(r"[^\w.-]+", "_", str(name)).strip("._-")
    fixed = fixed if fixed and not fixed.isdigit() else config.EXPORT_NAME
    raise ConfigError(f"`name` must name one model folder and URL: letters, digits, '_', '.' and '-', not starting "
                      f"with '.' or '-', and not a number. Received: name={name!r}. Try --name {fixed}.")


def check_export_dir(export_dir: Path) -> None:
    """Refuse an `export_dir` that is itself a model's directory or one of its versions: the export
    would nest a model inside it, where TF Serving never looks."""
    model = export_dir.resolve()
    if (export_dir / "saved_model.pb").is_file():
        raise ConfigError(f"--out {str(export_dir)!r} is a SavedModel (a version of a model?), not an export "
                          f"directory. Pass the directory that holds the models: --out "
                          f"{os.path.normpath(export_dir / '..' / '..')!r} --name {model.parent.name}.")
    versions = existing_versions(export_dir)
    if versions:
        raise ConfigError(f"--out {str(export_dir)!r} is the model {model.name!r} (version"
                          f"{'s' if len(versions) > 1 else ''} {', '.join(map(str, versions))}), not an export "
                          f"directory. For its next version pass --out {os.path.normpath(export_dir / '..')!r} "
                          f"--name {model.name}.")


def training_items(report: dict) -> set[str]:
    """Hashes (`item_key`) of the examples a version was trained on, from its fit report; empty if none."""
    return set(report.get("training_items", []))


def read_training_items(version_dir: Path) -> set[str]:
    """`training_items` of the fit report in `version_dir`."""
    return training_items(read_fit_report(version_dir))


def read_labels(version_dir: Path) -> list[str]:
    path = version_dir / "assets" / LABELS_FILE
    return path.read_text(encoding="utf-8").splitlines() if path.is_file() else []


def not_an_export(path: Path) -> str | None:
    """Why `path` holds word vectors or a feature module, not an export, with the command that makes one."""
    if (path / "module" / "saved_model.pb").is_file():
        what, module = "a pretrain-text output (word vectors)", path / "module"
    elif (path / "saved_model.pb").is_file() and not (path / "assets" / LABELS_FILE).is_file():
        what, module = "a SavedModel without labels (a feature module?)", path
    else:
        return None
    return (f"{str(path)!r} is {what}, not a classifier export. Fit a head on it first: "
            f"tfxfer fit-head --features {module} --train DATA --out EXPORT_DIR.")


def _latest_other(base: Path, version: int) -> int | None:
    """The highest version under `base` other than `version`: the one a new version follows."""
    others = [v for v in existing_versions(base) if v != version]
    return others[-1] if others else None


def choose_version(base: Path, labels: Sequence[str], version: int | None, overwrite: bool,
                   allow_new_classes: bool = False) -> int:
    """The version to write: `version`, or the highest existing + 1.

    Refuses, before any work is done when called early: a version that
    exists (without `overwrite`), labels that differ from the latest other
    version's (but for added ones with `allow_new_classes`), and a path
    that cannot be written.
    """
    writable_parent(base)
    versions = existing_versions(base)
    if version is None:
        taken = [int(p.name) for p in base.iterdir() if p.name.isdigit()] if base.is_dir() else []
        version = max(taken + versions, default=0) + 1
    elif isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ConfigError(f"`version` must be a positive integer. Received: version={version!r}.")
    if (base / str(version)).exists() and not (base / str(version)).is_dir():
        raise OutputError(f"{str(base / str(version))!r} is a file, not a version directory. Remove it or pass "
                          "another --version.")
    if version in versions and not overwrite:
        raise OutputExistsError(
            f"Version {version} of {base.name!r} already exists in {str(base)!r}. Pass --overwrite to "
            "replace it, or omit --version to write the next version."
        )
    latest = _latest_other(base, version)
    if latest is not None:
        previous = read_labels(base / str(latest))
        added, dropped = sorted(set(labels) - set(previous)), sorted(set(previous) - set(labels))
        if previous and (dropped or (added and not allow_new_classes)):
            change = "; ".join(part for part in (f"new: {', '.join(added)}" if added else "",
                                                 f"missing: {', '.join(dropped)}" if dropped else "") if part)
            grow = "" if dropped else ", pass --allow-new-classes to add them after the existing score columns"
            raise DataError(
                f"Labels disagree with version {latest} of {base.name!r} ({change}): clients of one model "
                f"expect the same classes in the same score columns. Export under another --name (e.g. "
                f"--name {base.name}-{len(labels)}-classes){grow}, or train on the classes of version {latest}."
            )
    return version


def score_order(base: Path, labels: Sequence[str], version: int) -> list[str]:
    """The labels in the export's score order: the latest other version's, then new ones (sorted).

    Clients that index `scores` by position keep working when classes are added.
    """
    latest = _latest_other(base, version)
    previous = read_labels(base / str(latest)) if latest is not None else []
    return [c for c in previous if c in labels] + sorted(c for c in labels if c not in previous)


def save_serving_model(
    module: FeatureModule, spec: dict, labels: Sequence[str], base: Path, version: int,
    abstain_below: float | None = None, lexical: LexicalColumns | None = None,
) -> Path:
    """Write the SavedModel to `base/version`, atomically (temp dir, then rename).

    Args:
        module: The feature module.
        spec: The head, `HeadClassifier.spec()`.
        labels: Class names in score order (also written to `assets/labels.txt`).
        base: `EXPORT_DIR/NAME`.
        version: The version number.
        abstain_below, lexical: See `ServingModel`.
    """
    base.mkdir(parents=True, exist_ok=True)
    target = base / str(version)
    # Dot-named, so TF Serving's polling never takes the half-written model for a version.
    tmp = make_temp_dir(base, f".{version}.tmp-")
    with removed_on_failure(tmp, target):
        labels_file = tmp / LABELS_FILE
        labels_file.write_text("".join(f"{label}\n" for label in labels), encoding="utf-8")
        model = ServingModel(module, spec, labels, labels_file, abstain_below, lexical=lexical)
        tf.saved_model.save(model, str(tmp / "model"), signatures=model.signatures(),
                            options=tf.saved_model.SaveOptions(function_aliases={TPU_FUNCTION: model.tpu_func}))
        write_warmup(tmp / "model", base.name, IMAGE_INPUT if module.kind == IMAGE else TEXT_INPUT, module.kind,
                     module.image_size)
        (tmp / "model").chmod(tmp.stat().st_mode)
        replace_dir(tmp / "model", target)
    shutil.rmtree(tmp, ignore_errors=True)  # the labels file the model's assets were copied from
    logger.info("Exported %s", target)
    return target
