"""BERT-style encoders: a preprocessing model (TensorFlow Text's tokenizer) and an encoder of token ids."""

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import TOPIC_WORDS, cli_error, labeled_topic_rows
from tests.test_tpu_export import ALIASED
from tfxfer.errors import ConfigError, DataError
from tfxfer.features.load import load_features
from tfxfer.features.token_ids import paired_preprocessor, truncated_texts_note

# These tests check other things than the learning curve: one subsample per size (conftest).
pytestmark = pytest.mark.usefixtures("one_curve_draw")

UNCASED = "https://tfhub.dev/tensorflow/bert_en_uncased_preprocess/3"
_SEQ = 48


@pytest.mark.parametrize("encoder, preprocessor", [
    ("https://tfhub.dev/tensorflow/bert_en_uncased_L-12_H-768_A-12/4", UNCASED),
    ("https://tfhub.dev/tensorflow/small_bert/bert_en_uncased_L-4_H-256_A-4/1", UNCASED),
    ("https://tfhub.dev/tensorflow/bert_en_wwm_uncased_L-24_H-1024_A-16/4", UNCASED),
    ("https://tfhub.dev/tensorflow/bert_en_cased_L-12_H-768_A-12/4",
     "https://tfhub.dev/tensorflow/bert_en_cased_preprocess/3"),
    ("https://tfhub.dev/tensorflow/bert_multi_cased_L-12_H-768_A-12/4",
     "https://tfhub.dev/tensorflow/bert_multi_cased_preprocess/3"),
    ("https://tfhub.dev/tensorflow/albert_en_base/3", "https://tfhub.dev/tensorflow/albert_en_preprocess/3"),
    ("https://tfhub.dev/google/electra_small/2", UNCASED),
    ("https://tfhub.dev/google/experts/bert/pubmed/2", UNCASED),
    ("https://tfhub.dev/tensorflow/talkheads_ggelu_bert_en_base/2", UNCASED),
    ("https://tfhub.dev/google/LaBSE/2",
     "https://tfhub.dev/google/universal-sentence-encoder-cmlm/multilingual-preprocess/2"),
    ("https://tfhub.dev/google/MuRIL-Large/1", "https://tfhub.dev/google/MuRIL_preprocess/1"),
    ("https://tfhub.dev/tensorflow/mobilebert_multi_cased_L-24_H-128_B-512_A-4_F-4_OPT/1",
     "https://tfhub.dev/tensorflow/bert_multi_cased_preprocess/3"),
    # Kaggle's names of the same models, and the folder kagglehub downloads one to.
    ("https://www.kaggle.com/models/tensorflow/bert/tensorFlow2/en-uncased-l-12-h-768-a-12/4", UNCASED),
    ("tensorflow/bert/tensorFlow2/bert-en-cased-l-12-h-768-a-12/2",
     "https://tfhub.dev/tensorflow/bert_en_cased_preprocess/3"),
    ("/home/me/.cache/kagglehub/models/tensorflow/bert/tensorFlow2/en-uncased-l-2-h-128-a-2/2", UNCASED),
    ("https://www.kaggle.com/models/tensorflow/albert/tensorFlow2/en-base/3",
     "https://tfhub.dev/tensorflow/albert_en_preprocess/3"),
    ("https://www.kaggle.com/models/tensorflow/mobilebert/tensorFlow2/uncased-l-24-h-128-b-512-a-4-f-4-opt/1",
     UNCASED),
    ("https://www.kaggle.com/models/tensorflow/bert/tensorFlow2/en-wwm-cased-l-24-h-1024-a-16/4",
     "https://tfhub.dev/tensorflow/bert_en_cased_preprocess/3"),
    ("models/my_encoder", None),
])
def test_tfhub_encoders_are_paired_with_their_preprocessing_model(encoder, preprocessor):
    assert paired_preprocessor(encoder) == preprocessor


