"""Where feature modules come from besides a SavedModel folder: archives, remote folders,
TF1 Hub modules and word-vector files of other tools (TF-Hub handles: test_hub.py; Keras files:
test_keras_files.py)."""

import gzip
import io
import json
import pickle
import subprocess
import sys
import tarfile

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

