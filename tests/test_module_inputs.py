"""What a feature module takes and how tfxfer feeds it: strings or a column of them, images in the
range and dtype the module expects (uint8 and float16 too), feature maps pooled, a classifier's top
named, Keras models on a feature layer; and what is refused, with its name."""

import json
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import labeled_topic_rows, save_tiny_image_module
from tfxfer.errors import ConfigError, DataError
from tfxfer.features.extract import extract_text_features
from tfxfer.features.layer import FeatureLayer
from tfxfer.features.load import load_features
from tfxfer.text.module import save_text_module

# These tests check other things than the learning curve: one subsample per size (conftest).
pytestmark = pytest.mark.usefixtures("one_curve_draw")


def test_a_module_that_expects_pixels_in_0_255_is_fed_them(tiny_image_module, tmp_path):
    wants_255 = save_tiny_image_module(tmp_path / "wants255", wants_255=True)
    dark, light = tf.fill((1, 32, 32, 3), 0.2), tf.fill((1, 32, 32, 3), 0.8)

    def gap(module):  # how far apart two different images are in its features
        a, b = module(dark).numpy()[0], module(light).numpy()[0]
        return np.linalg.norm(a - b) / np.linalg.norm(a)

    auto = load_features(wants_255, image_size=32)
    assert auto.input_range == (0.0, 255.0) and "[0, 255]" in auto.notes[0] and "--input-range" in auto.notes[0]
    forced = load_features(wants_255, image_size=32, input_range="0,1")
    assert forced.input_range == (0.0, 1.0) and not forced.notes
    assert gap(auto) > 100 * gap(forced)  # fed [0, 1] it sees two near-black images
    assert auto.identity != forced.identity  # other features, other cache entries
    # A [0, 1] module stays so (its features spread alike in both ranges); other ranges when asked.
    plain = load_features(tiny_image_module, image_size=32)
    assert plain.input_range == (0.0, 1.0) and not plain.notes
    assert load_features(tiny_image_module, image_size=32, input_range=(-1, 1)).input_range == (-1.0, 1.0)
    layer = FeatureLayer.from_config(FeatureLayer(auto).get_config())
    assert layer.module.input_range == (0.0, 255.0)
    with pytest.raises(ConfigError, match=r"input_range.*auto, 0,1, 0,255, -1,1.*Received: input_range='0-255'"):
        load_features(tiny_image_module, input_range="0-255")


def _fits_and_exports(module, image_folder, out):
    """A head on `module` learns the tiny folder's colours, and its export answers them in TensorFlow alone."""
    from pathlib import Path

    from tests.conftest import run_without_tfxfer
    from tfxfer.fitting import fit_head

    fitted = fit_head(module, image_folder, image_size=16)
    assert fitted.report["cross_validation"]["accuracy_mean"] == 1.0
    path = fitted.export(out, version=1)
    files = sorted(str(f) for f in image_folder.glob("*/*.png"))
    answers = run_without_tfxfer(f"""
        m = tf.saved_model.load({str(path)!r})
        s = m.signatures["serving_default"](image_bytes=tf.constant([open(f, "rb").read() for f in {files!r}]))
        print(json.dumps([c.decode() for c in s["classes"].numpy()]))
    """)
    assert answers == [Path(f).parent.name for f in files]


@pytest.mark.parametrize("dtype", ["uint8", "float16"])
def test_a_module_on_uint8_or_float16_pixels_is_fed_them(dtype, image_folder, tmp_path):
    # Models exported to take stored pixels (uint8, Keras' Input(dtype="uint8")) or half precision were an
    # Error ("neither a text module nor an image module") or failed on tfxfer's float32 images.
    fed = tf.as_dtype(dtype)

    class Pixels(tf.Module):
        def __init__(self):
            self.mix = tf.Variable(np.hstack([np.eye(3), np.eye(3)]).astype("float32"))

        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], fed)])
        def __call__(self, images):
            x = tf.cast(images, tf.float32) / (255.0 if fed == tf.uint8 else 1.0)
            return tf.cast(tf.matmul(tf.reduce_mean(x, [1, 2]), self.mix), tf.float32 if fed == tf.uint8 else fed)

    tf.saved_model.save(Pixels(), str(tmp_path / "module"))
    module = load_features(tmp_path / "module", image_size=16)
    grey = module(tf.fill([1, 16, 16, 3], 0.5))
    assert grey.dtype == tf.float32
    np.testing.assert_allclose(grey, [[128 / 255 if fed == tf.uint8 else 0.5] * 6], atol=1e-3)
    assert module.input_range == ((0.0, 255.0) if fed == tf.uint8 else (0.0, 1.0))
    _fits_and_exports(tmp_path / "module", image_folder, tmp_path / "export")