_MAKE = '''
import sys
import numpy as np
import tensorflow as tf
import tensorflow_text as text

out, words, topics = sys.argv[1], sys.argv[2].split(), sys.argv[3:]
vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"] + words
(open(out + "/vocab.txt", "w")).write("\\n".join(vocab) + "\\n")


class Preprocessor(tf.Module):  # as TF-Hub's bert_en_uncased_preprocess: strings in, padded token ids out
    def __init__(self):
        init = tf.lookup.TextFileInitializer(out + "/vocab.txt", tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
                                             tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER)
        self.tokenizer = text.BertTokenizer(tf.lookup.StaticVocabularyTable(init, 1), lower_case=True)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def tokenize(self, texts):  # TF-Hub's: word pieces [batch, words, pieces]
        return self.tokenizer.tokenize(texts)

    @tf.function(input_signature=[[tf.RaggedTensorSpec([None, None, None], tf.int64)], tf.TensorSpec([], tf.int32)])
    def bert_pack_inputs(self, segments, seq_length):  # TF-Hub's: word pieces to ids of any length
        ids = segments[0].merge_dims(-2, -1)[:, :seq_length - 2]
        ids, types = text.combine_segments([ids], start_of_sequence_id=2, end_of_segment_id=3)
        word_ids, mask = text.pad_model_inputs(ids, seq_length)
        type_ids, _ = text.pad_model_inputs(types, seq_length)
        return {"input_word_ids": tf.cast(word_ids, tf.int32), "input_mask": tf.cast(mask, tf.int32),
                "input_type_ids": tf.cast(type_ids, tf.int32)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def __call__(self, texts):
        return self.bert_pack_inputs([self.tokenize(texts)], tf.constant(SEQ))


class Encoder(tf.Module):  # as a Keras-saved BERT: a dict of token ids and `training` in, pooled_output out
    def __init__(self):
        rng = np.random.default_rng(0)
        table = rng.normal(0, 0.3, (len(vocab), 8))
        for word in words:
            table[vocab.index(word), 0] += 2.0 if word in topics else -2.0
        self.embeddings = tf.Variable(table.astype("float32"))

    @tf.function
    def __call__(self, inputs, training=False):
        sequence = tf.gather(self.embeddings, inputs["input_word_ids"])
        if training:
            sequence = tf.nn.dropout(sequence, 0.5)
        mask = tf.cast(inputs["input_mask"], tf.float32)[..., None]
        pooled = tf.reduce_sum(sequence * mask, 1) / tf.reduce_sum(mask, 1)
        return {"pooled_output": pooled, "default": pooled, "sequence_output": sequence}


ids = {k: tf.TensorSpec([None, None], tf.int32) for k in ("input_mask", "input_type_ids", "input_word_ids")}
encoder = Encoder()
for training in (True, False):
    encoder.__call__.get_concrete_function(ids, training=training)
tf.saved_model.save(Preprocessor(), out + "/preprocess")
tf.saved_model.save(encoder, out + "/encoder")
'''.replace("SEQ", str(_SEQ))


@pytest.fixture(scope="module")
def bert_style(tmp_path_factory) -> Path:
    """A folder with `preprocess/` (TensorFlow Text's BertTokenizer) and `encoder/` (embeddings whose first
    axis tells the topics apart), made in a process of their own: tfxfer must import TensorFlow Text itself."""
    import importlib.util

    if importlib.util.find_spec("tensorflow_text") is None:
        pytest.skip("tensorflow-text is not installed (scripts/test.sh installs the one of this TensorFlow)")
    out = tmp_path_factory.mktemp("bert_style")
    words = sorted({w for text, _ in labeled_topic_rows() for w in text.split()})
    made = subprocess.run([sys.executable, "-c", _MAKE, str(out), " ".join(words), *TOPIC_WORDS["animals"]],
                          capture_output=True, text=True, timeout=300, check=False)
    assert made.returncode == 0, made.stderr[-2000:]
    return out


def test_an_encoder_with_its_preprocessing_model_is_a_text_module_exported_whole(bert_style, labeled_tsv, tmp_path):
    # TF-Hub's BERT-family encoders take token ids: they were refused, with only the advice to use another module.
    from tfxfer import fit_head

    encoder, preprocess = bert_style / "encoder", bert_style / "preprocess"
    module = load_features(encoder, preprocessor=preprocess)
    assert (module.kind, module.output_dim, module.preprocessor) == ("text", 8, str(preprocess))
    assert module.op_library == "tensorflow_text"
    vocab = len((bert_style / "vocab.txt").read_text().split())
    assert [v.shape for v in module.trainable_variables] == [(vocab, 8)]  # the encoder's, not the tokenizer's
    # Inference mode: the same text gives the same features (the encoder's dropout stays off).
    texts = tf.constant(["the cat and a dog", "the car and a bus"])
    first = module(texts).numpy()
    assert np.array_equal(first, module(texts).numpy()) and first[0, 0] > first[1, 0] + 0.5
    # Each batch is packed as long as its longest text needs (16, 32 or the model's 48 tokens here): the encoder
    # masks padding out, so the features are those of the full packing, for a fraction of the encoder's work.
    tokenize, _ = module.token_ids
    assert [tokenize(tf.constant(batch))["input_word_ids"].shape[1] for batch in
            (["the cat"], ["the cat and a dog " * 4], ["the cat", "the cat and a dog " * 20])] == [16, 32, _SEQ]
    full = module.obj.encoder(module.obj.preprocessor(texts), training=False)["default"]
    np.testing.assert_allclose(first, full.numpy(), rtol=1e-6)
    # As a Keras layer, whose config names both models.
    from tfxfer.features.layer import FeatureLayer

    layer = FeatureLayer.from_config(FeatureLayer(module).get_config())
    assert layer.module.preprocessor == str(preprocess) and np.allclose(layer(texts), first)
    # Without the lexical columns, what the head learns is the encoder's.
    fitted = fit_head(module, labeled_tsv, lexical=False, export_dir=tmp_path / "export", name="topics")
    assert fitted.report["cross_validation"]["accuracy_mean"] >= 0.9, fitted.report["cross_validation"]
    report = json.loads((tmp_path / "export" / "topics" / "reports" / "1" / "report.json").read_text())
    assert report["feature_module"]["preprocessor"] == str(preprocess)
    assert f"Features: {encoder} (8-d text features, texts made into token ids by {preprocess})" \
        in (tmp_path / "export" / "topics" / "reports" / "1" / "report.txt").read_text()
    assert any("texts are made into them by" in n for n in report["data"]["notes"])
    assert not any("longer than the" in n for n in report["data"]["notes"])  # 5 tokens each
    # The export holds both models: raw strings in, in a process with TensorFlow and TensorFlow Text only,
    # the two models' folders gone; its TPU function takes token ids (checked with lexical columns below).
    moved, served = tmp_path / "moved", ["the goat and a sheep", "the tram and a van"]
    shutil.move(str(bert_style), moved)
    try:
        out = _check_on_tpu(tmp_path / "export" / "topics" / "1", served, np.zeros((2, 0)))
    finally:
        shutil.move(str(moved), bert_style)
    assert out["classes"] == ["animals", "vehicles"]
    np.testing.assert_allclose(out["served"], fitted.classifier.predict_proba(fitted.features(served).features),
                               atol=1e-5)


