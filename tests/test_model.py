import keras
import numpy as np
import tensorflow as tf

from tfxfer.text.model import SkipGramNCE
from tfxfer.text.skipgram import skipgram_pairs


def test_one_group_equals_tf_nn_nce_loss():
    vocab, dim, k = 30, 8, 5
    model = SkipGramNCE(vocab, dim, k, np.ones(vocab) / vocab, seed=3, group_size=16)
    rng = np.random.default_rng(0)
    model.nce_weights.assign(rng.normal(size=(vocab, dim)).astype("float32"))
    model.nce_biases.assign(rng.normal(size=(vocab,)).astype("float32"))
    centres = rng.integers(0, vocab, 16).astype("int32")
    contexts = rng.integers(0, vocab, 16).astype("int32")
    ours = model.nce_loss(centres, contexts)
    # Replay the same noise words through tf.nn.nce_loss with unit expected counts.
    model.seed_generator.state.assign(keras.random.SeedGenerator(3).state)
    sampled = model._sample_noise(1)[0]
    reference = tf.nn.nce_loss(
        weights=model.nce_weights, biases=model.nce_biases,
        labels=contexts[:, None].astype("int64"), inputs=tf.gather(model.word_vectors, centres),
        num_sampled=k, num_classes=vocab,
        sampled_values=(sampled, tf.ones((16, 1)), tf.ones((k,))),
    )
    np.testing.assert_allclose(ours.numpy(), reference.numpy(), rtol=1e-5)


def test_pairs_respect_window_and_sentences():
    ids = np.array([0, 1, 2, 3, -1, 4, 5, -1], np.int32)
    centres, contexts = skipgram_pairs(ids, np.ones(6, np.float32), 2, np.random.default_rng(0))
    pairs = set(zip(centres.tolist(), contexts.tolist()))
    sentence = {0: 0, 1: 0, 2: 0, 3: 0, 4: 1, 5: 1}
    assert all(sentence[c] == sentence[x] and 0 < abs(c - x) <= 2 for c, x in pairs)
    assert (4, 5) in pairs and (5, 4) in pairs  # window >= 1 always pairs neighbours


def test_subsampling_drops_frequent_words():
    ids = np.zeros(10000, np.int32)
    ids[::10] = 1
    keep = np.array([0.1, 1.0], np.float32)
    centres, _ = skipgram_pairs(ids, keep, 1, np.random.default_rng(0))
    assert 0.3 < np.mean(centres == 1) < 0.7  # 1 in 10 before subsampling


def test_noise_words_follow_the_noise_distribution():
    vocab = 50
    noise = np.arange(1, vocab + 1, dtype=np.float64) ** -0.75 * 3.0  # unnormalised on purpose
    model = SkipGramNCE(vocab, 4, 5, noise, seed=0, group_size=8)
    draws = np.concatenate([model._sample_noise(4000).numpy().ravel() for _ in range(5)])  # 100,000 draws
    observed = np.bincount(draws, minlength=vocab) / len(draws)
    np.testing.assert_allclose(observed, noise / noise.sum(), atol=0.004)
    assert draws.min() >= 0 and draws.max() < vocab
