"""Where feature modules come from besides a SavedModel folder: archives, Keras files, remote folders,
TF1 Hub modules and word-vector files of other tools (TF-Hub handles: test_hub.py)."""

import gzip
import io
import json
import pickle
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from tests.conftest import run_without_tfxfer, save_tf1_hub_module
from tfxfer.cli import main
from tfxfer.errors import DataError
from tfxfer.features.load import load_features

# These tests check other things than the learning curve: one subsample per size (conftest).
pytestmark = pytest.mark.usefixtures("one_curve_draw")




def test_tar_gz_and_zip_archives_are_modules(tiny_image_module, tmp_path, monkeypatch):
    monkeypatch.setenv("TFXFER_CACHE_DIR", str(tmp_path / "cache"))
    archive = tmp_path / "tiny.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tiny_image_module, arcname="tiny")
    assert load_features(archive).output_dim == 11
    # A .zip too, as a folder leaves Google Drive, Colab or Windows; a name leading out stays inside.
    import shutil
    import zipfile

    zipped = shutil.make_archive(str(tmp_path / "tiny"), "zip", tiny_image_module.parent, tiny_image_module.name)
    with zipfile.ZipFile(zipped, "a") as z:
        z.writestr("../escaped.txt", "bad")
    assert load_features(zipped).output_dim == 11 and not list(tmp_path.rglob("escaped.txt"))