def test_a_tfhub_encoder_handle_brings_its_preprocessing_model(bert_style, tmp_path, monkeypatch):
    # The handle alone, as TF-Hub's pages give it: its preprocessing model is TF-Hub's pairing, loaded through
    # the same cache (here a copy under sha1(handle), as tensorflow_hub keeps downloads: no network).
    encoder = "https://tfhub.dev/tensorflow/small_bert/bert_en_uncased_L-2_H-128_A-2/1"
    for handle, folder in ((encoder, "encoder"), (UNCASED, "preprocess")):
        shutil.copytree(bert_style / folder, tmp_path / "hub" / hashlib.sha1(handle.encode()).hexdigest())
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "hub"))
    module = load_features(encoder)
    assert module.preprocessor == UNCASED and module.output_dim == 8
    assert f"the module takes token ids: texts are made into them by {UNCASED}, in the export too." in module.notes


def test_encoders_and_preprocessing_models_given_wrongly_get_errors_that_say_what_to_pass(bert_style, text_module,
                                                                                         labeled_tsv, tmp_path):
    encoder, preprocess = bert_style / "encoder", bert_style / "preprocess"
    # An encoder whose name does not tell its preprocessing model.
    with pytest.raises(DataError, match=r"takes token ids \(input_mask, input_type_ids, input_word_ids\), as "
                                        r"BERT-style encoders do, .* Pass that model too: --preprocessor HANDLE "
                                        r"\(preprocessor=\), e\.g\. https://tfhub\.dev/tensorflow/bert_en_uncased"):
        load_features(encoder)
    # The preprocessing model given as the feature module: it was "returns several outputs".
    line = cli_error(["fit-head", "--features", preprocess, "--train", labeled_tsv, "--out", tmp_path / "export"])
    assert line == (f"Error: {str(preprocess)!r} is a preprocessing model: it makes token ids for a BERT-style "
                    f"encoder, not features. Pass the encoder as the feature module and this as its preprocessor: "
                    f"--features ENCODER --preprocessor {preprocess} (features=ENCODER, preprocessor=...).")
    assert not (tmp_path / "export").exists()
    # Each in the other's place; a preprocessor for a module that reads text itself.
    with pytest.raises(DataError, match="does not take strings .batch.: it is not a preprocessing model"):
        load_features(encoder, preprocessor=encoder)
    with pytest.raises(ConfigError, match="`preprocessor` is for encoders that take token ids; .* takes raw input"):
        load_features(text_module, preprocessor=preprocess)

    class OtherIds(tf.Module):  # another family's preprocessing model: other inputs
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def __call__(self, texts):
            return {"token_ids": tf.zeros([tf.shape(texts)[0], 8], tf.int32)}

    class OtherVocabulary(tf.Module):  # the same inputs, from a vocabulary larger than the encoder's
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def __call__(self, texts):
            ids = tf.where(tf.strings.length(texts)[:, None] > 3, 50_000, 5) * tf.ones([tf.shape(texts)[0], 8], tf.int32)
            return {"input_word_ids": ids, "input_mask": tf.ones_like(ids), "input_type_ids": tf.zeros_like(ids)}

    tf.saved_model.save(OtherVocabulary(), str(tmp_path / "vocabulary"))
    line = cli_error(["fit-head", "--features", encoder, "--preprocessor", tmp_path / "vocabulary", "--train",
                      labeled_tsv, "--out", tmp_path / "export"])  # it was a traceback of the encoder's Gather
    assert line.startswith(f"Error: The text module {str(encoder)!r} failed on the texts: indices[0,0] = 50000 is "
                           f"not in [0, ") and line.endswith(
        f"Its preprocessing model, {tmp_path / 'vocabulary'}, makes token ids the encoder does not have: it is "
        "another model's (another vocabulary). Pass the one the encoder's page names with --preprocessor "
        "(preprocessor=)."), line
    assert not (tmp_path / "export").exists()
    tf.saved_model.save(OtherIds(), str(tmp_path / "other"))
    with pytest.raises(DataError, match=r"makes \['token_ids'\], but .* takes \['input_mask', 'input_type_ids', "
                                        r"'input_word_ids'\]: it is not this encoder's"):
        load_features(encoder, preprocessor=tmp_path / "other")


