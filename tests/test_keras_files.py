"""Keras model files (`.keras`, `.h5`, SavedModels tf.keras saved with their layers) as feature modules:
exported once, without the classifier they end in; TensorFlow.js models told how to become one."""

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tfxfer.errors import DataError
from tfxfer.features.load import load_features

# These tests check other things than the learning curve: one subsample per size (conftest).
pytestmark = pytest.mark.usefixtures("one_curve_draw")


def test_a_keras_classifier_is_exported_without_its_top(image_folder, tiny_image_module, tmp_path, monkeypatch,
                                                        caplog):
    # Teachable Machine's keras_model.h5 (a MobileNet, then a head of Dense layers ending in a softmax) and a
    # notebook's fine-tuned model gave their 2 - 3 class scores as the features, with a note saying to save
    # the model without its top: in code their users do not have. The layer before the classifier is taken.
    import logging

    from tfxfer import config
    from tfxfer.fitting import fit_head
    from tfxfer.keras_backend import keras

    tf_keras = pytest.importorskip("tf_keras")
    monkeypatch.setenv("TFXFER_CACHE_DIR", str(tmp_path / "cache"))
    images = tf.random.stateless_uniform([3, 16, 16, 3], seed=[1, 2])
    base = tf_keras.Sequential([tf_keras.Input((16, 16, 3)), tf_keras.layers.Conv2D(8, 3),
                                tf_keras.layers.DepthwiseConv2D(3), tf_keras.layers.GlobalAveragePooling2D()],
                               name="sequential_1")
    head = tf_keras.Sequential([tf_keras.Input((8,)), tf_keras.layers.Dense(5, activation="relu"),
                                tf_keras.layers.Dropout(0.5), tf_keras.layers.Dense(2, activation="softmax")],
                               name="sequential_3")
    tf_keras.Sequential([tf_keras.Input((16, 16, 3)), base, head]).save(tmp_path / "keras_model.h5")
    teachable = load_features(tmp_path / "keras_model.h5", image_size=16)
    assert teachable.output_dim == 8
    np.testing.assert_allclose(teachable(images), base(images), atol=1e-5)
    assert teachable.notes == [(
        "the Keras model ends in a classifier (a binary one: 'sequential_3'), which was left out: its features are "
        "the output of the layer before, 'sequential_1' (8 numbers), which transfer better than class scores. To "
        "use the classifier's outputs instead, save the whole model with model.export('DIR') (Keras 3) or "
        "tf.saved_model.save(model, 'DIR') and pass DIR. Teachable Machine's models (a base model, then a model "
        "of Dense layers, as this one) expect pixels in [-1, 1]: for one of theirs, pass --input-range -1,1 "
        "(input_range=).")]
    fitted = fit_head(tmp_path / "keras_model.h5", image_folder, image_size=16)
    assert teachable.notes[0] in fitted.report["data"]["notes"]
    # TensorFlow's transfer-learning tutorial: a TensorFlow op on the inputs (read by tf.keras), the base,
    # dropout and a Dense(1) logit.
    inputs = tf_keras.Input((16, 16, 3))
    logit = tf_keras.layers.Dense(1)(tf_keras.layers.Dropout(0.2)(base(inputs * 2.0 - 1.0)))
    tf_keras.Model(inputs, logit).save(tmp_path / "tutorial.h5")
    tutorial = load_features(tmp_path / "tutorial.h5", image_size=16, input_range="0,1")
    np.testing.assert_allclose(tutorial(images), base(images * 2.0 - 1.0), atol=1e-5)
    # Keras 3: logits, then a softmax Activation (as Keras applications with include_top=True end).
    inputs = keras.Input((16, 16, 3))
    pooled = keras.layers.GlobalAveragePooling2D(name="avg_pool")(keras.layers.Conv2D(6, 3)(inputs))
    scores = keras.layers.Activation("softmax", name="predictions")(keras.layers.Dense(10, name="logits")(pooled))
    keras.Model(inputs, scores).save(tmp_path / "application.keras")
    application = load_features(tmp_path / "application.keras", image_size=16)
    assert application.output_dim == 6
    assert application.notes[0].startswith("the Keras model ends in a classifier (10 classes: 'logits', "
                                           "'predictions'), which was left out: its features are the output of the "
                                           "layer before, 'avg_pool' (6 numbers)")
    # MobileNet's and MobileNetV3's classifier: a 1x1 convolution on pooled 1x1 maps, flattened, a softmax.
    maps = keras.layers.GlobalAveragePooling2D(keepdims=True, name="pool")(keras.layers.Conv2D(6, 3)(inputs))
    logits = keras.layers.Conv2D(10, 1, name="logits")(keras.layers.Dropout(0.2)(maps))
    scores = keras.layers.Activation("softmax", name="predictions")(keras.layers.Flatten(name="flatten")(logits))
    keras.Model(inputs, scores).save(tmp_path / "mobilenet.keras")
    mobilenet = load_features(tmp_path / "mobilenet.keras", image_size=16)
    assert mobilenet.output_dim == 6 and len(mobilenet.notes) == 1, mobilenet.notes  # no note of 1x1 maps pooled
    assert mobilenet.notes[0].startswith("the Keras model ends in a classifier (10 classes: 'logits', 'flatten', "
                                         "'predictions'), which was left out: its features are the output of the "
                                         "layer before, 'pool' (6 numbers)")
    # A classifier tf.keras saved as a SavedModel (`model.save(DIR)` before TensorFlow 2.16: keras_metadata.pb
    # holds its layers) is revived by tf.keras and cut the same way, once.
    pixels = tf_keras.Input((16, 16, 3))
    classifier = tf_keras.Model(pixels, tf_keras.layers.Dense(3, activation="softmax", name="predictions")(base(pixels)))
    classifier.save(tmp_path / "saved")
    narrow = tf_keras.Model(pixels, tf_keras.layers.Dense(2, activation="softmax")(
        tf_keras.layers.Dense(2)(tf_keras.layers.GlobalAveragePooling2D()(pixels))))
    narrow.save(tmp_path / "narrow")  # two numbers before its classifier: no features to cut it down to
    assert (tmp_path / "saved" / "keras_metadata.pb").is_file()
    with caplog.at_level(logging.INFO, logger=config.PROGRESS_LOG):
        saved, narrow_module = (load_features(tmp_path / name, image_size=16) for name in ("saved", "narrow"))
        assert load_features(tmp_path / "saved", image_size=16).path == saved.path
        assert load_features(tmp_path / "narrow", image_size=16).path == tmp_path / "narrow"
    assert (saved.spec, saved.output_dim) == (str(tmp_path / "saved"), 8)
    np.testing.assert_allclose(saved(images), base(images), atol=1e-5)
    assert saved.notes[0].startswith("the Keras model ends in a classifier (3 classes: 'predictions'), which was "
                                     "left out")
    assert (narrow_module.path, narrow_module.output_dim) == (tmp_path / "narrow", 2)  # the model whole
    assert [r.getMessage() for r in caplog.records if r.name == config.PROGRESS_LOG] == [
        f"Reading the layers of the Keras model in {tmp_path / name} to leave its classifier out (once; it is "
        "cached)." for name in ("saved", "narrow")]  # and not again: what the second ended in is remembered
    # TensorFlow's text classification tutorial's export: TextVectorization, the trained model (ending in a
    # logit), a sigmoid. The classifier inside the inner model is left out: a text module of 16 features.
    vectorize = keras.layers.TextVectorization(max_tokens=20, output_sequence_length=4)
    vectorize.adapt(["a good film", "a bad plot"])
    trained = keras.Sequential([keras.layers.Embedding(21, 16), keras.layers.GlobalAveragePooling1D(name="mean"),
                                keras.layers.Dropout(0.2), keras.layers.Dense(1, name="logit")], name="trained")
    keras.Sequential([keras.Input((1,), dtype="string"), vectorize, trained, keras.layers.Activation(
        "sigmoid", name="probability")]).save(tmp_path / "text_classifier.keras")
    text = load_features(tmp_path / "text_classifier.keras")
    assert (text.kind, text.output_dim) == ("text", 16)
    np.testing.assert_allclose(text(tf.constant(["a good film"])), trained.layers[1](trained.layers[0](
        vectorize(tf.constant(["a good film"])))), atol=1e-5)
    assert text.notes[0].startswith("the Keras model ends in a classifier (a binary one: 'logit' in 'trained', "
                                    "'probability'), which was left out: its features are the output of the "
                                    "layer before, 'mean' (16 numbers)")
    # Logits of any width, where the model was trained with a classification loss on them (TF-Hub's
    # transfer-learning tutorial: hub.KerasLayer, Dense(num_classes), from_logits=True, model.save(DIR)); a
    # model trained to regress keeps its Dense.
    import tensorflow_hub as hub

    logits = tf_keras.Sequential([hub.KerasLayer(str(tiny_image_module), input_shape=(16, 16, 3)),
                                  tf_keras.layers.Dense(5, name="dense")])
    logits.compile(loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    logits.save(tmp_path / "hub_classifier")
    hub_features = load_features(tmp_path / "hub_classifier", image_size=16)
    assert hub_features.output_dim == load_features(tiny_image_module, image_size=16).output_dim
    assert hub_features.notes[0].startswith("the Keras model ends in a classifier (5 classes, trained with "
                                            "SparseCategoricalCrossentropy: 'dense'), which was left out")
    for loss, dim in (("sparse_categorical_crossentropy", 6), ("mse", 5)):
        regressed = keras.Model(inputs, keras.layers.Dense(5)(pooled))
        regressed.compile(loss=loss)
        regressed.save(tmp_path / f"{loss}.keras")
        assert load_features(tmp_path / f"{loss}.keras", image_size=16).output_dim == dim
    # Logits named as KerasHub's classifiers name them.
    keras.Model(inputs, keras.layers.Dense(10, name="predictions")(pooled)).save(tmp_path / "logits.keras")
    assert load_features(tmp_path / "logits.keras", image_size=16).output_dim == 6
    # A model that ends in features of its own (an embedding's Dense) is taken whole.
    embedding = keras.Model(inputs, keras.layers.Dense(12)(pooled))
    embedding.save(tmp_path / "embedding.keras")
    whole = load_features(tmp_path / "embedding.keras", image_size=16)
    assert whole.output_dim == 12 and whole.notes == []
    np.testing.assert_allclose(whole(images), embedding(images), atol=1e-5)


@pytest.mark.parametrize("application", ["MobileNetV2", "MobileNetV3Small", "EfficientNetB0"])
def test_keras_applications_are_cut_before_their_top(application):
    # A model of keras.applications with include_top=True (the default): a Dense, or MobileNetV3's 1x1
    # convolution, after the pooled features. (All 40 were checked so; three stand for them here.)
    from tfxfer.features.keras_files import without_classifier_top
    from tfxfer.keras_backend import keras

    model = getattr(keras.applications, application)(weights=None, input_shape=(32, 32, 3))
    features, note = without_classifier_top(model, keras.Model)
    assert features.output.shape[-1] == {"MobileNetV2": 1280, "MobileNetV3Small": 1024, "EfficientNetB0": 1280}[
        application]
    assert note.startswith("the Keras model ends in a classifier (1000 classes: ")


def test_a_classifier_whose_cut_cannot_be_exported_is_used_whole(tmp_path, monkeypatch):
    # Leaving a classifier out must never leave a model unusable that was usable whole.
    from tfxfer.features import keras_files
    from tfxfer.keras_backend import keras

    class CutGoneWrong:
        def export(self, directory, **kwargs):
            (Path(directory) / "variables").mkdir(parents=True)  # half written, as a failed export leaves it
            raise ValueError("a layer the cut broke")

    monkeypatch.setenv("TFXFER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(keras_files, "without_classifier_top", lambda *args: (CutGoneWrong(), "cut"))
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(inputs)))
    model.save(tmp_path / "classifier.keras")
    module = load_features(tmp_path / "classifier.keras", image_size=8, input_range="0,1")
    assert module.output_dim == 3 and "cut" not in module.notes
    images = tf.random.stateless_uniform([2, 8, 8, 3], seed=[1, 2])
    np.testing.assert_allclose(module(images), model(images), atol=1e-5)