@pytest.mark.parametrize("filters", [True, False])
def test_module_archives_extract_with_or_without_tarfile_filters(filters, tiny_image_module, tmp_path, monkeypatch):
    # Debian 12's python3 is 3.11.2, whose extractall has no `filter` (added in 3.10.12 / 3.11.4): a .tar.gz
    # module was a TypeError traceback there. Such a Python is stood in for by its extractall's signature.
    monkeypatch.setenv("TFXFER_CACHE_DIR", str(tmp_path / "cache"))
    if not filters:
        extractall = tarfile.TarFile.extractall
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
        monkeypatch.setattr(tarfile.TarFile, "extractall", lambda self, path=".", members=None, *, numeric_owner=False:
                            extractall(self, path, members, numeric_owner=numeric_owner))
    archive = tmp_path / "tiny.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tiny_image_module, arcname="tiny")
    assert load_features(archive).output_dim == 11
    # A member that leads outside the folder it is extracted to is refused either way, and not written.
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        tar.add(tiny_image_module, arcname="tiny")
        info = tarfile.TarInfo("tiny/../../escaped.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    with pytest.raises(DataError, match="escaped.txt"):
        load_features(evil)
    assert not list(tmp_path.rglob("escaped.txt"))






def test_word_vectors_files_are_text_modules(tmp_path, monkeypatch):
    # GloVe (no header), fastText .vec (COUNT DIM header), gzipped, word2vec .bin: gensim reads them,
    # once, into a cached text module; its words lowercased, the file's first casing kept.
    from gensim.models import KeyedVectors

    from tests.conftest import TOPIC_WORDS, labeled_topic_rows, run_cli
    from tfxfer.fitting import fit_head

    monkeypatch.setenv("TFXFER_CACHE_DIR", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    # `Café` written decomposed (NFD), as on a Mac: the tokenizer composes texts, so the word is composed too.
    words = ["The", "the", "and", "a"] + [w for _, ws in sorted(TOPIC_WORDS.items()) for w in ws] + ["Cafe\u0301"]
    vectors = rng.normal(0, 0.3, (len(words), 6)).astype("float32")
    vectors[4:10, 0] += 2.0  # animals
    vectors[10:, 0] -= 2.0  # vehicles
    glove = tmp_path / "glove.6B.6d.txt"
    lines = [f"{w} {' '.join(f'{x:.6f}' for x in v)}\n" for w, v in zip(words, vectors)]
    # glove.840B.300d.txt has words that hold spaces ('. . .', 'at name@domain.com'), at which gensim's reader
    # stopped ("could not convert string to float"): they are skipped, as no token holds a space.
    glove.write_text("".join(lines[:3]) + ". \u00a0. \u00a0. " + " ".join(["0.5"] * 6) + "\n" + "".join(lines[3:])
                     + "at name@domain.com " + " ".join(["0.5"] * 6) + "\n")
    kv = KeyedVectors(6)
    kv.add_vectors(words, vectors)
    kv.save_word2vec_format(str(tmp_path / "crawl.vec"))
    kv.save_word2vec_format(str(tmp_path / "news.bin"), binary=True)
    with gzip.open(tmp_path / "glove.txt.gz", "wt") as f:
        f.write(glove.read_text())
    expected = (vectors[0] + vectors[words.index("cow")]) / 2  # "the" is the file's first "The"
    # As they are downloaded: GoogleNews-vectors-negative300.bin.gz; glove.840B.300d.zip holds one file,
    # glove.6B.zip four (which one is the user's choice). Each was "neither a SavedModel archive nor word vectors".
    (tmp_path / "news.bin.gz").write_bytes(gzip.compress((tmp_path / "news.bin").read_bytes()))
    import zipfile

    with zipfile.ZipFile(tmp_path / "glove.840B.6d.zip", "w") as zipped:
        zipped.write(glove, "glove.840B.6d.txt")
    with zipfile.ZipFile(tmp_path / "glove.6B.zip", "w") as zipped:
        for dim in (6, 12):
            zipped.write(glove, f"glove.6B.{dim}d.txt")
    with pytest.raises(DataError, match=r"glove.6B.zip' holds 2 files of word vectors \(glove.6B.6d.txt, "
                                        r"glove.6B.12d.txt\): extract the one to use \(unzip .*glove.6B.zip "
                                        r"glove.6B.6d.txt\) and pass it\."):
        load_features(tmp_path / "glove.6B.zip")
    for path in (glove, tmp_path / "crawl.vec", tmp_path / "news.bin", tmp_path / "glove.txt.gz",
                 tmp_path / "news.bin.gz", tmp_path / "glove.840B.6d.zip"):
        module = load_features(path)
        assert module.kind == "text" and module.output_dim == 6
        np.testing.assert_allclose(module.fn(tf.constant(["The COW", "café"])).numpy(), [expected, vectors[-1]],
                                   atol=1e-5)
        assert module.notes[0].startswith(f"a text module made from the word vectors of {path}: 16 lowercased words")
    made = load_features(glove).path  # from the cache: not made again
    stamp = (made / "saved_model.pb").stat().st_mtime_ns
    assert load_features(glove).path == made and (made / "saved_model.pb").stat().st_mtime_ns == stamp
    assert made.parent == tmp_path / "cache" / "modules"
    train = tmp_path / "train.tsv"
    train.write_text("text\tlabel\n" + "".join(f"{t}\t{l}\n" for t, l in labeled_topic_rows()))
    fitted = fit_head(glove, train, head="linear")
    assert fitted.report["cross_validation"]["accuracy_mean"] == 1.0
    # On the command line the slow step is told as news, not as a warning, and the module's note as a note.
    (made.parent / made.name).rename(made.parent / "moved")
    result = run_cli(["embed", train, "-f", glove, "-o", tmp_path / "g.npz"])
    assert result.exit_code == 0 and "Warning" not in result.output, result.output
    assert result.output.startswith(f"Making a text feature module of the word vectors in {glove} (once; it is "
                                    f"cached).\nNote: a text module made from the word vectors of {glove}: 16 ")
    assert fitted.predict(["a bus and a tram"])[0][0] == "vehicles"
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cow and the bus\nthe cat\n")
    with pytest.raises(DataError, match="corpus.txt' is a file, but neither a SavedModel archive nor word vectors"):
        load_features(corpus)
    # Models of other frameworks: said so, not read as word2vec's binary format ("is the file whole?").
    import zipfile

    with zipfile.ZipFile(tmp_path / "pytorch_model.bin", "w") as zipped:
        zipped.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    with pytest.raises(DataError, match=r"pytorch_model.bin' is a file, but neither a SavedModel archive nor word "
                                        r"vectors \(\.bin models of other frameworks, and TFLite's, are not read\)"):
        load_features(tmp_path / "pytorch_model.bin")
    with pytest.raises(DataError, match=r"'sentence-transformers/all-MiniLM-L6-v2' not found \(a Hugging Face model "
                                        r"id\? Its PyTorch models are not read\)"):
        load_features("sentence-transformers/all-MiniLM-L6-v2")
    # `similar` and `evaluate-embeddings` read such files too, to compare them with pretrain-text's.
    from tfxfer.text.vectors import WordVectors

    loaded = WordVectors.load(tmp_path / "news.bin")
    assert len(loaded) == 16 and "the" in loaded and "The" not in loaded.words and "café" in loaded
    # Without TensorFlow, whose start-up lines `similar` and `evaluate-embeddings` do not hide.
    code = ("import sys; from tfxfer.text.vectors import WordVectors; "
            f"print(len(WordVectors.load({str(glove)!r})), 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ["16", "False"], out.stderr
    result = CliRunner().invoke(main, ["similar", str(glove), "Cow", "CAFE\u0301", "--topn", "3"])
    assert result.exit_code == 0 and "CAFE\u0301: " in result.output and "Warning" not in result.output, result.output
    assert set(result.output.splitlines()[0].split(":")[1].replace(",", " ").split()[::2]) <= set(TOPIC_WORDS["animals"])
    cut = tmp_path / "cut.txt"  # a download that stopped mid-line
    cut.write_text(glove.read_text()[:400])
    with pytest.raises(DataError, match=r"Cannot read the word vectors of .*cut.txt' \(.*\): is the file whole\?"):
        load_features(cut)
    assert not [p for p in (tmp_path / "cache" / "modules").iterdir() if "tmp" in p.name]  # nothing half made


def test_vectors_saved_by_gensim_are_text_modules(tmp_path, monkeypatch):
    # gensim.downloader's files (~/gensim-data/NAME/NAME.gz: text, or binary for word2vec-google-news-300) and
    # what gensim's save writes (model.save('w2v.model'), model.wv.save('vectors.kv'): pickles, with .npy files
    # beside them when large) had been "neither a SavedModel archive nor word vectors".
    from gensim.models import Word2Vec

    from tests.conftest import topic_sentences
    from tfxfer.text.vectors import WordVectors

    monkeypatch.setenv("TFXFER_CACHE_DIR", str(tmp_path / "cache"))
    model = Word2Vec([s.split() for s in topic_sentences(300)], vector_size=8, min_count=2, epochs=2, seed=1,
                     workers=1)
    model.save(str(tmp_path / "w2v.model"), sep_limit=0)  # its arrays in .npy files beside it, as large ones
    model.wv.save(str(tmp_path / "vectors.kv"))
    model.wv.save_word2vec_format(str(tmp_path / "w2v.txt"))
    model.wv.save_word2vec_format(str(tmp_path / "w2v.bin"), binary=True)
    for name, source in (("glove-wiki-gigaword-8.gz", "w2v.txt"), ("word2vec-google-news-8.gz", "w2v.bin")):
        (tmp_path / name).write_bytes(gzip.compress((tmp_path / source).read_bytes()))
    for name in ("w2v.model", "vectors.kv", "glove-wiki-gigaword-8.gz", "word2vec-google-news-8.gz"):
        module = load_features(tmp_path / name)
        np.testing.assert_allclose(module.fn(tf.constant(["cow"])).numpy()[0], model.wv["cow"], atol=1e-5,
                                   err_msg=name)
        assert "cow" in WordVectors.load(tmp_path / name)
    (tmp_path / "not-vectors.model").write_bytes(pickle.dumps({"a": 1}, protocol=4))
    with pytest.raises(DataError, match=r"Cannot read .*not-vectors.model' as vectors saved by gensim \("):
        load_features(tmp_path / "not-vectors.model")
    (tmp_path / "copied").mkdir()  # without the arrays beside it
    (tmp_path / "copied" / "w2v.model").write_bytes((tmp_path / "w2v.model").read_bytes())
    with pytest.raises(DataError, match=r"w2v.model' as vectors saved by gensim \(.*\)\. Pass the file gensim's "
                                        r"save wrote, with the \.npy files it wrote beside it"):
        load_features(tmp_path / "copied" / "w2v.model")


def test_a_fasttext_model_bin_is_a_text_module(tmp_path, monkeypatch):
    # fasttext.cc's cc.en.300.bin and wiki.en.bin are fastText models, not word2vec's binary format: they
    # were "'utf-8' codec can't decode byte 0xba" (their magic number), "is the file whole?". gensim writes
    # one in fastText's format here.
    from gensim.models import FastText
    from gensim.models.fasttext import save_facebook_model

    from tests.conftest import topic_sentences
    from tfxfer.text.vectors import WordVectors

    monkeypatch.setenv("TFXFER_CACHE_DIR", str(tmp_path / "cache"))
    model = FastText([s.split() for s in topic_sentences(300)], vector_size=8, min_count=2, epochs=2, seed=1,
                     bucket=1000, workers=1)
    path = tmp_path / "cc.xx.8.bin"
    save_facebook_model(model, str(path))
    module = load_features(path)
    assert module.kind == "text" and module.output_dim == 8
    np.testing.assert_allclose(module.fn(tf.constant(["cow"])).numpy()[0], model.wv["cow"], atol=1e-5)
    assert module.notes[0].startswith(f"a text module made from the word vectors of {path}: ")
    assert module.notes[0].endswith("The fastText model's subword vectors, which it gives words outside its "
                                    "vocabulary, are not used: the module knows its words alone.")
    assert "cow" in WordVectors.load(path)  # for similar and evaluate-embeddings too
    (tmp_path / "cc.xx.8.bin.gz").write_bytes(gzip.compress(path.read_bytes()))  # as fasttext.cc serves them
    np.testing.assert_allclose(load_features(tmp_path / "cc.xx.8.bin.gz").fn(tf.constant(["cow"])).numpy()[0],
                               model.wv["cow"], atol=1e-5)
    # A classifier's (`fasttext supervised`, __label__ words in its vocabulary) gensim does not read: one Error.
    # The dictionary's count of labels follows the magic number, the version, 12 int32 arguments and a double.
    unsupervised, labels_at = path.read_bytes(), 4 + 4 + 12 * 4 + 8 + 8
    assert unsupervised[labels_at:labels_at + 4] == bytes(4)
    (tmp_path / "classifier.bin").write_bytes(unsupervised[:labels_at] + (2).to_bytes(4, "little")
                                             + unsupervised[labels_at + 4:])
    with pytest.raises(DataError, match=r"classifier.bin' is a supervised fastText model .*Pass an unsupervised"):
        load_features(tmp_path / "classifier.bin")


def test_a_fasttext_models_words_are_read_without_reading_its_whole_matrix(tmp_path):
    # gensim's load_facebook_vectors reads the whole matrix, words and n-gram buckets (cc.en.300.bin: 4.8 GB),
    # and computes every word's vector besides; tfxfer keeps 200,000 words. Here 500,000 buckets of 50: 100 MB.
    from gensim.models import FastText
    from gensim.models.fasttext import save_facebook_model

    from tests.conftest import memory_growth_kb, topic_sentences

    model = FastText([s.split() for s in topic_sentences(300)], vector_size=50, min_count=2, epochs=1, seed=1,
                     bucket=500_000, workers=1)
    path = tmp_path / "big.bin"
    save_facebook_model(model, str(path))
    assert path.stat().st_size > 100e6
    grown = memory_growth_kb(
        "from tfxfer.text.external import read_vectors\nfrom gensim.models import _fasttext_bin\n"
        "from gensim.models.fasttext import ft_ngram_hashes",
        f"words, vectors, _ = read_vectors({str(path)!r}, 10)\nassert vectors.shape == (len(words), 50) and words")
    assert grown < 30_000, f"{grown:,} KB"


def test_similar_reads_the_vectors_inside_a_text_module_or_an_export(text_module, labeled_tsv, tiny_image_module,
                                                                      tmp_path):
    # Users pass the directory they give fit-head or serve; the vectors are those inside it, exactly.
    from tests.conftest import TOPIC_WORDS, cli_error, run_cli
    from tfxfer.text.vectors import WordVectors

    result = run_cli(["fit-head", "--features", text_module, "--train", labeled_tsv, "--out", tmp_path / "export",
                      "--name", "topics", "--head", "linear"])
    assert result.exit_code == 0, result.output
    expected = tf.train.load_checkpoint(str(text_module / "variables" / "variables"))
    expected = expected.get_tensor("module/embeddings/.ATTRIBUTES/VARIABLE_VALUE")
    for path in (text_module, tmp_path / "export", tmp_path / "export" / "topics" / "1"):
        result = run_cli(["similar", path, "cow", "--topn", "5", "--json"])
        assert result.exit_code == 0, result.output
        assert {word for word, _ in json.loads(result.output)["cow"]} == set(TOPIC_WORDS["animals"]) - {"cow"}
    loaded = WordVectors.load(text_module)
    assert loaded.words[:3] == ["the", "a", "cat"] and np.array_equal(loaded.vectors, expected)
    line = cli_error(["similar", tiny_image_module, "cow"])
    fix = ("is a SavedModel without word vectors tfxfer can read (an image module, or a text module made by "
           "another tool, such as TF-Hub's nnlm). Pass a module of `tfxfer pretrain-text` or one made from word "
           "vectors, an export fitted on one, the --out directory of `tfxfer pretrain-text` or a word-vector file "
           "(GloVe, fastText .vec, word2vec).")
    assert line == f"Error: {str(tiny_image_module)!r} {fix}"
    # A text module of another tool (until stop 68 called "an image module?").
    assert cli_error(["similar", save_tf1_hub_module(tmp_path / "tf1", "text"), "cow"]).endswith(fix)


@pytest.mark.parametrize("kind", ["image", "text"])
def test_a_module_in_tf1_hub_format_is_fitted_on_and_exported(kind, image_folder, labeled_tsv, tmp_path):
    # The /1 - /3 handles of many tfhub.dev modules (inception_v3/feature_vector/1, nnlm-en-dim128/1) are in
    # this format; they were an Error that blamed damaged files (a tags= argument was needed), then
    # "not callable" (they answer through their "default" signature).
    from tfxfer.fitting import fit_head

    spec = save_tf1_hub_module(tmp_path / "module", kind)
    module = load_features(spec)
    assert (module.kind, module.output_dim) == (kind, 6 if kind == "image" else 4)
    fitted = fit_head(spec, image_folder if kind == "image" else labeled_tsv)
    assert fitted.report["cross_validation"]["accuracy_mean"] == 1.0
    path = fitted.export(tmp_path / "export", name="m", version=1)
    if kind == "image":
        inputs = sorted(str(f) for f in image_folder.glob("*/*.png"))[::2]
        call = "image_bytes=tf.constant([open(f, 'rb').read() for f in inputs])"
    else:
        inputs = ["the dog and a sheep", "a bus and the tram"]
        call = "text=tf.constant(inputs)"
    out = run_without_tfxfer(f"""
        inputs = {inputs!r}
        m = tf.saved_model.load({str(path)!r})
        print(json.dumps([c.decode() for c in m.signatures["serving_default"]({call})["classes"].numpy()]))
    """)
    assert out == [label for label, _ in fitted.predict(inputs)] and len(set(out)) > 1


def test_a_tf1_saved_model_with_several_graphs_is_loaded_by_its_serving_graph(tmp_path):
    # An Estimator's export holds graphs tagged "serve", "train" (and "eval"); `tf.saved_model.load` asks which.
    module = load_features(save_tf1_hub_module(tmp_path / "estimator", "image", hub=False))
    assert (module.kind, module.output_dim) == ("image", 6)
    np.testing.assert_allclose(module(tf.fill([1, 16, 16, 3], 0.5)), [[0.5] * 6])


def test_a_saved_model_written_as_text_is_a_module_too(image_folder, tmp_path):
    # TF1's builder.save(as_text=True) writes saved_model.pbtxt, which TensorFlow and TF-Hub load: it was
    # "not a SavedModel directory (no saved_model.pb)", in a folder and in an archive.
    from tfxfer.fitting import fit_head

    spec = save_tf1_hub_module(tmp_path / "as_text", "image", hub=False, as_text=True)
    assert (spec / "saved_model.pbtxt").is_file() and not (spec / "saved_model.pb").exists()
    module = load_features(spec)
    np.testing.assert_allclose(module(tf.fill([1, 16, 16, 3], 0.5)), [[0.5] * 6])
    with tarfile.open(tmp_path / "as_text.tar.gz", "w:gz") as tar:
        tar.add(spec, arcname="as_text")
    assert load_features(tmp_path / "as_text.tar.gz").identity == module.identity
    assert fit_head(spec, image_folder).report["cross_validation"]["accuracy_mean"] == 1.0
    with pytest.raises(DataError, match=r"It holds .*as_text: pass that"):
        load_features(tmp_path)  # the folder above it


def test_a_module_in_a_remote_folder_is_copied_once_into_the_cache(tmp_path, monkeypatch, caplog):
    # gs:// folders (Vertex AI keeps models there; tfhub.dev answers with one under
    # TFHUB_MODEL_LOAD_FORMAT=UNCOMPRESSED) were passed to tensorflow_hub and then read as local
    # paths ("gs:/..."). TensorFlow's in-memory file system stands in for GCS here: the same tf.io.gfile calls.
    import logging

    import tensorflow_hub as hub

    from tfxfer import config

    monkeypatch.setenv("TFXFER_CACHE_DIR", str(tmp_path / "cache"))

    def upload(local, remote):
        for folder, _, files in tf.io.gfile.walk(str(local)):
            tf.io.gfile.makedirs(remote + folder[len(str(local)):])
            for name in files:
                tf.io.gfile.copy(f"{folder}/{name}", f"{remote}{folder[len(str(local)):]}/{name}", overwrite=True)

    remote = f"ram://bucket-{tmp_path.name}/module"
    upload(save_tf1_hub_module(tmp_path / "image", "image"), remote)
    with caplog.at_level(logging.INFO, logger=config.PROGRESS_LOG):
        first = load_features(remote)
        again = load_features(remote + "/")
    assert first.kind == "image" and first.output_dim == 6 and again.path == first.path
    assert str(first.path).startswith(str(tmp_path / "cache" / "modules"))
    assert [r.getMessage() for r in caplog.records if "Copying" in r.getMessage()] == [
        f"Copying the module at {remote} into the module cache (once)."]
    from tfxfer.cache_dir import cache_usage

    (copied,) = [e for e in cache_usage().entries if e.part == "modules"]
    assert copied.source == remote and not copied.gone  # listed, and not cleared as made from what is gone
    tf.io.gfile.rmtree(remote)  # replaced by another model: copied again
    upload(save_tf1_hub_module(tmp_path / "text", "text"), remote)
    assert load_features(remote).kind == "text"
    monkeypatch.setattr(hub, "resolve", lambda handle: remote)  # tfhub.dev's answer under UNCOMPRESSED
    assert load_features("https://tfhub.dev/tfxfer-tests/text/1").kind == "text"
    with pytest.raises(DataError, match="'ram://nowhere/module' not found: no saved_model.pb there"):
        load_features("ram://nowhere/module")
    with pytest.raises(DataError, match="Cannot read the feature module 'nofs://x': File system scheme 'nofs' not"):
        load_features("nofs://x")


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