def test_a_module_on_encoded_image_bytes_is_an_image_module(image_folder, tmp_path, caplog):
    # A model exported for serving takes encoded images (an `image_bytes` string input). It was read as a
    # text module: fit-head on images was a traceback from inside its DecodeImage op.
    class Encoded(tf.Module):
        def __init__(self):
            self.mix = tf.Variable(np.hstack([np.eye(3), np.eye(3)]).astype("float32"))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
        def serve(self, image_bytes):
            def decoded(data):
                image = tf.image.decode_jpeg(data, channels=3)  # decodes PNG too, as serving code often relies on
                return tf.image.resize(tf.image.convert_image_dtype(image, tf.float32), [8, 8])
            images = tf.map_fn(decoded, image_bytes, fn_output_signature=tf.TensorSpec([8, 8, 3], tf.float32))
            return {"feature_vector": tf.matmul(tf.reduce_mean(images, [1, 2]), self.mix)}

    encoded = Encoded()
    tf.saved_model.save(encoded, str(tmp_path / "module"), signatures={"serving_default": encoded.serve})
    module = load_features(tmp_path / "module", image_size=16)
    assert module.kind == "image" and module.image_size == (16, 16) and "encoded images" in module.notes[0]
    np.testing.assert_allclose(module(tf.fill([2, 16, 16, 3], 0.5)), [[128 / 255] * 6] * 2, atol=1e-6)
    # It decodes the images itself: a pixel range asked for is said to be ignored.
    assert load_features(tmp_path / "module", image_size=16, input_range="0,255").input_range == (0.0, 1.0)
    assert "takes encoded images and decodes them itself: --input-range (input_range=) 0,255 ignored." in caplog.text
    _fits_and_exports(tmp_path / "module", image_folder, tmp_path / "export")

    class Broken(tf.Module):  # takes strings, and fails on text and images alike
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def __call__(self, data):
            return tf.reshape(tf.strings.to_number(data), [-1, 1])

    tf.saved_model.save(Broken(), str(tmp_path / "broken"))
    with pytest.raises(DataError, match="fails on both text and a PNG image"):
        load_features(tmp_path / "broken")


def test_feature_maps_are_averaged_and_a_classifier_top_is_named(tmp_path):
    kernel = tf.constant(np.random.default_rng(0).normal(size=(3, 3, 3, 6)).astype("float32"))

    def save(name, head):  # as Keras exports applications without pooling="avg", or with their top
        module = tf.Module()
        module.__call__ = tf.function(lambda images: head(tf.nn.relu(tf.nn.conv2d(images, kernel, 2, "SAME"))),
                                      input_signature=[tf.TensorSpec([None, 32, 32, 3], tf.float32)])
        tf.saved_model.save(module, str(tmp_path / name))
        return load_features(tmp_path / name)

    maps = save("maps", lambda x: x)
    images = tf.random.uniform((2, 32, 32, 3), seed=1)
    assert maps.output_dim == 6 and "feature maps [16, 16, 6]" in maps.notes[0]
    expected = tf.reduce_mean(tf.nn.relu(tf.nn.conv2d(images, kernel, 2, "SAME")), [1, 2])
    np.testing.assert_allclose(maps(images), expected, rtol=1e-5)
    top = save("top", lambda x: tf.nn.softmax(tf.reduce_mean(x, [1, 2])))
    assert top.output_dim == 6 and "probabilities" in top.notes[0] and "include_top=False" in top.notes[0]
    # A binary classifier's one logit (Dense(1), as TensorFlow's transfer-learning tutorial saves its model): a head
    # on one number learned little, and nothing said why.
    logit = save("logit", lambda x: tf.reduce_mean(x, [1, 2, 3])[:, None])
    assert logit.output_dim == 1 and logit.notes == [
        "the module gives 1 number per input: a classifier's score, not features to learn from. The layer before its "
        "top usually transfers better: save the model without it (Keras: keras.Model(model.input, "
        "model.layers[-2].output))."]
    assert not maps.notes[1:]


