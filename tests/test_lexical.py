import functools
import random

import numpy as np
import pytest
import scipy.sparse
import tensorflow as tf

from tests.conftest import run_cli
from tests.test_fit_export import run_without_tfxfer
from tfxfer import config
from tfxfer.errors import ConfigError
from tfxfer.features.lexical import _WORD, LexicalColumns
from tfxfer.fitting import fit_head
from tfxfer.head import learning_curve
from tfxfer.head.report import summary_text


def made_up_names(n: int, seed: int) -> list[tuple[str, str]]:
    """Names no word vector knows, whose class is in their spelling (the ending)."""
    rng = random.Random(seed)
    syllables = ["ka", "lo", "mer", "tu", "zan", "ri", "po", "dal", "vex", "qui"]
    endings = {"f": ["ina", "ella", "ette"], "m": ["bert", "ston", "mund"]}
    rows = []
    for i in range(n):
        label = "fm"[i % 2]
        stem = "".join(rng.choice(syllables) for _ in range(rng.randint(1, 2)))
        rows.append((stem.capitalize() + rng.choice(endings[label]), label))
    return rows


def test_training_features_are_the_export_ops_and_rows_unit_length():
    texts = ["Don't stop!!", "Zoë et 中文 text", "", "   ", "mary MARY"]
    columns, features = LexicalColumns.select(texts)
    assert scipy.sparse.issparse(features)  # a few dozen nonzeros of thousands of columns a row
    features = features.toarray()
    np.testing.assert_allclose(features, columns(tf.constant(texts)).numpy(), rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), [1, 1, 0, 0, 1], atol=1e-6)
    # Words and n-grams never seen in training have no column, but still count in the row's length.
    fresh = columns.features(["stop qwxz", "qwxz"]).toarray()
    assert 0 < np.linalg.norm(fresh[0]) < 1 and not fresh[1].any()
    np.testing.assert_allclose(fresh, columns(tf.constant(["stop qwxz", "qwxz"])).numpy(), rtol=1e-6)


def test_from_enough_texts_words_in_every_text_weigh_less_than_rare_ones(monkeypatch):
    texts = ["the cat", "the dog", "the cow", "the cat"]
    the, cat = tf.strings.to_hash_bucket_fast([_WORD + "the", _WORD + "cat"], config.LEXICAL_BUCKETS).numpy()

    def ratio():
        columns, features = LexicalColumns.select(texts)
        row = dict(zip(columns.buckets[features[0].indices], features[0].data))
        np.testing.assert_allclose(features.toarray(), columns(tf.constant(texts)).numpy(), rtol=1e-6)
        return row[cat] / row[the], columns.unseen_idf

    assert ratio() == (1, 1)  # fewer texts than config.LEXICAL_IDF_MIN_TEXTS: plain counts
    monkeypatch.setattr(config, "LEXICAL_IDF_MIN_TEXTS", 4)
    # Smooth idf over 4 texts: "the" (in 4) log(5/5) + 1, "cat" (in 2) log(5/3) + 1.
    assert ratio() == pytest.approx((np.log(5 / 3) + 1, np.log(5) + 1), rel=1e-5)


def assert_export_scores_as_library(fitted, texts: list[str], tmp_path) -> None:
    """The export of `fitted`, loaded with TensorFlow alone, scores `texts` as the library does."""
    path = fitted.export(tmp_path / "export")
    expected = fitted.classifier.predict_proba(fitted.features(texts).features)
    out = run_without_tfxfer(f"""
        m = tf.saved_model.load({str(path)!r})
        out = m.signatures["serving_default"](text=tf.constant({texts!r}))
        print(json.dumps({{"scores": out["scores"].numpy().tolist()}}))
    """)
    np.testing.assert_allclose(out["scores"], expected, atol=1e-5)


def word_order_texts(n: int, seed: int) -> list[tuple[str, str]]:
    """Texts of the same made-up words whose class is the order of two of them: "zor vek" or "vek zor"."""
    rng = random.Random(seed)
    filler = ["dax", "mip", "tor", "gul", "fen", "sab"]
    rows = []
    for i in range(n):
        label = "ab"[i % 2]
        words = rng.sample(filler, 4)
        words.insert(rng.randint(0, 4), "zor vek" if label == "a" else "vek zor")
        rows.append((" ".join(words), label))
    return rows


