"""Feature modules: SavedModels mapping raw input to a fixed-size vector.

`load_features(spec)` accepts a TF-Hub handle (tfhub.dev or Kaggle URL,
resolved and cached by tensorflow_hub, honouring `TFHUB_CACHE_DIR`), a local
SavedModel directory, a `.tar.gz` or `.zip` of one, a Keras `.keras` file,
or a word-vector file (GloVe, fastText `.vec`, word2vec: made a text module
once, `text.external`), and finds out what it takes:

- text modules: tf.string `[batch]` (tfxfer's `pretrain-text` module, TF-Hub
  text embeddings such as nnlm), or token ids, made by a preprocessing model
  (BERT-style encoders: `features.token_ids`);
- image modules: float32 `[batch, H, W, 3]` RGB in [0, 1] (TF-Hub image
  feature vectors); `H, W` from the signature when it allows one size only,
  else `image_size`, by default 1.3x the size the module declares (see
  `features.raw_inputs.default_image_size`). Modules that expect [0, 255] or [-1, 1] are fed that
  range (see `features.pixels`); uint8 and float16 ones, cast; ones that take
  encoded images (tf.string they decode), each image as PNG.

How a module of raw input is fed is `features.raw_inputs`';
where a spec points is `features.sources`' to find; `features.layer.FeatureLayer`
wraps a module in a Keras 3 layer (`hub.KerasLayer` is Keras 2 only). This
module does not import Keras, so that commands which only run exports start
without it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
from pathlib import Path
from typing import Callable

import tensorflow as tf

from tfxfer.errors import ConfigError, DataError
from tfxfer.features.hub import feature_vector_twin
from tfxfer.features.keras_files import classification_loss, classifier_top_note
from tfxfer.features.op_libraries import missing_op, op_library, op_library_note, register_ops_for
from tfxfer.features.pixels import AUTO, UNIT, fit_input_range, input_range_of
from tfxfer.features.raw_inputs import (IMAGE, TEXT, TokenIdsOut, as_features, raw_input_module,
                                        warn_image_options)
from tfxfer.features.sources import keras_features_of, refuse_fit_head_export, resolve
from tfxfer.features.token_ids import (missing_preprocessor, module_variables, paired_preprocessor,
                                       preprocessor_given_as_features, token_id_inputs, unused_preprocessor,
                                       with_preprocessor)
from tfxfer.layout import SAVED_MODEL_FILES
from tfxfer.text.external import vectors_note

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class FeatureModule:
    """A loaded feature module.

    Attributes:
        spec: What the user passed (handle, directory or archive).
        path: The local SavedModel directory.
        kind: `"text"` or `"image"`.
        image_size: `(height, width)` fed to an image module; `None` for text.
        output_dim: Size `D` of the feature vectors.
        identity: A hash of the SavedModel's graph and variables (and of the
            input range when it is not [0, 1]): the cache key.
        fn: Maps a batch of inputs (images in [0, 1]) to float32 `[batch, D]`.
        obj: The loaded SavedModel (its `variables` and `trainable_variables`
            stay reachable for fine-tuning).
        input_range: `(low, high)` the module is fed pixels in; `None` for text.
        notes: What the user should know about how the module is used (a
            detected input range, feature maps averaged, a classifier's
            probabilities as features).
        op_library: `"tensorflow_text"` where the module needs its ops, which
            TensorFlow lacks (`features.op_libraries`); else `None`.
        preprocessor: The spec of the preprocessing model an encoder that
            takes token ids is chained with (`features.token_ids`); else `None`.
        token_ids: For such an encoder, `(tokenize, encode)`: strings to its
            dict of token ids `[batch, length]`, and those to features (`fn`
            is the two in turn); the export runs them apart, the second on a
            TPU. Else `None`.
    """

    spec: str
    path: Path
    kind: str
    image_size: tuple[int, int] | None
    output_dim: int
    identity: str
    fn: Callable = dataclasses.field(repr=False)
    obj: object = dataclasses.field(repr=False)
    input_range: tuple[float, float] | None = None
    notes: list[str] = dataclasses.field(default_factory=list, repr=False)
    op_library: str | None = None
    preprocessor: str | None = None
    token_ids: tuple[Callable, Callable] | None = dataclasses.field(default=None, repr=False)

    @property
    def trainable_variables(self) -> list:
        """The module's trainable variables (TF-Hub's attribute, else found by walking it)."""
        listed = getattr(self.obj, "trainable_variables", None)
        if listed is not None:
            return list(listed)
        return [v for v in self.variables if v.trainable]

    @property
    def variables(self) -> list:
        """All of the module's variables (TF-Hub's attribute, else found by walking it)."""
        found = module_variables(self.obj)
        trainable = getattr(self.obj, "trainable_variables", None) or []
        return found + [v for v in trainable if all(v is not f for f in found)]

    def __call__(self, inputs) -> tf.Tensor:
        return self.fn(inputs)


def _identity(path: Path) -> str:
    h = hashlib.sha256()
    for name in (*SAVED_MODEL_FILES, "variables/variables.index"):
        if (path / name).is_file():
            h.update((path / name).read_bytes())
    return h.hexdigest()[:32]


def load_saved_model(path: str | Path):
    """`tf.saved_model.load`, with damaged or missing files reported as `DataError`.

    A module in TF1 Hub format (`hub.Module`'s, the `/1` - `/3` versions of many
    tfhub.dev handles; `tfhub_module.pb` beside its graphs) holds a graph per tag
    set; its inference graph is the one without tags, which `hub.load` loads too.
    Other TF1 SavedModels with several graphs (an Estimator's export) are loaded
    by their serving graph, tagged "serve".
    """
    tags = [] if (Path(path) / "tfhub_module.pb").is_file() else None
    try:
        return _load(path, tags)
    except DataError:
        raise
    except Exception as e:  # noqa: BLE001 - parse, missing-file and op errors alike
        first = (getattr(e, "message", None) or str(e)).strip().splitlines()[0][:300]
        if tags is None and "`tags=` argument" in first:
            try:
                return _load(path, ["serve"])
            except DataError:
                raise
            except Exception:  # noqa: BLE001 - no graph tagged "serve": say which tag sets there are
                raise DataError(f"Cannot load the SavedModel at {str(path)!r}: {first.split('. Pass')[0]}, and "
                                "none is tagged 'serve' alone. Export the graph that computes the features "
                                "alone, or with the tag 'serve'.") from None
        op = missing_op(first)
        if op:
            raise DataError(f"Cannot load the SavedModel at {str(path)!r}: it uses the op {op!r}, which neither "
                            "TensorFlow nor TensorFlow Text has. Import the library of ops it was made with "
                            "before loading it, or pass a module made of TensorFlow's own ops.") from None
        raise DataError(
            f"Cannot load the SavedModel at {str(path)!r}: {first}. Its files (saved_model.pb, variables/) may "
            "be damaged or incomplete: export or download it again."
        ) from None


def _load(path: str | Path, tags: list[str] | None):
    """`tf.saved_model.load`, again after importing TensorFlow Text where an op is missing that it may have."""
    try:
        return tf.saved_model.load(str(path), tags=tags)
    except Exception as e:  # noqa: BLE001 - only a missing op is handled here
        op = missing_op(e)
        if op is None or not register_ops_for(path, op):
            raise
    return tf.saved_model.load(str(path), tags=tags)


def _pooled(fn: Callable) -> Callable:
    return lambda images: tf.reduce_mean(fn(images), axis=[1, 2])


def _probabilities(features: tf.Tensor) -> bool:
    """Whether rows look like a softmax's: non-negative, summing to 1, more than two of them."""
    rows = features.numpy()
    return rows.shape[-1] > 2 and bool((rows >= 0).all()) and bool(abs(rows.sum(-1) - 1).max() < 1e-4)


def _object_given(spec) -> str:
    """The error for a model object given where a module's path or handle goes, with the way to save it."""
    kind = type(spec).__name__
    if hasattr(spec, "export") and hasattr(spec, "layers"):  # a Keras model
        fix = "save it first, model.save('encoder.keras') (or model.export('DIR')), and pass that path"
    elif hasattr(spec, "signatures"):  # tf.saved_model.load / hub.load
        fix = "pass the path or TF-Hub handle it was loaded from"
    else:
        fix = "pass a SavedModel directory, a TF-Hub handle, a Keras .keras file or word vectors"
    return (f"`features` must name a feature module (a path or TF-Hub handle), not hold one: {fix}. tfxfer "
            f"loads it itself, to cache its features and export it with the head. Received: features={kind} "
            "object.")


def warn_if_augmenting_text(module: FeatureModule, augment: int) -> None:
    """Augmented views are of images: asked for with a text module, say that nothing is augmented."""
    if augment and module.kind == TEXT:
        logger.warning("--augment (augment=) makes views of images; %r is a text module: ignored.", str(module.spec))


def load_features(spec: str | Path, image_size: int | tuple[int, int] | None = None,
                  signature: str | None = None, input_range: str | tuple[float, float] | None = AUTO,
                  preprocessor: str | Path | None = None) -> FeatureModule:
    """Load a feature module and describe its input and output.

    Args:
        spec: TF-Hub handle, local SavedModel directory (or a `gs://` one,
            copied once into the module cache), `.tar.gz` or `.zip` of one, a
            Keras `.keras` file, or a
            word-vector file (`text.external`).
        image_size: Image height and width for image modules that accept any
            size (an int for square). Ignored when the module takes one size
            only. Defaults to `None`: `default_image_size`, 1.3x the size
            the module declares (else 224), which is 288 for most modules.
        signature: Use this signature of the SavedModel rather than its
            plain call or `serving_default` (e.g. the `features` signature
            of a fit-head export). Defaults to `None`.
        input_range: The pixel range an image module expects: `"auto"`
            (default: [0, 1], TF-Hub's convention, unless the module's
            features show it expects [0, 255]), `"0,1"`, `"0,255"`, `"-1,1"`
            or a `(low, high)` pair. Images are decoded to [0, 1] and mapped
            to it inside the module's function. Ignored for text modules.
        preprocessor: For an encoder that takes token ids (BERT-style), the
            preprocessing model that makes them from strings: a TF-Hub handle
            or a SavedModel, as `spec`. Defaults to `None`: TF-Hub's pairing
            for the encoder's name (`features.token_ids.paired_preprocessor`).

    Returns:
        A `FeatureModule`.

    Raises:
        DataError: The module cannot be found, or takes neither strings
            `[batch]` nor images `[batch, H, W, 3]` nor token ids whose
            preprocessing model is given or known.
        ConfigError: An `image_size` or `input_range` that is not one.
    """
    if not isinstance(spec, (str, os.PathLike)):  # a notebook's model object: a TypeError deep inside
        raise ConfigError(_object_given(spec))
    input_range_of(input_range)  # a typo fails before the module loads
    if signature is None:  # `suggest` reads an export's `features` signature on purpose
        refuse_fit_head_export(spec)
    path = resolve(spec)
    obj = load_saved_model(path)
    inputs = token_id_inputs(obj) if signature is None else []
    preprocessor_path = token_ids = None
    if inputs or preprocessor is not None:
        if not inputs:
            raise unused_preprocessor(spec, preprocessor)
        preprocessor = preprocessor or paired_preprocessor(str(spec))
        if preprocessor is None:
            raise missing_preprocessor(spec, inputs)
        preprocessor = str(preprocessor)
        preprocessor_path = resolve(preprocessor)
        tokenize, encode, obj = with_preprocessor(spec, obj, preprocessor, load_saved_model(preprocessor_path),
                                                  inputs)
        token_ids = (tokenize, lambda ids: as_features(encode(ids)))
        fn = lambda x: token_ids[1](tokenize(x))  # noqa: E731
        kind, size, encoded, dummy = TEXT, None, False, tf.constant(["a"])
        warn_image_options(spec, image_size, input_range)
    try:
        if preprocessor_path is None:
            fn, kind, size, encoded, input_range, dummy = raw_input_module(spec, obj, signature, image_size,
                                                                            input_range)
        out = fn(dummy)
    except TokenIdsOut:
        raise preprocessor_given_as_features(spec) from None
    # A module made from a word-vector file, or from a Keras classifier without its top, says so.
    notes = [note for note in (vectors_note(path), classifier_top_note(path)) if note]
    if encoded:
        notes.append(f"the module takes encoded images (it decodes them itself): each image is decoded, "
                     f"resized to {size[0]}x{size[1]} and passed as PNG, in the export too. --image-size "
                     "(image_size=) sets that size.")
    if kind == IMAGE and out.shape.rank == 4:  # a Keras application exported without pooling="avg"
        if out.shape[1:3] != [1, 1]:  # 1x1 maps are pooled already (MobileNet's, kept 4-d)
            notes.append(f"the module returns feature maps {out.shape.as_list()[1:]} per image; they are averaged "
                         "over space into vectors, as TF-Hub's feature vectors and Keras's pooling='avg' are.")
        fn = _pooled(fn)
        out = fn(dummy)
    if out.shape.rank != 2:
        raise DataError(f"{str(spec)!r} returns shape {out.shape}; a feature module returns [batch, dim].")
    probabilities = _probabilities(out)
    scores = probabilities or out.shape[-1] <= 2 or classification_loss(path) is not None
    features_path = keras_features_of(path) if scores and signature is None and preprocessor is None else None
    if features_path is not None:  # a classifier tf.keras saved with its layers: they are cut before its top
        return dataclasses.replace(load_features(features_path, image_size, None, input_range), spec=str(spec))
    if probabilities:
        notes.append(f"the module's {out.shape[-1]} outputs are probabilities (they sum to 1): it is a classifier "
                     "with its top layer. The layer before it usually transfers better: export the model "
                     "without its top (Keras: include_top=False, pooling='avg').")
    elif out.shape[-1] <= 2:  # a binary classifier's logit (TensorFlow's transfer-learning tutorial's Dense(1))
        notes.append(f"the module gives {out.shape[-1]} number{'s' if out.shape[-1] > 1 else ''} per input: a "
                     "classifier's score, not features to learn from. The layer before its top usually transfers "
                     "better: save the model without it (Keras: keras.Model(model.input, model.layers[-2].output)).")
    twin = feature_vector_twin(str(spec))
    if twin:
        notes.append(f"the handle names a classifier, whose {out.shape[-1]} outputs are class scores; its feature "
                     f"vector twin, {twin}, usually transfers better.")
    identity, pixels = _identity(path), None
    if preprocessor_path is not None:
        identity = hashlib.sha256(f"{identity} {_identity(preprocessor_path)}".encode()).hexdigest()[:32]
    if kind == IMAGE:
        fn, pixels, note = fit_input_range(fn, size, input_range)
        notes += [note] if note else []
        if pixels != UNIT:
            identity = hashlib.sha256(f"{identity} {pixels}".encode()).hexdigest()[:32]
    library = op_library(path) or (op_library(preprocessor_path) if preprocessor_path else None)
    notes += [op_library_note(library)] if library else []
    if preprocessor_path is not None:
        notes.append(f"the module takes token ids: texts are made into them by {preprocessor}, in the export too.")
    module = FeatureModule(str(spec), path, kind, size, int(out.shape[-1]), identity, fn, obj, pixels, notes,
                           library, preprocessor, token_ids)
    logger.info("Loaded %s", module)
    return module