def test_a_keras_text_model_on_a_column_of_strings_is_a_text_module(tmp_path):
    import keras

    texts = ["a good film", "an awful plot", "great acting", "the cat sat"]
    vectorize = keras.layers.TextVectorization(max_tokens=20, output_sequence_length=4)
    vectorize.adapt(texts)
    inputs = keras.Input(shape=(1,), dtype="string")  # as Keras's text tutorials build them
    embedded = keras.layers.Embedding(20, 5, embeddings_initializer="uniform")(vectorize(inputs))
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling1D()(embedded))
    model.export(str(tmp_path / "keras_text"), verbose=False)
    module = load_features(tmp_path / "keras_text")
    assert (module.kind, module.output_dim) == ("text", 5)
    np.testing.assert_allclose(module(tf.constant(texts)), model(tf.constant([[t] for t in texts])), rtol=1e-5)


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # Keras's, reading variables
def test_a_keras_model_on_a_text_feature_layer_trains_saves_and_exports(text_module, tmp_path):
    # model.export() refused it: the module's vocabulary table was no child of the layer ("untracked resource").
    import subprocess
    import sys

    import keras

    rows = labeled_topic_rows()
    texts, y = [t for t, _ in rows], np.array([int(label == "vehicles") for _, label in rows])
    inputs = keras.Input(shape=(), dtype="string")
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(FeatureLayer(text_module)(inputs)))
    model.compile(keras.optimizers.Adam(0.1), "sparse_categorical_crossentropy")
    model.fit(tf.data.Dataset.from_tensor_slices((texts, y)).shuffle(24, seed=0).batch(8), epochs=20, verbose=0,
              shuffle=False)
    probe = tf.constant(["the cow and a goat", "the bus"])
    expected = model.predict(probe, verbose=0)
    assert expected.argmax(1).tolist() == [0, 1]
    model.save(tmp_path / "m.keras")
    np.testing.assert_allclose(keras.models.load_model(tmp_path / "m.keras").predict(probe, verbose=0), expected,
                               atol=1e-6)
    model.export(str(tmp_path / "exported"), verbose=False)
    code = ("import json, sys, tensorflow as tf; m = tf.saved_model.load(sys.argv[1]); "
            "print(json.dumps(m.serve(tf.constant(['the cow and a goat', 'the bus'])).numpy().tolist()))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "exported")], capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    np.testing.assert_allclose(json.loads(out.stdout.strip().splitlines()[-1]), expected, atol=1e-5)


def test_text_module_is_detected(tmp_path):
    save_text_module(["good", "bad"], np.eye(2, 4, dtype="float32"), tmp_path / "text")
    module = load_features(tmp_path / "text")
    assert (module.kind, module.output_dim, module.image_size) == ("text", 4, None)
    np.testing.assert_allclose(module(tf.constant(["Good!", "bad good", "none"])).numpy()[:, :2],
                               [[1, 0], [0.5, 0.5], [0, 0]])
    features = extract_text_features(module, ["good", "bad"], ["p", "n"])
    assert features.features.shape == (2, 4) and features.labels == ["p", "n"]


def test_a_savedmodels_file_stands_for_its_folder_and_a_frozen_graph_is_told(tiny_image_module, tmp_path):
    # A shell completes `models/effnet/` to `models/effnet/saved_model.pb`: it was "neither a SavedModel archive
    # nor word vectors", though the folder the user meant is one.
    folder = load_features(tiny_image_module)
    for name in ("saved_model.pb", "fingerprint.pb"):
        if (tiny_image_module / name).is_file():
            module = load_features(tiny_image_module / name)
            assert (module.path, module.identity) == (folder.path, folder.identity)
    # A frozen TF1 graph (a GraphDef .pb: the TF1 retraining tutorials' classify_image_graph_def.pb) has no
    # signature naming its input and features.
    graph = tf.Graph()
    with graph.as_default():
        tf.identity(tf.compat.v1.placeholder(tf.float32, [None, 3]), name="features")
    frozen = tmp_path / "frozen_graph.pb"
    frozen.write_bytes(graph.as_graph_def().SerializeToString())
    with pytest.raises(DataError, match=r"a frozen TF1 graph\? It does not say which tensors are its input and its "
                                        r"features: load it with tf\.compat\.v1, then save"):
        load_features(frozen)


def test_modules_that_return_a_list_or_answer_through_one_named_signature_are_read(labeled_tsv, tmp_path):
    # TF-Hub's sentence-t5 returns [embeddings] (its users take [0]): fit-head failed with "'list' object has no
    # attribute 'shape'", a traceback. A module of one signature not named serving_default (TF-Hub's QA
    # encoders name theirs) was "not callable"; with two, the error names them.
    from tfxfer import fit_head

    class Listed(tf.Module):
        def __init__(self):
            self.table = tf.Variable(tf.random.stateless_normal([64, 6], seed=[1, 2]))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def __call__(self, texts):
            words = tf.strings.to_hash_bucket_fast(tf.strings.split(texts), 64)
            return [tf.reduce_mean(tf.ragged.map_flat_values(tf.gather, self.table, words), axis=1)]

    tf.saved_model.save(Listed(), str(tmp_path / "listed"))
    fitted = fit_head(str(tmp_path / "listed"), labeled_tsv, lexical=False, export_dir=tmp_path / "export")
    assert fitted.module.output_dim == 6 and fitted.report["cross_validation"]["accuracy_mean"] >= 0.9
    assert fitted.predict(["the goat and a sheep"])[0][0] == "animals"

    class Named(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def question_encoder(self, input):  # noqa: A002 - TF-Hub's name
            return {"outputs": tf.cast(tf.strings.length(input), tf.float32)[:, None] * tf.ones([3])}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def response_encoder(self, input):  # noqa: A002
            return {"outputs": tf.zeros([tf.shape(input)[0], 3])}

    named = Named()
    tf.saved_model.save(named, str(tmp_path / "one"), signatures={"question_encoder": named.question_encoder})
    assert load_features(tmp_path / "one")(tf.constant(["abcd"])).numpy().tolist() == [[4.0, 4.0, 4.0]]
    tf.saved_model.save(named, str(tmp_path / "two"), signatures={"question_encoder": named.question_encoder,
                                                                  "response_encoder": named.response_encoder})
    with pytest.raises(DataError, match=r"It has the signatures \['question_encoder', 'response_encoder'\]: save "
                                        "the one that computes the features as serving_default"):
        load_features(tmp_path / "two")


def test_module_that_is_neither_names_what_it_found(tmp_path):
    class Ints(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.int32)])
        def __call__(self, x):
            return tf.cast(x[:, None], tf.float32)

    tf.saved_model.save(Ints(), str(tmp_path / "ints"))
    with pytest.raises(DataError, match="neither a text module .* its input is int32") as raised:
        load_features(tmp_path / "ints")
    assert "token ids" not in str(raised.value)

    class Encoder(tf.Module):  # TF-Hub's BERT encoders take a dict of token ids from their preprocessing model
        @tf.function(input_signature=[{name: tf.TensorSpec([None, None], tf.int32)
                                       for name in ("input_word_ids", "input_mask", "input_type_ids")}])
        def __call__(self, inputs):
            return {"pooled_output": tf.cast(inputs["input_word_ids"], tf.float32)}

    tf.saved_model.save(Encoder(), str(tmp_path / "encoder"))
    with pytest.raises(DataError, match=r"takes token ids \(input_mask, input_type_ids, input_word_ids\), as "
                                        "BERT-style encoders do, .* Or pass a module that takes raw text"):
        load_features(tmp_path / "encoder")
    with pytest.raises(DataError, match="not found. Pass a SavedModel directory"):
        load_features(tmp_path / "missing")