def test_texts_longer_than_the_encoder_reads_are_counted_in_a_note(bert_style):
    # TF-Hub's preprocessing models pack 128 tokens (this one 16) and drop the rest without a word: a head on
    # reviews of 300 words learns from their first sentences alone.
    module = load_features(bert_style / "encoder", preprocessor=bert_style / "preprocess")
    short = [text for text, _ in labeled_topic_rows(per_class=10)]
    long = ["the cat and a dog " * 10, "the bus and a car " * 12]
    assert truncated_texts_note(short, module.obj) is None
    assert truncated_texts_note(short + long, module.obj) == (
        f"2 of 22 training texts (9%) are longer than the {_SEQ - 2} tokens the preprocessing model packs for the "
        f"encoder (with [CLS] and [SEP], {_SEQ}): it reads their beginning alone (the longest holds 60).")
    assert truncated_texts_note(short + long, load_features(bert_style / "encoder", preprocessor=bert_style /
                                                             "preprocess").obj.encoder) is None


CHECK_ENCODER_ON_TPU = """
    import tensorflow_text  # the preprocessing model's ops
""" + ALIASED + """
    args = [a.type for f in aliased for a in list(library[f].signature.input_arg) + list(library[f].signature.output_arg)]
    m = tf.saved_model.load({path!r})
    texts = tf.constant({texts!r})
    ids = {{k: v for k, v in m.feature_module.preprocessor(texts).items() if k != "unused"}}
    lexical = tf.constant({lexical!r}, tf.float32, shape=[len({texts!r}), {width}])
    compiled = tf.function(m.tpu_func, jit_compile=True)(ids, lexical)
    served = m.signatures["serving_default"](text=texts)
    print(json.dumps({{"aliased": len(aliased), "arg_types": sorted({{tf.dtypes.as_dtype(t).name for t in args}}),
                      "compiled": compiled["scores"].numpy().tolist(), "served": served["scores"].numpy().tolist(),
                      "classes": [c.decode() for c in served["classes"].numpy().tolist()]}}))
"""


def _check_on_tpu(path, texts, columns) -> dict:
    """`CHECK_ENCODER_ON_TPU` of the export at `path`, in a process without tfxfer; `columns` the texts'
    lexical columns, `[len(texts), 0]` for none."""
    from tests.conftest import run_without_tfxfer

    out = run_without_tfxfer(CHECK_ENCODER_ON_TPU.format(path=str(path), texts=texts,
                                                         lexical=columns.ravel().tolist(), width=columns.shape[1]))
    assert out["aliased"] == 1 and out["arg_types"] == ["float32", "int32", "resource"], out  # ids in, no strings
    np.testing.assert_allclose(out["compiled"], out["served"], atol=1e-5)  # XLA compiles it to the same scores
    return out


def test_the_encoder_runs_in_the_exports_tpu_function_from_token_ids(bert_style, labeled_tsv, tmp_path):
    # TPU serving places `tpu_func` on the TPU and runs string ops on the host. It took the feature vectors, as
    # a text model's vectors are cheap: a BERT-style encoder, the model's compute, ran on the host's CPU.
    # Here with the word and n-gram columns beside the encoder's vectors (without them: the test above).
    from tfxfer import fit_head

    fitted = fit_head(bert_style / "encoder", labeled_tsv, preprocessor=bert_style / "preprocess", lexical=True)
    path = fitted.export(tmp_path / "export", "topics")
    texts = ["the goat and a sheep", "the tram and a van", "nothing known here"]
    features = fitted.features(texts).features
    columns = features.toarray()[:, 8:]
    assert columns.shape[1] > 0
    out = _check_on_tpu(path, texts, columns)
    np.testing.assert_allclose(out["served"], fitted.classifier.predict_proba(features), atol=1e-5)
