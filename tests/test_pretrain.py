import dataclasses
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner
from gensim.models import KeyedVectors

from tests.conftest import ANIMALS, VEHICLES, cli_error
from tfxfer import config, pretrain_text
from tfxfer.cli import main
from tfxfer.errors import ConfigError, DataError
from tfxfer.text.pretrain import auto_epochs, effective_batch_size
from tfxfer.text.vectors import WordVectors

FAST = config.PretrainConfig(dim=16, window=3, epochs=6, batch_size=128, noise_group=64, min_count=1, sample=0,
                             learning_rate=0.025)
FAST_ARGS = ["--dim", "16", "--window", "3", "--epochs", "6", "--batch-size", "128", "--noise-group", "64",
             "--min-count", "1", "--sample", "0", "--learning-rate", "0.025"]
# Where only the plumbing is checked, one epoch.
ONE_EPOCH = [*FAST_ARGS, "--epochs", "1"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from tests.conftest import topic_sentences

    tmp = tmp_path_factory.mktemp("pretrain")
    corpus = tmp / "corpus.txt.gz"
    with gzip.open(corpus, "wt", encoding="utf-8") as f:
        f.write("\n".join(topic_sentences()) + "\n")
    out = tmp / "vectors"
    vectors = pretrain_text(corpus, out, FAST)
    return out, vectors


def test_related_words_end_up_together(trained):
    _, vectors = trained
    for group, other in ((ANIMALS, VEHICLES), (VEHICLES, ANIMALS)):
        for word in group:
            top = [w for w, _ in vectors.most_similar(word, topn=len(group) - 1)]
            assert len(set(top) & set(group)) >= len(group) - 2, (word, top)
            assert not set(top[:2]) & set(other)


def test_learning_rate_schedule_spans_the_steps_run(trained):
    out, _ = trained
    training = json.loads((out / "config.json").read_text())["training"]
    assert 0.85 < training["steps"] / training["scheduled_steps"] < 1.15, training
    assert training["epochs"] == FAST.epochs  # as asked, however small the corpus


def test_training_is_deterministic_for_a_seed(trained, topic_corpus, tmp_path):
    _, first = trained  # the same sentences, gzipped
    again = pretrain_text(topic_corpus, tmp_path / "again", FAST)
    np.testing.assert_array_equal(again.vectors, first.vectors)
    other = pretrain_text(topic_corpus, tmp_path / "other", dataclasses.replace(FAST, seed=2, epochs=1))
    assert not np.allclose(other.vectors, first.vectors)


def test_default_batch_shrinks_on_a_small_corpus(topic_corpus, tmp_path):
    # 2,048-word batches on 1,500 sentences of 20-odd words collapse the vectors.
    cfg = dataclasses.replace(FAST, batch_size=config.PRETRAIN.batch_size)
    vectors = pretrain_text(topic_corpus, tmp_path / "out", cfg)
    training = json.loads((tmp_path / "out" / "config.json").read_text())["training"]
    assert training["batch_size"] < cfg.batch_size and training["batch_size"] % cfg.noise_group == 0
    for word in ANIMALS:
        top = [w for w, _ in vectors.most_similar(word, topn=len(ANIMALS) - 1)]
        assert len(set(top) & set(ANIMALS)) >= len(ANIMALS) - 2, (word, top)
    assert effective_batch_size(1e9, cfg) == cfg.batch_size  # large corpora keep theirs


def test_small_corpora_get_more_epochs_unless_asked(topic_corpus, tmp_path):
    assert auto_epochs(10_000) == config.MIN_EPOCHS  # large corpora: word2vec's 5
    assert auto_epochs(400) == 10 and auto_epochs(1) == config.MAX_AUTO_EPOCHS
    cfg = dataclasses.replace(FAST, epochs=None)
    pretrain_text(topic_corpus, tmp_path / "auto", cfg)
    run = json.loads((tmp_path / "auto" / "config.json").read_text())
    assert run["hyperparameters"]["epochs"] is None  # an --update decides afresh for its own text
    assert run["training"]["epochs"] > config.MIN_EPOCHS
    assert run["training"]["steps"] >= config.MIN_TOTAL_STEPS * 0.85
    # An update continues trained vectors: word2vec's 5 passes, however little the new text.
    more = tmp_path / "more.txt"
    more.write_text("the cat eats grass with the llama in the field\n" * 200)
    pretrain_text(more, tmp_path / "updated", cfg, update=tmp_path / "auto")
    assert json.loads((tmp_path / "updated" / "config.json").read_text())["training"]["epochs"] == config.MIN_EPOCHS


def test_outputs_load_in_gensim_and_projector(trained):
    out, vectors = trained
    kv = KeyedVectors.load_word2vec_format(str(out / "vectors.txt"))
    assert kv.index_to_key == vectors.words
    np.testing.assert_allclose(kv["cat"], vectors["cat"], atol=1e-5)
    vocab = (out / "vocab.tsv").read_text().splitlines()
    from tests.conftest import topic_sentences

    the = sum(s.lower().split().count("the") for s in topic_sentences())
    assert vocab[0] == "word\tcount" and vocab[1] == f"the\t{the}"
    meta = (out / "projector" / "metadata.tsv").read_text().splitlines()
    assert meta == vectors.words
    assert np.loadtxt(out / "projector" / "vectors.tsv").shape == (len(vectors), 16)
    from google.protobuf import text_format
    from tensorboard.plugins import projector

    config = text_format.Parse((out / "projector" / "projector_config.pbtxt").read_text(), projector.ProjectorConfig())
    (embedding,) = config.embeddings  # what `tensorboard --logdir OUT/projector` reads
    assert (embedding.tensor_path, embedding.metadata_path) == ("vectors.tsv", "metadata.tsv")
    run = json.loads((out / "config.json").read_text())
    assert run["hyperparameters"]["dim"] == 16 and run["corpus"]["lines"] == 1500
    assert run["tokenizer"]["name"].startswith("tfxfer-wordpunct")
    assert not list(out.parent.glob(".vectors*"))  # no temporary or partial leftovers
    reloaded = WordVectors.load(out)
    assert reloaded.words == vectors.words
    # From state.npz, to the bit: parsing vectors.txt took 58 s for a million words, and kept 6 digits.
    np.testing.assert_array_equal(reloaded.vectors, vectors.vectors)
    np.testing.assert_array_equal(reloaded.counts, vectors.counts)
    older = out.parent / "older"  # an output of a tfxfer before this: vectors.txt alone holds the vectors
    shutil.copytree(out, older)
    with np.load(older / "state.npz") as state:
        np.savez(older / "state.npz", context=state["context"], biases=state["biases"])
    np.testing.assert_allclose(WordVectors.load(older).vectors, vectors.vectors, rtol=1e-5, atol=1e-7)


def test_module_runs_without_tfxfer_in_a_fresh_process(trained):
    out, vectors = trained
    code = textwrap.dedent(f"""
        import json, sys
        import tensorflow as tf, tensorflow_hub as hub
        m = tf.saved_model.load({str(out / 'module')!r})
        direct = m(tf.constant(["The CAT eats", "zzz unknown", ""])).numpy()
        serve = m.signatures["serving_default"](text=tf.constant(["The CAT eats"]))["default"].numpy()
        h = hub.load({str(out / 'module')!r})
        assert len(h.trainable_variables) == 1
        assert not any(k.startswith("tfxfer") for k in sys.modules)
        print(json.dumps([direct.tolist(), serve.tolist()]))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/", timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    direct, serve = json.loads(result.stdout.strip().splitlines()[-1])
    expected = np.mean([vectors["the"], vectors["cat"], vectors["eats"]], axis=0)
    np.testing.assert_allclose(direct[0], expected, atol=1e-5)
    np.testing.assert_allclose(serve[0], expected, atol=1e-5)
    assert direct[1] == [0.0] * 16 and direct[2] == [0.0] * 16


def test_cli_pretrain_similar_and_evaluate(topic_corpus, tmp_path):
    out = tmp_path / "vecs"
    runner = CliRunner()
    args = ["pretrain-text", str(topic_corpus), "--out", str(out), *FAST_ARGS, "--binary", "--tensorboard", str(tmp_path / "tb")]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert re.search(r"Trained [\d,]+ word vectors of size 16 on [\d,]+ words \([\d,]+ lines\), 6 epochs, in ",
                     result.output) and (out / "module" / "saved_model.pb").is_file()
    # A few thousand sentences are too few words for vectors that help a head: said, with what to do.
    words = len(topic_corpus.read_text().split())
    assert f"Warning: The corpus holds {words:,} words: too little for word vectors to help a head." in result.stderr
    assert "fit-head --features glove.6B.100d.txt" in result.stderr
    binary = KeyedVectors.load_word2vec_format(str(out / "vectors.bin"), binary=True)
    np.testing.assert_allclose(binary["cat"], KeyedVectors.load_word2vec_format(str(out / "vectors.txt"))["cat"], atol=1e-5)
    assert list((tmp_path / "tb").rglob("events.out.tfevents.*"))
    result = runner.invoke(main, ["similar", str(out), "cat", "--topn", "3", "--json"])
    assert result.exit_code == 0, result.output
    assert set(n for n, _ in json.loads(result.output)["cat"]) <= set(ANIMALS) | {"goat", "field", "grass"}
    # A phrase is read as the module reads text: the neighbours of its words together, theirs left out.
    result = runner.invoke(main, ["similar", str(out), "Cat DOG", "cat spaceship", "--topn", "3"])
    assert result.exit_code == 0, result.output
    phrase, alone = result.stdout.splitlines()
    assert phrase.startswith("Cat DOG (cat + dog): ") and alone.startswith("cat spaceship: ")
    assert set(phrase.split(": ")[1].replace(",", " ").split()[::2]) <= set(ANIMALS) - {"cat", "dog"}
    assert "'spaceship' of 'cat spaceship' not in the vocabulary: the neighbours of its other words" in result.stderr
    result = runner.invoke(main, ["evaluate-embeddings", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.output)) >= {"analogy_accuracy", "wordsim353", "simlex999"}
    result = runner.invoke(main, ["similar", str(out), "spaceship"])
    assert result.exit_code == 1 and "Error: Not in the vocabulary: 'spaceship'" in result.output
    # No word at all (empty arguments): gensim's "cannot compute mean with no input" was a traceback.
    result = runner.invoke(main, ["similar", str(out), "", "  "])
    assert result.exit_code == 1 and "Error: No words in '', '  ': give words" in result.output, result.output
    with pytest.raises(ConfigError, match=r"`positive` holds no word. Received: positive=\[''\]"):
        WordVectors.load(out).most_similar("")
    # Reading vectors is gensim's work: the commands that only read them never pay TensorFlow's ~4 s import,
    # not even given the output's module/ (what fit-head takes), which holds the same vectors.
    script = ("import sys; from tfxfer.cli import main\n"
              "try: main(['similar', sys.argv[1], 'cat'])\n"
              "except SystemExit: pass\n"
              "print('tensorflow' in sys.modules)")
    probe = subprocess.run([sys.executable, "-c", script, str(out / "module")], capture_output=True, text=True,
                           timeout=120)
    assert probe.stdout.splitlines()[-1] == "False" and probe.stdout.startswith("cat: "), probe.stdout + probe.stderr
    # Nor does pretraining pay for Keras's scikit-learn, pandas and matplotlib integrations (1.3 s),
    # which stay importable for anything else.
    script = ("import sys; from tfxfer.cli import main\n"
              "try: main(['pretrain-text', *sys.argv[1:]])\n"
              "except SystemExit as e: print('exit', e.code)\n"
              "print(sorted(m for m in ('keras', 'sklearn', 'pandas', 'matplotlib') if m in sys.modules))\n"
              "import sklearn.linear_model, pandas, matplotlib.pyplot")
    args = [str(topic_corpus), "--out", str(tmp_path / "again"), *FAST_ARGS]
    probe = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=300)
    assert probe.returncode == 0 and probe.stdout.splitlines()[-2:] == ["exit 0", "['keras']"], probe.stdout + probe.stderr


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--dim", "0"], "`dim` must be a positive integer. Received: dim=0."),
        (["--window", "0"], "`window` must be a positive integer. Received: window=0."),
        (["--negatives", "500"], "`negatives` must be smaller than the vocabulary"),
        (["--batch-size", "100"], "`batch_size` must be a multiple of `noise_group` (64). Received: batch_size=100. Try 128."),
        (["--sample", "1.5"], "`sample` must be in [0, 1)"),
        (["--min-count", "100000"], "leaves 0 words seen at least min_count=100,000 times. Use a larger corpus or "
                                    "lower --min-count (--min-count 5 keeps 23)."),
    ],
)
def test_bad_hyperparameters(topic_corpus, tmp_path, extra, message):
    out = tmp_path / "out"
    line = cli_error(["pretrain-text", str(topic_corpus), "--out", str(out), *ONE_EPOCH, *extra])
    assert message in line
    assert not out.exists() and not list(tmp_path.glob(".out*"))


def test_unknown_pooling_is_refused_before_any_work(topic_corpus, tmp_path):
    from tfxfer.errors import ConfigError

    with pytest.raises(ConfigError, match=r"`pooling` must be one of \('mean', 'sif'\). Received: pooling='max'"):
        pretrain_text(topic_corpus, tmp_path / "out", dataclasses.replace(FAST, pooling="max"))
    assert not list(tmp_path.glob("*out*"))


def test_a_large_vocabulary_is_written_a_block_at_a_time_and_projected_as_far_as_tensorboard_reads(
        tmp_path, monkeypatch):
    # A million words (min_count 1 on web text) took 7.8 GB to save: every vector as Python floats at once,
    # and a projector folder of 1.1 GB of which TensorBoard reads the first 100,000 rows (its LIMIT_NUM_POINTS).
    from tfxfer.projector import write_projector

    monkeypatch.setattr("tfxfer.text.vectors._FORMAT_BLOCK", 4)
    monkeypatch.setattr(config, "PROJECTOR_MAX_POINTS", 5)
    words = [f"w{i}" for i in range(12)]
    vectors = WordVectors(words, np.random.default_rng(0).normal(size=(12, 3)).astype(np.float32), list(range(12, 0, -1)))
    vectors.save(tmp_path)
    vectors.save_projector(tmp_path / "projector")
    kv = KeyedVectors.load_word2vec_format(str(tmp_path / "vectors.txt"))
    assert kv.index_to_key == words
    np.testing.assert_allclose(kv.vectors, vectors.vectors, rtol=1e-5)
    assert (tmp_path / "projector" / "metadata.tsv").read_text().split() == words[:5]  # the most frequent
    np.testing.assert_allclose(np.loadtxt(tmp_path / "projector" / "vectors.tsv"), vectors.vectors[:5], rtol=1e-5)
    # Embedded examples come in class order: their projector is a random sample, each row with its own labels.
    points = np.arange(12, dtype=np.float32)[:, None] * [1.0, 2.0]
    write_projector(tmp_path / "embedded", points, {"label": [f"c{i // 6}" for i in range(12)],
                                                    "item": [f"x{i}" for i in range(12)]})
    shown = np.loadtxt(tmp_path / "embedded" / "vectors.tsv")
    rows = [line.split("\t") for line in (tmp_path / "embedded" / "metadata.tsv").read_text().splitlines()[1:]]
    assert len(shown) == len(rows) == 5 and rows != [["c0", f"x{i}"] for i in range(5)]
    assert all(row == [f"c{int(x) // 6}", f"x{int(x)}"] for (x, _), row in zip(shown, rows))


def test_a_corpus_of_few_distinct_words_trains_at_the_default_rate(tmp_path):
    # DNA k-mers, characters, a toy vocabulary: each word is in hundreds of a step's pairs. Its NCE bias took
    # all their gradients at once, undamped as the vectors' are not, and the loss went to nan ("diverged").
    rng = np.random.default_rng(0)
    corpus = tmp_path / "few.txt"
    corpus.write_text(" ".join(rng.choice(["aa", "ac", "ag", "at", "ca", "cc", "cg", "ct"], 300_000)) + "\n")
    vectors = pretrain_text(corpus, tmp_path / "out", dataclasses.replace(config.PretrainConfig(), epochs=1,
                                                                          min_count=1))
    assert len(vectors) == 8 and np.isfinite(vectors.vectors).all()
    # Where training does diverge, the way out is named: word2vec's `sample` keeps fewer frequent words lower.
    with pytest.raises(ConfigError, match=r"Training diverged \(loss=\w+\) in epoch 1\. Lower --learning-rate "
                                          r"\(now 1000\.0\) .* or lower --sample \(now 0\.001\) to keep fewer"):
        pretrain_text(corpus, tmp_path / "again", dataclasses.replace(config.PretrainConfig(), epochs=1, min_count=1,
                                                                      learning_rate=1000.0))


def test_bad_corpora(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    assert cli_error(["pretrain-text", str(empty), "--out", str(tmp_path / "runs" / "v" / "o")]).startswith(
        f"Error: The corpus (1 file: {empty}) holds no words. Pass non-empty")  # not "['...']", a list's repr
    assert not (tmp_path / "runs").exists()  # nor the folders made on the way to --out
    assert "nope.txt' not found. Pass a text file" in cli_error(["pretrain-text", str(tmp_path / "nope.txt"), "--out", str(tmp_path / "o")])
    (tmp_path / "emptydir").mkdir()
    assert "holds no text files" in cli_error(["pretrain-text", str(tmp_path / "emptydir"), "--out", str(tmp_path / "o")])
    assert "Unknown NLTK corpus" in cli_error(["pretrain-text", "nltk:nosuchcorpus", "--out", str(tmp_path / "o")])
    # Sentences in memory, where gensim's Word2Vec takes them, were each "not found" as a file.
    with pytest.raises(DataError, match=r"^Corpus 'the cat sat on the mat' \(1 of 2 sources\) is a text, not a "
                                        r"file: .* Write the texts to one, a text per line"):
        pretrain_text(["the cat sat on the mat", "the dog sat"], tmp_path / "o")
    # Errors met while the corpus streams through tf.data are one line too, not a TensorFlow traceback.
    import gzip
    import random as _random

    rng = _random.Random(0)
    whole = gzip.compress("\n".join(" ".join(rng.choice(["the", "cat", "sat", "mat", "dog"]) for _ in range(12))
                                    for _ in range(100_000)).encode())
    cut = tmp_path / "cut.txt.gz"
    cut.write_bytes(whole[: int(len(whole) * 0.9)])
    assert "Cannot read corpus file" in cli_error(["pretrain-text", str(cut), "--out", str(tmp_path / "o")])
    keys = tmp_path / "dump.jsonl"
    keys.write_text('{"a": "the cat", "b": "sat"}\n')
    assert "no key is named as the inputs are" in cli_error(["pretrain-text", str(keys), "--out", str(tmp_path / "o")])
    assert not list(tmp_path.glob("*o.partial")) and not (tmp_path / "o").exists()
    tiny = tmp_path / "tiny.txt"
    tiny.write_text("the cat sat on the mat\nthe dog sat on the log\n")
    line = cli_error(["pretrain-text", str(tiny), "--out", str(tmp_path / "o"), "--min-count", "1"])
    assert "too small to train on" in line and "one batch needs 32" in line and "--sample" in line
    assert not (tmp_path / "o").exists() and not list(tmp_path.glob(".o*"))


def test_existing_output_is_refused_then_overwritten(topic_corpus, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    assert "already exists. Pass --overwrite" in cli_error(["pretrain-text", str(topic_corpus), "--out", str(out), *ONE_EPOCH])
    assert (out / "keep.txt").exists()
    # A folder of other files is not an earlier output: --overwrite would delete them (test_paths.py).
    assert "holds files tfxfer did not write ('keep.txt')" in cli_error(
        ["pretrain-text", str(topic_corpus), "--out", str(out), *ONE_EPOCH, "--overwrite"])
    (out / "keep.txt").unlink()
    for _ in range(2):  # into the empty folder, then over that output, replaced whole with a file added to it
        result = CliRunner().invoke(main, ["pretrain-text", str(topic_corpus), "--out", str(out), *ONE_EPOCH,
                                           "--overwrite"])
        assert result.exit_code == 0, result.output
        assert (out / "vectors.txt").exists() and not (out / "notes.txt").exists()
        (out / "notes.txt").write_text("x")


def test_invalid_utf8_lines_are_counted_and_kept(topic_corpus, tmp_path):
    corpus = tmp_path / "mixed.txt"
    # A UTF-8 file (its first line with accents is UTF-8) with damaged lines.
    corpus.write_bytes("the caf\u00e9 opens\n".encode() + topic_corpus.read_bytes()
                       + b"the cat \xff\xfe eats\nthe bus \xc3 drives\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["pretrain-text", str(corpus), "--out", str(out), *ONE_EPOCH])
    assert result.exit_code == 0, result.output
    assert "2 lines not valid UTF-8 were read with replacement characters" in result.output
    assert json.loads((out / "config.json").read_text())["corpus"]["invalid_utf8_lines"] == 2


def test_words_written_decomposed_are_the_words_written_composed(tmp_path):
    """A corpus gathered from a Mac and elsewhere spells `café` two ways; the vectors and the module know one."""
    import unicodedata

    from tests.conftest import run_without_tfxfer, topic_sentences

    lines = [s.replace("cat", "Café").replace("bus", "Bücherbus") for s in topic_sentences()]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(unicodedata.normalize("NFD" if i % 2 else "NFC", s) for i, s in enumerate(lines)) + "\n",
                      encoding="utf-8")
    vectors = pretrain_text(corpus, tmp_path / "out", dataclasses.replace(FAST, epochs=1))
    assert {"café", "bücherbus"} <= set(vectors.words)
    assert not [w for w in vectors.words if unicodedata.normalize("NFC", w) != w]
    inputs = [unicodedata.normalize(form, "The CAFÉ eats the Bücherbus") for form in ("NFC", "NFD")]
    out = run_without_tfxfer(f"""
        m = tf.saved_model.load({str(tmp_path / "out" / "module")!r})
        print(json.dumps(m(tf.constant({inputs!r})).numpy().tolist()))
    """)
    expected = np.mean([vectors[w] for w in ("the", "café", "eats", "the", "bücherbus")], axis=0)
    np.testing.assert_allclose(out, [expected, expected], atol=1e-5)


def test_python_dash_m_and_help():
    result = subprocess.run([sys.executable, "-m", "tfxfer", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    # One list of the commands, in the order of the work, each with its whole summary.
    commands = result.stdout.split("Commands:")[1]
    listed = [line.split()[0] for line in commands.splitlines() if line.strip()]
    assert listed == ["pretrain-text", "embed", "inspect-data", "fit-head", "evaluate", "predict", "suggest", "serve",
                      "similar", "evaluate-embeddings", "cache"]
    assert "..." not in commands and result.stdout.count("fit-head") == 1
    result = subprocess.run([sys.executable, "-m", "tfxfer", "pretrain-text", "--help"], capture_output=True, text=True, timeout=60)
    assert "--negatives" in result.stdout and "[default: 5]" in result.stdout
    # What a bug report needs, without importing TensorFlow.
    code = "import sys; from tfxfer.cli import main; main(['--version'], standalone_mode=False); " \
           "print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    import importlib.metadata
    import platform

    import gensim
    import keras
    import tensorflow as tf

    import tfxfer

    expected = (f"tfxfer {tfxfer.__version__} (TensorFlow {tf.__version__}, Keras {keras.__version__}, "
                f"tensorflow-hub {importlib.metadata.version('tensorflow-hub')}, gensim {gensim.__version__}; "
                f"Python {platform.python_version()} on {platform.system()})")
    assert result.stdout.splitlines() == [expected, "False"], result.stderr
    # Tab completion in a notebook offers the API (lazily imported: dir() listed none of it).
    code = "import sys, tfxfer; print(set(tfxfer.__all__) <= set(dir(tfxfer)), 'tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.stdout.split() == ["True", "False"], result.stderr
    # GPU memory is taken as needed, not all at start, unless the user says otherwise.
    code = "import os; import tfxfer.cli; print(os.environ['TF_FORCE_GPU_ALLOW_GROWTH'])"
    for preset, expected in ((None, "true"), ("false", "false")):
        env = {k: v for k, v in os.environ.items() if k != "TF_FORCE_GPU_ALLOW_GROWTH"}
        env.update({"TF_FORCE_GPU_ALLOW_GROWTH": preset} if preset else {})
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
        assert result.stdout.strip() == expected, result.stderr


def test_update_learns_new_words_and_keeps_old_neighbours(trained, tmp_path):
    from tests.conftest import topic_sentences

    out, before = trained
    rng = np.random.default_rng(5)
    new = [s.replace(ANIMALS[rng.integers(6)], "llama", 1) for s in topic_sentences(600, seed=3) if "grass" in s]
    new += [s for s in topic_sentences(600, seed=4) if "road" in s]
    corpus = tmp_path / "more.txt"
    corpus.write_text("\n".join(new) + "\n")
    result = CliRunner().invoke(main, ["pretrain-text", str(corpus), "--update", str(out), "--out", str(tmp_path / "v2"),
                                       "--epochs", "3"])
    assert result.exit_code == 0, result.output
    assert "too little" not in result.output  # an update's new text builds on the earlier vectors' text
    after = WordVectors.load(tmp_path / "v2")
    assert "llama" in after and "llama" not in before and set(before.words) <= set(after.words)
    top = [w for w, _ in after.most_similar("llama", topn=4)]
    assert len(set(top) & set(ANIMALS)) >= 2, top
    for word in ("cat", "bus"):
        old, now = before[word], after[word]
        assert np.dot(old, now) / np.linalg.norm(old) / np.linalg.norm(now) > 0.7  # moved, not lost
    run = json.loads((tmp_path / "v2" / "config.json").read_text())
    assert run["updated_from"] == str(out) and run["hyperparameters"]["dim"] == 16  # the earlier run's settings
    # Trained vectors continue at a lower rate than fresh ones start, decayed over the new text's steps
    # (the earlier text's counts, in the merged vocabulary, once made the schedule 2x too long).
    assert run["training"]["learning_rate"] < run["hyperparameters"]["learning_rate"]
    assert 0.85 < run["training"]["steps"] / run["training"]["scheduled_steps"] < 1.15, run["training"]
    line = cli_error(["pretrain-text", str(corpus), "--update", str(out), "--out", str(tmp_path / "v3"), "--dim", "8"])
    assert "`dim` must be the size of the vectors being updated (16). Received: dim=8" in line
    line = cli_error(["pretrain-text", str(corpus), "--update", str(tmp_path), "--out", str(tmp_path / "v4")])
    assert "is not a tfxfer pretrain-text output" in line
    line = cli_error(["pretrain-text", str(corpus), "--update", str(out / "module"), "--out", str(tmp_path / "v5")])
    assert line == f"Error: {str(out / 'module')!r} is the module/ folder of the pretrain-text output {str(out)!r}: " \
                   f"pass --update {out}."


def test_text_module_weighs_each_distinct_word_and_a_long_text_costs_little_memory(tmp_path):
    # A vector per token: a 3.7 MB text took 0.3 GB of the module, a 25 MB request 6 GB of `tfxfer serve`.
    import tensorflow as tf

    from tests.conftest import memory_growth_kb
    from tfxfer.text.module import save_text_module

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(500)]
    vectors, weights = rng.normal(size=(500, 100)).astype(np.float32), rng.uniform(0.1, 1, 500).astype(np.float32)
    save_text_module(words, vectors, tmp_path / "module", weights)
    module = tf.saved_model.load(str(tmp_path / "module"))
    texts = ["w1 w2 w2 unknown w3", "", "nothing known", "w499 w0 w0 w0 W0"]
    expected = []
    for text in texts:
        ids = [int(w[1:]) for w in text.lower().split() if w in words]
        expected.append((vectors[ids] * weights[ids, None]).sum(0) / weights[ids].sum() if ids else np.zeros(100))
    np.testing.assert_allclose(module(tf.constant(texts)).numpy(), expected, atol=1e-6)
    long = " ".join(rng.choice(words, 800_000))
    setup = f"""
        import tensorflow as tf
        module = tf.saved_model.load({str(tmp_path / 'module')!r})
        module(tf.constant(["the ops' first run"]))
        """
    assert memory_growth_kb(setup, "module(tf.constant([DATA]))", long.encode()) < 100_000  # KB: was 322 MB