_TEXT_OPS_MODULE = '''
import sys
import tensorflow as tf
import tensorflow_text as text


class Module(tf.Module):  # as TF-Hub's multilingual encoders: a tokenizer of TensorFlow Text's, then vectors
    def __init__(self):
        self.tokenizer = text.WhitespaceTokenizer()
        self.table = tf.Variable(tf.random.stateless_normal([512, 16], seed=[1, 2]))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def __call__(self, texts):
        ids = tf.strings.to_hash_bucket_fast(self.tokenizer.tokenize(tf.strings.lower(texts)), 512)
        return tf.reduce_mean(tf.ragged.map_flat_values(tf.gather, self.table, ids), axis=1)


module = Module()
tf.saved_model.save(module, sys.argv[1], signatures={"serving_default": module.__call__})
'''


def test_a_module_with_tensorflow_text_ops_loads_and_its_export_says_so(labeled_tsv, tmp_path):
    # TF-Hub's multilingual sentence encoders and BERT preprocessors tokenize with TensorFlow Text's ops,
    # which exist once tensorflow_text is imported: loading one was "Op type not registered", blamed on
    # damaged files. Each command runs in a process of its own, where nothing imported it before.
    import importlib.util
    import subprocess

    if importlib.util.find_spec("tensorflow_text") is None:
        pytest.skip("tensorflow-text is not installed (scripts/test.sh installs the one of this TensorFlow)")
    module, export = tmp_path / "module", tmp_path / "export"
    (tmp_path / "make.py").write_text(_TEXT_OPS_MODULE)

    def run(*args, code="from tfxfer.cli import main; main()"):
        return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                              timeout=300, check=False)

    made = run(module, code=(tmp_path / "make.py").read_text())
    assert made.returncode == 0, made.stderr[-2000:]
    fitted = run("fit-head", "--features", module, "--train", labeled_tsv, "--out", export, "--name", "topics")
    assert fitted.returncode == 0, fitted.stderr[-2000:]
    assert "Note: the module uses TensorFlow Text's ops (its tokenizer); tfxfer imported tensorflow_text" \
        in fitted.stdout + fitted.stderr
    report = json.loads((export / "topics" / "reports" / "1" / "report.json").read_text())
    assert report["feature_module"]["op_library"] == "tensorflow_text"
    readme = (export / "README.md").read_text()
    assert "import tensorflow as tf\nimport tensorflow_text  # registers the ops of the module's tokenizer\n" in readme
    # The export needs them too: predict imports TensorFlow Text as fit-head did.
    predicted = run("predict", export, "--json", "the cat and a dog")
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    assert json.loads(predicted.stdout)[0]["label"] in {label for _, label in labeled_topic_rows()}
    # Without TensorFlow Text, the error names the op and the package of this TensorFlow's version.
    hidden = run("embed", "--features", module, labeled_tsv, "--out", tmp_path / "features.npz",
                 code="import sys; sys.modules['tensorflow_text'] = None; from tfxfer.cli import main; main()")
    minor = ".".join(tf.__version__.split(".")[:2])
    assert hidden.returncode == 1 and hidden.stderr.strip().splitlines()[-1] == (
        f"Error: The SavedModel at '{module}' uses the op 'TFText>WhitespaceTokenizeWithOffsetsV2', which "
        "TensorFlow does not have built in: the tokenizers of TF-Hub's text modules take theirs from TensorFlow "
        f"Text, which is not installed. pip install 'tensorflow-text=={minor}.*' (the version of your "
        f"TensorFlow, {tf.__version__}), then run again."), hidden.stderr[-2000:]