def test_a_tensorflow_js_model_is_told_how_to_become_a_keras_file(image_folder, tmp_path):
    # Teachable Machine's default export is TensorFlow.js (model.json, weights.bin, metadata.json, zipped): it
    # was "not a SavedModel directory" or "neither a SavedModel archive nor word vectors".
    import zipfile

    from tests.conftest import cli_error

    folder = tmp_path / "tm-my-image-model"
    folder.mkdir()
    (folder / "model.json").write_text(json.dumps({
        "modelTopology": {"class_name": "Sequential", "config": {"layers": []}}, "format": "layers-model",
        "generatedBy": "TensorFlow.js tfjs-layers v1.3.1", "weightsManifest": [{"paths": ["weights.bin"]}]}))
    (folder / "weights.bin").write_bytes(b"\0" * 16)
    (folder / "metadata.json").write_text(json.dumps({"labels": ["ants", "bees"]}))
    with zipfile.ZipFile(tmp_path / "tm-my-image-model.zip", "w") as zipped:
        for file in folder.iterdir():
            zipped.write(file, file.name)
    convert = ("a TensorFlow.js model (Teachable Machine's export for the web, among others), which tfxfer does not "
               "read. Convert it to a Keras file (pip install tensorflowjs; tensorflowjs_converter "
               "--input_format=tfjs_layers_model --output_format=keras {} keras_model.h5) and pass keras_model.h5; "
               "from Teachable Machine, Export Model > Tensorflow > Keras downloads that file.")
    line = cli_error(["fit-head", "--features", folder, "--train", image_folder, "--out", tmp_path / "export"])
    assert line == (f"Error: {str(folder)!r} is not a SavedModel directory (no saved_model.pb): it holds "
                    + convert.format(folder / "model.json")), line
    with pytest.raises(DataError) as raised:
        load_features(folder / "model.json")
    assert str(raised.value) == f"Feature module {str(folder / 'model.json')!r} is " + convert.format(
        folder / "model.json")
    with pytest.raises(DataError) as raised:
        load_features(tmp_path / "tm-my-image-model.zip")
    assert str(raised.value).endswith(
        "must hold exactly one SavedModel (saved_model.pb); found none: it holds " + convert.format("model.json")
        + " Extract the archive first for the converter.")
    (folder / "model.json").write_text(json.dumps({"format": "graph-model", "modelTopology": {"node": []},
                                                   "weightsManifest": []}))
    with pytest.raises(DataError, match=r"is not a SavedModel directory \(no saved_model.pb\): it holds a "
                                        r"TensorFlow.js graph model, which tfxfer does not read \(nor does "
                                        r"anything convert it back\): pass the SavedModel or TF-Hub handle"):
        load_features(folder)
    assert not (tmp_path / "export").exists()