def test_from_enough_texts_words_and_ngrams_scale_apart_with_damped_counts(monkeypatch):
    texts = ["good good good film", "bad film", "a good film", "bad bad"]
    good, film = tf.strings.to_hash_bucket_fast([_WORD + "good", _WORD + "film"], config.LEXICAL_BUCKETS // 2).numpy()

    def first_text():
        columns, features = LexicalColumns.select(texts)
        np.testing.assert_allclose(features.toarray(), columns(tf.constant(texts)).numpy(), rtol=1e-6)
        return columns, features.toarray()[0]

    columns, row = first_text()  # fewer texts than config.LEXICAL_BLOCKS_MIN_TEXTS: one block of counts
    assert columns.summary()["blocks"] == 1 and np.linalg.norm(row) == pytest.approx(1, rel=1e-6)
    monkeypatch.setattr(config, "LEXICAL_BLOCKS_MIN_TEXTS", 4)
    columns, row = first_text()
    assert columns.summary()["blocks"] == 2
    words = columns.buckets < config.LEXICAL_BUCKETS // 2
    # Words and n-grams are unit length apart: the words no longer drown among their n-grams.
    assert np.linalg.norm(row[words]) == pytest.approx(1, rel=1e-6)
    assert np.linalg.norm(row[~words]) == pytest.approx(1, rel=1e-6)
    weight = dict(zip(columns.buckets, row))
    assert weight[good] / weight[film] == pytest.approx(1 + np.log(3), rel=1e-5)  # three "good", one "film"


def test_from_enough_texts_word_pairs_get_columns_and_the_export_computes_them(text_module, tmp_path, monkeypatch):
    train, test = word_order_texts(200, 0), word_order_texts(40, 1)
    texts, labels = [t for t, _ in train], [l for _, l in train]
    # Below config.LEXICAL_BIGRAM_MIN_TEXTS: the same words in both classes, nothing to learn, and
    # cross-validation leaves the columns out.
    assert LexicalColumns.select(texts)[0].summary()["word_bigrams"] is False
    words = fit_head(text_module, (texts, labels), head="linear")
    choice = words.report["lexical_choice"]
    assert not choice["used"] and choice["log_loss"] > choice["log_loss_without"] - 0.5 * choice["gain_se"]
    assert words.lexical is None and "lexical" not in words.report and "n-gram columns" not in words.report["head"]
    assert "Word and n-gram columns: left out: cross-validated log loss " in summary_text(words.report)
    assert words.report["cross_validation"]["accuracy_mean"] <= 0.7
    # Both apply to sets this large by default (word pairs from 4,000 texts, two blocks from 2,000).
    monkeypatch.setattr(config, "LEXICAL_BIGRAM_MIN_TEXTS", 200)
    monkeypatch.setattr(config, "LEXICAL_BLOCKS_MIN_TEXTS", 200)
    pairs = fit_head(text_module, (texts, labels), head="linear")
    assert pairs.report["lexical"]["word_bigrams"] is True and pairs.report["lexical"]["blocks"] == 2
    choice = pairs.report["lexical_choice"]  # the pairs tell the classes apart: kept
    assert choice["used"] and choice["log_loss"] < choice["log_loss_without"] - 0.5 * choice["gain_se"]
    assert "Word and n-gram columns: kept: cross-validated log loss " in summary_text(pairs.report)
    assert ", with word pairs, words and n-grams scaled apart  (" in summary_text(pairs.report)
    assert pairs.report["cross_validation"]["accuracy_mean"] >= 0.95
    test_texts = [t for t, _ in test]
    assert [label for label, _ in pairs.predict(test_texts)] == [l for _, l in test]
    features = pairs.lexical.features(test_texts)
    np.testing.assert_allclose(features.toarray(), pairs.lexical(tf.constant(test_texts)).numpy(), rtol=1e-6)
    # The export, with TensorFlow alone, counts the word pairs and scales the blocks as training did.
    assert_export_scores_as_library(pairs, test_texts[:6], tmp_path)


def test_columns_are_capped_to_the_commonest(monkeypatch):
    alpha = LexicalColumns.select(["alpha"])[0].buckets
    monkeypatch.setattr(config, "LEXICAL_MAX_COLUMNS", 10)
    texts = ["alpha beta", "alpha gamma", "alpha delta"]
    columns, features = LexicalColumns.select(texts)
    assert len(columns) == features.shape[1] == 10 and columns.available > 20
    # "alpha" and its n-grams are in every text, the others' in one: the ten kept are alpha's.
    assert len(alpha) > 10 and set(columns.buckets) <= set(alpha)


def test_a_report_says_when_the_cap_leaves_most_buckets_without_a_column(text_module, monkeypatch):
    rows = made_up_names(40, seed=1)
    fitted = fit_head(text_module, ([n for n, _ in rows], [l for _, l in rows]), head="linear")
    assert not any("buckets of the training texts" in n for n in fitted.report["data"]["notes"])
    assert fitted.report["lexical"]["weights"] == "counts"  # 40 texts: fewer than config.LEXICAL_IDF_MIN_TEXTS
    assert "idf" not in summary_text(fitted.report)
    monkeypatch.setattr(config, "LEXICAL_MAX_COLUMNS", 50)
    fitted = fit_head(text_module, ([n for n, _ in rows], [l for _, l in rows]), head="linear")
    (note,) = [n for n in fitted.report["data"]["notes"] if "buckets of the training texts" in n]
    assert note.startswith("50 of the ") and note.endswith("get a column (the commonest: "
                                                           "`config.LEXICAL_MAX_COLUMNS`).")
    assert fitted.lexical.available > 100 and len(fitted.lexical) == 50
    assert fitted.report["lexical"] == {"columns": 50, "buckets_seen": fitted.lexical.available, "weights": "counts",
                                        "word_bigrams": False, "blocks": 1}


def test_large_sets_keep_buckets_of_two_texts_or_more(monkeypatch):
    monkeypatch.setattr(config, "LEXICAL_MIN_DF2_TEXTS", 3)
    columns, features = LexicalColumns.select(["kiwi", "kiwi", "plum"])
    assert set(columns.buckets) == set(LexicalColumns.select(["kiwi"])[0].buckets)
    assert features[2].nnz == 0 and features[0].nnz
    assert len(LexicalColumns.select(["kiwi", "plum"])[0]) > len(columns)  # fewer texts: every bucket


def test_head_learns_words_out_of_the_module_vocabulary(text_module, tmp_path, monkeypatch):
    monkeypatch.setattr(config, "LEXICAL_IDF_MIN_TEXTS", 50)  # the export computes the idf weights too
    train, test = made_up_names(80, 0), made_up_names(60, 1)
    names, labels = [t for t, _ in train], [l for _, l in train]
    fitted = fit_head(text_module, (names, labels))
    assert "n-gram columns" in fitted.report["head"] and fitted.lexical.idf.std() > 0.1
    assert fitted.report["lexical"] == {"columns": len(fitted.lexical), "buckets_seen": len(fitted.lexical),
                                        "weights": "idf", "word_bigrams": False, "blocks": 1}
    assert f"{len(fitted.lexical):,} word and character n-gram columns, weighted by idf  (" in summary_text(fitted.report)
    assert fitted.report["cross_validation"]["accuracy_mean"] >= 0.9
    test_names = [t for t, _ in test]
    predicted = [label for label, _ in fitted.predict(test_names)]
    assert np.mean(np.array(predicted) == [l for _, l in test]) >= 0.9
    # The sentence vectors alone know none of these names: no better than a guess.
    alone = fit_head(text_module, (names, labels), lexical=False)
    assert alone.report["cross_validation"]["accuracy_mean"] <= 0.6
    # The export computes the same columns from raw text, with TensorFlow alone.
    assert_export_scores_as_library(fitted, test_names[:5], tmp_path)


@pytest.mark.parametrize("lexical", [True, False, None])
def test_cli_lexical_flag(text_module, labeled_tsv, tmp_path, lexical):
    flag = {True: ["--lexical"], False: ["--no-lexical"], None: []}[lexical]
    out = run_cli(["fit-head", "-f", str(text_module), "-t", str(labeled_tsv), "-o", str(tmp_path / "e"), *flag])
    assert out.exit_code == 0, out.output
    head_line = next(line for line in out.output.splitlines() if line.startswith("Head:"))
    choice = [line for line in out.output.splitlines() if line.startswith("Word and n-gram columns: ")]
    if lexical is None:  # neither flag: cross-validation chose, and says how
        (line,) = choice
        assert ("n-gram columns" in head_line) == line.startswith("Word and n-gram columns: kept: ")
    else:
        assert ("n-gram columns" in head_line) == lexical and not choice


def test_hidden_heads_keep_to_the_module_vectors(text_module, labeled_tsv, monkeypatch):
    # One subsample per learning-curve size, not 5: the curve is not what this checks, and a
    # hidden head's 125 curve fits made this the suite's slowest test (38 s).
    monkeypatch.setattr(learning_curve, "learning_curve", functools.partial(learning_curve.learning_curve, repeats=1))
    monkeypatch.setattr(config, "HIDDEN_MAX_STEPS", 200)  # of 1,000, for the same reason (20 s -> 8 s)
    fitted = fit_head(text_module, labeled_tsv, head="hidden")
    assert "hidden" in fitted.report["head"] and "n-gram" not in fitted.report["head"]
    assert fitted.lexical is None and fitted.report["cross_validation"]["accuracy_mean"] >= 0.9


def test_texts_that_share_no_bucket_give_no_lexical_columns(text_module, monkeypatch):
    monkeypatch.setattr(config, "LEXICAL_MIN_DF2_TEXTS", 2)
    fitted = fit_head(text_module, (["q", "z", "x", "j"], ["a", "b", "a", "b"]), head="linear")
    assert fitted.lexical is None and "n-gram" not in fitted.report["head"]
    assert len(fitted.predict(["q"])) == 1


def test_lexical_must_be_true_false_or_auto(text_module, labeled_tsv):
    with pytest.raises(ConfigError, match=r"`lexical` must be True, False or 'auto' .* Received: lexical='yes'"):
        fit_head(text_module, labeled_tsv, lexical="yes")


def _bucket_counts_of_every_token(texts, buckets, bigrams, blocks):
    """The counts as first written: each token's character n-grams made as strings, token by token."""
    from tfxfer.features.lexical import _BIGRAM, _character_block
    from tfxfer.text.tokenize import tokenize

    tokens = tokenize(texts)
    chars = tf.strings.unicode_split("<" + tokens.flat_values + ">", "UTF-8")
    grams = tf.strings.ngrams(chars, ngram_width=config.LEXICAL_CHAR_NGRAMS, separator="")
    grams = tf.RaggedTensor.from_row_splits(grams, tokens.row_splits).merge_dims(1, 2)
    parts = [(_WORD + tokens.flat_values, tokens.value_rowids(), 0), (grams.flat_values, grams.value_rowids(), 1)]
    if bigrams:
        pairs = tf.strings.ngrams(tokens, ngram_width=2, separator=" ")
        parts.append((_BIGRAM + pairs.flat_values, pairs.value_rowids(), 0))
    span = _character_block(buckets) if blocks else buckets
    hashed = tf.concat([tf.strings.to_hash_bucket_fast(t, span) + (span * b if blocks else 0) for t, _, b in parts], 0)
    key = tf.concat([r for _, r, _ in parts], 0) * buckets + hashed
    key, _, count = tf.unique_with_counts(key)
    return key // buckets, key % buckets, tf.cast(count, tf.float32)


def test_bucket_counts_hash_each_distinct_word_once_and_count_as_every_token():
    # A text's n-grams were made as strings for every token: a 5 MB text took 1.1 GB and 2.4 s in the
    # export. Now each distinct word of a batch is split once, and counted as often as it occurs.
    from tests.conftest import memory_growth_kb
    from tfxfer.features.lexical import bucket_counts

    rng = random.Random(0)
    words = ["the", "Cat", "cat", "sat", "naïve", "日本語", "?", "!!", "x", "on", "mat", "thé"]
    texts = ["", "the cat the cat the cat", "?"] + [" ".join(rng.choice(words) for _ in range(rng.randint(0, 40)))
                                                   for _ in range(60)]
    for bigrams in (False, True):
        for blocks in (False, True):
            got = [t.numpy() for t in bucket_counts(tf.constant(texts), 1 << 18, bigrams, blocks)]
            want = [t.numpy() for t in _bucket_counts_of_every_token(tf.constant(texts), 1 << 18, bigrams, blocks)]
            assert sorted(zip(*got)) == sorted(zip(*want)), (bigrams, blocks)
    word = "é" + "x" * 70  # a word longer than any: n-grams of its first 64 characters, no end marked
    rows, _, counts = bucket_counts(tf.constant([word]), 1 << 18)
    assert counts.numpy().sum() == 1 + (65 - 1) + (65 - 2) + (65 - 3)  # the word and the n-grams of "<é" + x * 63
    assert memory_growth_kb("""
        import tensorflow as tf
        from tfxfer.features.lexical import bucket_counts
        bucket_counts(tf.constant(["the ops' first run"]))
        """, "bucket_counts(tf.constant([DATA]))", b"x" * 2_000_000) < 50_000  # KB: a 2 MB blob took 500 MB
    long = " ".join(rng.choice(words) for _ in range(400_000))  # 1.7 MB of a few words
    setup = """
        import tensorflow as tf
        from tfxfer.features.lexical import bucket_counts
        bucket_counts(tf.constant(["the ops' first run"]))
        """
    assert memory_growth_kb(setup, "bucket_counts(tf.constant([DATA]))", long.encode()) < 150_000  # KB: was 343 MB
    counts = bucket_counts(tf.constant([long]))[2].numpy()
    assert counts.sum() > 400_000 * 3  # each word, and its character n-grams, counted at every token
