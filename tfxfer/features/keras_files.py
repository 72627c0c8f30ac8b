"""Keras model files as feature modules: loaded by Keras, exported as SavedModels.

`export_keras_model(path, out)` reads a `.keras` file, or a whole model in
`.h5` (with tf.keras, Keras 2, where Keras 3 cannot), and exports it with Keras
itself, so that it runs without Keras. A model that ends in a classifier (a
softmax or sigmoid `Dense`, logits, MobileNet's 1x1 convolution, or a small
sub-model of `Dense` layers, as Teachable Machine's `keras_model.h5` holds:
`without_classifier_top`) is exported without it: its features are the layer before, which transfer better than a
few class scores, and the people who bring such a file (a Teachable Machine
project, a notebook's fine-tuned model) have no code to cut it off with.
`export_saved_model_features` does the same for a classifier that tf.keras
saved as a SavedModel with its layers (`model.save(DIR)` before TensorFlow
2.16). `classifier_top_note` says so wherever the module is used.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

from tfxfer.errors import DataError

logger = logging.getLogger(__name__)

# Written beside the exported SavedModel when its classifier was left out: what was cut, for the notes.
TOP_FILE = "tfxfer_classifier_top.json"
# Layers a classifier's head is made of; a sub-model of these alone is a head (Teachable Machine's).
_HEAD_LAYERS = {"InputLayer", "Dense", "Dropout", "Activation", "Softmax", "BatchNormalization"}
_CLASS_ACTIVATIONS = {"softmax", "sigmoid"}
EXPORT_IT = ("model.export('DIR') (Keras 3; its output should be the feature vector, without the classification "
             "layer), in the code that built it, and pass DIR")


def _activation(layer) -> str:
    if type(layer).__name__ == "Softmax":
        return "softmax"
    return getattr(getattr(layer, "activation", None), "__name__", "")


def _classifier(layer, loss: str | None) -> bool:
    """A layer that turns features into class scores: a softmax or sigmoid `Dense`, or a linear one of one or
    two outputs (a binary classifier's logit, as TensorFlow's transfer-learning tutorial ends), named as
    logits are (KerasHub's classifiers: "predictions", "logits"), or of a model trained with a classification
    `loss` on its logits (TF-Hub's transfer-learning tutorial: `Dense(num_classes)`, `from_logits=True`)."""
    if type(layer).__name__ != "Dense":
        return False
    logits = loss or layer.units <= 2 or re.fullmatch(r"(predictions|logits|classifier)(_\d+)?", layer.name)
    return _activation(layer) in _CLASS_ACTIVATIONS or (_activation(layer) == "linear" and bool(logits))


def _head(layer, loss: str | None) -> bool:
    """A sub-model of head layers alone that ends in a classifier (Teachable Machine's second model)."""
    layers = getattr(layer, "layers", None)
    if not layers or any(type(inner).__name__ not in _HEAD_LAYERS for inner in layers):
        return False
    computing = [inner for inner in layers if type(inner).__name__ not in ("InputLayer", "Dropout")]
    if len(computing) > 1 and type(computing[-1]).__name__ in ("Activation", "Softmax"):
        return _activation(computing[-1]) in _CLASS_ACTIVATIONS and type(computing[-2]).__name__ == "Dense"
    return bool(computing) and _classifier(computing[-1], loss)


def _producer(tensor):
    """The layer that made a symbolic tensor in its model's graph, and that call's input tensors."""
    layer, node_index = tensor._keras_history[:2]
    inputs = layer._inbound_nodes[node_index].input_tensors
    return layer, list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]


def _before_top(output, model_class, loss: str | None) -> tuple[object, list[str], str] | None:
    """The tensor before the classifier that makes `output` (in the same graph), the names of the layers left
    out, and the name of the layer that made the tensor; `None` where `output` is not a classifier's."""
    layer, fed = _producer(output)
    cut = [repr(layer.name)]
    if type(layer).__name__ in ("Activation", "Softmax") and _activation(layer) in _CLASS_ACTIVATIONS:
        layer, fed = _producer(fed[0])  # Dense(n) then Activation("softmax")
        cut.append(repr(layer.name))
        while type(layer).__name__ in ("Reshape", "Flatten"):  # a 1x1 convolution's logits, made flat
            layer, fed = _producer(fed[0])
            cut.append(repr(layer.name))
        # MobileNet's and MobileNetV3's classifier is a 1x1 convolution.
        top = type(layer).__name__ == "Dense" or (type(layer).__name__ == "Conv2D" and layer.kernel_size == (1, 1))
    else:
        top = _classifier(layer, loss) or _head(layer, loss)
    if len(fed) != 1:
        return None
    if not top:  # a model that ends in one inside (TensorFlow's text classification tutorial's export model)
        inner = _before_top(layer.outputs[0], model_class, loss) if getattr(layer, "layers", None) else None
        if inner is None:
            return None
        features, inner_cut, before = inner
        nested = cut.pop()
        return model_class(layer.inputs, features)(fed[0]), cut + [f"{name} in {nested}" for name in inner_cut], before
    features = fed[0]
    while type(_producer(features)[0]).__name__ == "Dropout":  # the identity at inference
        features = _producer(features)[1][0]
    return features, cut, _producer(features)[0].name


def without_classifier_top(model, model_class, loss: str | None = None) -> tuple[object, str] | None:
    """`model` without the classifier it ends in, and what was cut; `None` for models that end otherwise.

    Args:
        model: A built Keras (3, or tf.keras 2) model of one input and one output.
        model_class: Its library's `Model`, which builds the model of the features.
        loss: The classification loss it was trained with (`classification_loss`), which makes a linear
            `Dense` at its end a classifier's logits. Defaults to `None`: not known to be one.

    Returns:
        `(features_model, note)`, or `None`.
    """
    try:
        (output,), (inputs,) = model.outputs, model.inputs
        found = _before_top(output, model_class, loss)
        head_model = _head(_producer(output)[0], loss)  # Teachable Machine's shape
    except (AttributeError, IndexError, TypeError, ValueError):  # no graph to walk: a subclassed model
        return None
    if found is None:
        return None
    features, cut, before = found
    dim = features.shape[-1]
    if len(features.shape) not in (2, 4) or dim is None or dim <= 2:
        return None
    classes = int(output.shape[-1] or 0)
    kind = ("a binary one" if classes <= 2 else f"{classes} classes") + (f", trained with {loss}" if loss else "")
    note = (f"the Keras model ends in a classifier ({kind}: {', '.join(reversed(cut))}), which was left out: "
            f"its features are the output of the layer before, "
            f"{before!r} ({dim} numbers), which transfer better than class scores. To use the classifier's outputs "
            "instead, save the whole model with model.export('DIR') (Keras 3) or tf.saved_model.save(model, "
            "'DIR') and pass DIR.")
    if head_model:  # which --input-range auto cannot tell from [0, 1]
        note += (" Teachable Machine's models (a base model, then a model of Dense layers, as this one) expect "
                 "pixels in [-1, 1]: for one of theirs, pass --input-range -1,1 (input_range=).")
    return model_class(inputs, features), note


def _loss_name(loss) -> str | None:
    """The name of a saved classification loss (a string, or a serialized loss object); `None` for others."""
    name = loss if isinstance(loss, str) else (loss or {}).get("class_name") if isinstance(loss, dict) else None
    return name if name and re.search(r"(?i)crossentropy|hinge", name) else None


def classification_loss(path: Path) -> str | None:
    """The classification loss (a cross-entropy or hinge) a Keras model was compiled with when saved at `path`
    (a `.keras` or `.h5` file, or a SavedModel tf.keras saved with its layers); `None` for any other loss, no
    loss, or another file."""
    path = Path(path)
    if path.is_dir() and not (path / "keras_metadata.pb").is_file():
        return None
    try:
        if path.is_dir():
            from tf_keras.protobuf import saved_metadata_pb2

            metadata = saved_metadata_pb2.SavedMetadata()
            metadata.ParseFromString((path / "keras_metadata.pb").read_bytes())
            root = [json.loads(node.metadata) for node in metadata.nodes if node.node_path == "root"]
            return _loss_name(((root or [{}])[0].get("training_config") or {}).get("loss"))
        if path.suffix.lower() == ".keras":
            with zipfile.ZipFile(path) as saved:
                return _loss_name((json.loads(saved.read("config.json")).get("compile_config") or {}).get("loss"))
        if path.suffix.lower() in (".h5", ".hdf5"):
            import h5py

            with h5py.File(path, "r") as saved:
                training = saved.attrs.get("training_config")
                return _loss_name(json.loads(training).get("loss")) if training is not None else None
    except Exception:  # no tf_keras or h5py, a damaged file, another layout: not known
        logger.debug("No training loss read from %s", path, exc_info=True)
    return None


def _tf_keras_layers(keras) -> dict:
    """Layers as tf.keras (Keras 2) wrote them into `.h5` files, which Keras 3 refuses: a DepthwiseConv2D's
    `groups` (always 1 there), in every MobileNet and EfficientNet that TensorFlow before 2.16 saved and in
    Teachable Machine's keras_model.h5 ("Unrecognized keyword arguments passed to DepthwiseConv2D:
    {'groups': 1}", teachablemachine-community#403)."""

    class DepthwiseConv2D(keras.layers.DepthwiseConv2D):
        def __init__(self, *args, groups: int = 1, **kwargs):
            super().__init__(*args, **kwargs)

    return {"DepthwiseConv2D": DepthwiseConv2D}


def _tf_keras_model(path: Path):
    """The model tf.keras (Keras 2: `tf_keras`, which tensorflow_hub installs) reads at `path`, or `None`."""
    try:
        import tf_keras

        return tf_keras.models.load_model(str(path), compile=False)
    except Exception:  # not installed, custom layers, damaged files, not a Keras model
        logger.debug("tf.keras cannot read %s", path, exc_info=True)
        return None


def _saved_by_tf_keras(path: Path, out: Path) -> str | None | bool:
    """Read the `.h5` model that Keras 3 did not with tf.keras, and save it as a SavedModel at `out`: layers
    Keras 3 dropped, such as TFOpLambda (a TensorFlow op called on Keras tensors in a functional model, as
    `x / 255.0` or `tf.image.resize(x, ...)`).

    Returns:
        `False` where tf.keras cannot read it either; else the note of a classifier left out, or `None`.
    """
    model = _tf_keras_model(path)
    if model is None:
        return False
    logger.info("Read %s with tf.keras (Keras 2): Keras 3 cannot read it.", path)
    return _tf_keras_features(model, out, classification_loss(path), whole=True)


def _save_features(model, model_class, save: Callable[[object, Path], None], out: Path, loss: str | None,
                   whole: bool) -> str | None:
    """Save `model` at `out` with `save` (Keras's `export`, or `tf.saved_model.save` for tf.keras) without the
    classifier it ends in, else whole where `whole` (or nothing); the note of the classifier left out, else
    `None`. A cut that cannot be saved leaves the model as it was before the cut."""
    cut = without_classifier_top(model, model_class, loss)
    if cut:
        try:
            save(cut[0], out)
            return cut[1]
        except Exception:  # a model the cut broke
            logger.debug("Cannot save %s without its classifier", out, exc_info=True)
            shutil.rmtree(out, ignore_errors=True)
    if whole:
        save(model, out)
    return None


def _tf_keras_features(model, out: Path, loss: str | None, whole: bool) -> str | None:
    """`_save_features` of a tf.keras model."""
    import tensorflow as tf
    import tf_keras

    return _save_features(model, tf_keras.Model, lambda m, to: tf.saved_model.save(m, str(to)), out, loss, whole)


def export_keras_model(path: Path, out: Path) -> None:
    """Export the Keras model file `path` (without a classifier it ends in) as a SavedModel at `out`.

    Raises:
        DataError: For weights alone, and for models Keras cannot load without their code.
    """
    if path.name.lower().endswith((".weights.h5", ".weights.hdf5")):
        raise DataError(f"{str(path)!r} holds a Keras model's weights only, not its layers. Load them into the "
                        f"model (model.load_weights), then {EXPORT_IT}.")
    import tfxfer.features.layer  # noqa: F401 - registers FeatureLayer, which a user's model may hold
    from tfxfer.keras_backend import keras

    try:
        model = keras.saving.load_model(path, compile=False, custom_objects=_tf_keras_layers(keras))
    except Exception as e:  # noqa: BLE001 - custom layers, Lambda layers (safe mode), damaged files
        note = _saved_by_tf_keras(path, out) if path.suffix.lower() in (".h5", ".hdf5") else False
        if note is False:
            raise _not_loaded(path, e) from None
    else:
        if not isinstance(model, keras.Model):
            raise DataError(f"{str(path)!r} holds a {type(model).__name__}, not a Keras model.")
        note = _save_features(model, keras.Model, lambda m, to: m.export(str(to), verbose=False), out,
                              classification_loss(path), whole=True)
    if note:
        _write_note(out, note, path)


def _not_loaded(path: Path, error: Exception) -> DataError:
    """The error for a Keras file Keras cannot load: a library of Keras models that is not installed (KerasHub's
    presets, saved with `model.save`), else the code that built it."""
    package = re.search(r"parent module (keras_hub|keras_nlp|keras_cv)\b", str(error))
    if package:
        name = package[1].replace("_", "-")
        return DataError(f"{str(path)!r} is a {name} model, which Keras loads with {name} installed: pip install "
                         f"{name}, and run again.")
    first = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
    return DataError(f"Keras cannot load {str(path)!r} on its own: {first} Export it with {EXPORT_IT}.")


def export_saved_model_features(path: Path, out: Path) -> bool:
    """Save at `out` the features of a classifier that tf.keras saved as a SavedModel (`model.save(DIR)` in
    TensorFlow before 2.16, which writes `keras_metadata.pb`: the layers, which tf.keras revives).

    Returns:
        Whether its classifier was left out; `False` for models tf.keras cannot revive or that end otherwise.
    """
    model = _tf_keras_model(path)
    note = _tf_keras_features(model, out, classification_loss(path), whole=False) if model is not None else None
    if note:
        _write_note(out, note, path)
    return note is not None


def _write_note(out: Path, note: str, path: Path) -> None:
    logger.info("Left out the classifier of %s: %s", path, note)
    (out / TOP_FILE).write_text(json.dumps({"note": note}), encoding="utf-8")


def classifier_top_note(module_dir: Path) -> str | None:
    """The note of a module exported from a Keras model without its classifier; `None` for other modules."""
    try:
        return json.loads((Path(module_dir) / TOP_FILE).read_text(encoding="utf-8"))["note"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def tfjs_model_fix(path: Path, shown: str | None = None) -> str | None:
    """What a TensorFlow.js model is and what to do with it (`model.json` and its weights: Teachable Machine's
    export for the web), given the file or a folder holding it (named `shown` in the fix); `None` for anything
    else. tfxfer does not read them."""
    path = Path(path)
    json_file = path / "model.json" if path.is_dir() else path
    if json_file.suffix.lower() != ".json" or not json_file.is_file() or json_file.stat().st_size > 50_000_000:
        return None
    try:
        model = json.loads(json_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(model, dict) or "modelTopology" not in model or "weightsManifest" not in model:
        return None
    if model.get("format") == "graph-model" or "node" in (model.get("modelTopology") or {}):
        return ("a TensorFlow.js graph model, which tfxfer does not read (nor does anything convert it back): pass "
                "the SavedModel or TF-Hub handle it was converted from.")
    return ("a TensorFlow.js model (Teachable Machine's export for the web, among others), which tfxfer does not "
            "read. Convert it to a Keras file (pip install tensorflowjs; tensorflowjs_converter "
            f"--input_format=tfjs_layers_model --output_format=keras {shown or json_file} keras_model.h5) and pass "
            "keras_model.h5; from Teachable Machine, Export Model > Tensorflow > Keras downloads that file.")