def test_a_keras_model_file_is_exported_once_into_the_cache(image_folder, tmp_path, monkeypatch, caplog):
    # Keras 3 saves models as .keras files. They were an Error asking for model.export('DIR') by hand;
    # Keras itself loads and exports them now, once.
    import logging
    import zipfile

    from tfxfer import config
    from tfxfer.cache_dir import cache_usage
    from tfxfer.fitting import fit_head
    from tfxfer.keras_backend import keras

    monkeypatch.setenv("TFXFER_CACHE_DIR", str(tmp_path / "cache"))
    inputs = keras.Input((None, None, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 1)(inputs))
    model = keras.Model(inputs, keras.layers.Concatenate()([pooled, keras.layers.GlobalAveragePooling2D()(inputs)]))
    model.save(tmp_path / "encoder.keras")
    model.save_weights(tmp_path / "encoder.weights.h5")
    images = tf.random.stateless_uniform([2, 16, 16, 3], seed=[1, 2])
    with caplog.at_level(logging.INFO, logger=config.PROGRESS_LOG):
        module = load_features(tmp_path / "encoder.keras", image_size=16)
        again = load_features(tmp_path / "encoder.keras", image_size=16)
    assert module.kind == "image" and module.output_dim == 7 and again.path == module.path
    np.testing.assert_allclose(module(images), model(images), atol=1e-5)
    assert [r.getMessage() for r in caplog.records if "Exporting" in r.getMessage()] == [
        f"Exporting the Keras model {tmp_path / 'encoder.keras'} as a SavedModel (once; it is cached)."]
    (entry,) = [e for e in cache_usage().entries if e.part == "modules"]
    assert entry.source == str(tmp_path / "encoder.keras")
    fitted = fit_head(tmp_path / "encoder.keras", image_folder, image_size=16)
    assert fitted.report["cross_validation"]["accuracy_mean"] == 1.0
    # A whole model in .h5 as tf.keras (Keras 2) saved it: every DepthwiseConv2D (MobileNet, EfficientNet,
    # Teachable Machine's keras_model.h5) has a `groups` that Keras 3 refused ("Unrecognized keyword arguments").
    import h5py

    depthwise = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.DepthwiseConv2D(3),
                                  keras.layers.GlobalAveragePooling2D()])
    depthwise.save(tmp_path / "keras_model.h5")
    with h5py.File(tmp_path / "keras_model.h5", "r+") as saved:
        config_of = json.loads(saved.attrs["model_config"])
        for layer in config_of["config"]["layers"]:
            layer["config"].update({"groups": 1} if layer["class_name"] == "DepthwiseConv2D" else {})
        saved.attrs["model_config"] = json.dumps(config_of)
    np.testing.assert_allclose(load_features(tmp_path / "keras_model.h5")(images), depthwise(images), atol=1e-5)
    # A functional model that calls TensorFlow ops on Keras tensors (x * 2 - 1, tf.image.resize) holds
    # TFOpLambda layers, which Keras 3 dropped ("Unknown layer: 'TFOpLambda'"): tf.keras, installed with
    # tensorflow_hub, reads it instead.
    tf_keras = pytest.importorskip("tf_keras")
    inputs = tf_keras.Input((16, 16, 3))
    scaled = tf.image.resize(inputs, (8, 8)) * 2.0 - 1.0
    legacy = tf_keras.Model(inputs, tf_keras.layers.GlobalAveragePooling2D()(tf_keras.layers.Conv2D(4, 3)(scaled)))
    legacy.save(tmp_path / "legacy.h5")
    assert "TFOpLambda" in {type(layer).__name__ for layer in legacy.layers}
    np.testing.assert_allclose(load_features(tmp_path / "legacy.h5")(images), legacy(images), atol=1e-5)
    # Weights alone, or a model Keras cannot load without its code: the error says what to do.
    with pytest.raises(DataError, match=r"holds a Keras model's weights only, not its layers. Load them into the "
                                        r"model \(model.load_weights\), then model.export\('DIR'\)"):
        load_features(tmp_path / "encoder.weights.h5")
    # The model object itself, as a notebook holds it (or what tf.saved_model.load gave): a TypeError deep
    # inside; the error says how to name it.
    from tfxfer.errors import ConfigError

    with pytest.raises(ConfigError, match=r"`features` must name a feature module .* model.save\('encoder.keras'\) "
                                          r".* Received: features=Functional object"):
        fit_head(model, image_folder)
    with pytest.raises(ConfigError, match="pass the path or TF-Hub handle it was loaded from"):
        load_features(tf.saved_model.load(str(module.path)))
    # A KerasHub model (model.save of a preset's classifier) without keras-hub installed: which package.
    with zipfile.ZipFile(tmp_path / "hub.keras", "w") as saved:
        saved.writestr("metadata.json", json.dumps({"keras_version": keras.__version__}))
        saved.writestr("config.json", json.dumps({
            "module": "keras_hub.src.models.image_classifier", "class_name": "ImageClassifier", "config": {},
            "registered_name": "keras_hub>ImageClassifier"}))
    with pytest.raises(DataError) as raised:
        load_features(tmp_path / "hub.keras")
    assert str(raised.value) == (f"{str(tmp_path / 'hub.keras')!r} is a keras-hub model, which Keras loads with "
                                 "keras-hub installed: pip install keras-hub, and run again.")
    (tmp_path / "custom.keras").write_bytes(b"PK\x03\x04 a zip, as .keras files are")
    with pytest.raises(DataError, match=r"Keras cannot load .*custom.keras' on its own: .* Export it with "
                                        r"model.export\('DIR'\) .*in the code that built it"):
        load_features(tmp_path / "custom.keras")
