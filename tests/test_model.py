import keras
import numpy as np
import pytest
import tensorflow as tf

from tfxfer.text.model import SkipGramNCE, offsets, shifted_dot_products
from tfxfer.text.skipgram import skipgram_pairs, subsample, token_runs

VOCAB, DIM, K, WINDOW, GROUP = 30, 8, 5, 3, 16


def _model_and_run(noise_words=None):
    model = SkipGramNCE(VOCAB, DIM, K, np.ones(VOCAB) / VOCAB, seed=3, window=WINDOW, group_size=GROUP,
                        noise_words=noise_words)
    rng = np.random.default_rng(0)
    model.nce_weights.assign(rng.normal(size=(VOCAB, DIM)).astype("float32"))
    model.nce_biases.assign(rng.normal(size=(VOCAB,)).astype("float32"))
    words = rng.integers(0, VOCAB, 2 * GROUP).astype("int32")
    sentences = np.repeat([0, 1, 2], [10, 12, 10]).astype("int32")
    reach = rng.integers(1, WINDOW + 1, 2 * GROUP).astype("int32")
    return model, words, sentences, reach


def _replay_noise(model):
    """The noise words the model drew, drawn again from the same seed."""
    model.seed_generator.state.assign(keras.random.SeedGenerator(3).state)
    return model._sample_noise(2)


def _reference(model, words, sentences, reach, sampled, num_sampled):
    """tf.nn.nce_loss (unit expected counts) over the explicit pairs, per group."""
    centres, contexts = skipgram_pairs(words, sentences, reach, WINDOW)
    total = 0.0
    for group in range(2):
        mine = centres // GROUP == group
        total += tf.nn.nce_loss(
            weights=model.nce_weights, biases=model.nce_biases,
            labels=words[contexts[mine]][:, None].astype("int64"),
            inputs=tf.gather(model.word_vectors, words[centres[mine]]),
            num_sampled=num_sampled, num_classes=VOCAB,
            sampled_values=(sampled[group], tf.ones((mine.sum(), 1)), tf.ones((num_sampled,))),
        ).numpy().sum()
    return total, len(centres)


def test_loss_equals_tf_nn_nce_loss_over_the_explicit_pairs():
    model, words, sentences, reach = _model_and_run(noise_words=K)
    loss, pairs = model.nce_loss(words, sentences, reach)
    reference, n_pairs = _reference(model, words, sentences, reach, _replay_noise(model), K)
    assert pairs.numpy().sum() == n_pairs > 0
    np.testing.assert_allclose(loss.numpy().sum(), reference, rtol=1e-5)


def test_more_noise_words_are_weighted_to_k():
    model, words, sentences, reach = _model_and_run()
    assert model.noise_words == K * (WINDOW + 1)
    loss, _ = model.nce_loss(words, sentences, reach)
    sampled = _replay_noise(model)
    # nce_loss over all noise words = true part + noise part; ours weighs the noise part k / noise_words.
    with_all, _ = _reference(model, words, sentences, reach, sampled, model.noise_words)
    true_only, _ = _reference(model, words, sentences, reach, sampled[:, :0], 0)
    expected = true_only + (with_all - true_only) * K / model.noise_words
    np.testing.assert_allclose(loss.numpy().sum(), expected, rtol=1e-5)


def test_runs_pair_within_window_and_sentence():
    ids = np.array([0, 1, 2, 3, -1, 4, 5, -1], np.int32)
    (words, sentences, reach), = token_runs([ids], np.ones(6, np.float32), 2, 6, np.random.default_rng(0))
    centres, contexts = skipgram_pairs(words, sentences, reach, 2)
    pairs = set(zip(words[centres].tolist(), words[contexts].tolist()))
    sentence = {0: 0, 1: 0, 2: 0, 3: 0, 4: 1, 5: 1}
    assert all(sentence[c] == sentence[x] and 0 < abs(c - x) <= 2 for c, x in pairs)
    assert (4, 5) in pairs and (5, 4) in pairs  # window >= 1 always pairs neighbours


def test_runs_continue_across_chunks_and_have_a_fixed_length():
    chunks = [np.arange(10, dtype=np.int32) % 5, np.array([1, 2, -1, 3, 4, -1], np.int32)]
    counter = [0]
    runs = list(token_runs(chunks, np.ones(5, np.float32), 2, 4, np.random.default_rng(0), counter))
    assert [len(w) for w, _, _ in runs] == [4, 4, 4]  # 14 words: the last 2 are dropped
    assert counter[0] == 16
    words, sentences, _ = runs[2]
    assert words.tolist() == [8 % 5, 9 % 5, 1, 2] and sentences.tolist() == [0, 0, 1, 1]


def test_subsampling_drops_frequent_words():
    ids = np.zeros(10000, np.int32)
    ids[::10] = 1
    keep = np.array([0.1, 1.0], np.float32)
    words, _, reach = subsample(ids, keep, 3, np.random.default_rng(0))
    assert 0.3 < np.mean(words == 1) < 0.7  # 1 in 10 before subsampling
    assert reach.min() == 1 and reach.max() == 3


def test_repeated_rows_are_damped_by_the_square_root_of_their_count():
    model = SkipGramNCE(4, 2, 1, np.ones(4) / 4, seed=0)
    gradient = tf.IndexedSlices(tf.ones((5, 2)), tf.constant([0, 0, 0, 0, 3]), tf.constant([4, 2]))
    damped = model._damp_repeats(gradient)
    dense = tf.math.unsorted_segment_sum(damped.values, damped.indices, 4).numpy()
    np.testing.assert_allclose(dense[:, 0], [2.0, 0.0, 0.0, 1.0])  # 4 updates move as far as 2


def test_noise_words_follow_the_noise_distribution():
    vocab = 50
    noise = np.arange(1, vocab + 1, dtype=np.float64) ** -0.75 * 3.0  # unnormalised on purpose
    model = SkipGramNCE(vocab, 4, 5, noise, seed=0, group_size=8, noise_words=5)
    draws = np.concatenate([model._sample_noise(4000).numpy().ravel() for _ in range(5)])  # 100,000 draws
    observed = np.bincount(draws, minlength=vocab) / len(draws)
    np.testing.assert_allclose(observed, noise / noise.sum(), atol=0.004)
    assert draws.min() >= 0 and draws.max() < vocab


def test_shifted_dot_products_gradient_matches_autodiff():
    window, n, dim = 3, 17, 4
    rng = np.random.default_rng(0)
    inputs = tf.constant(rng.normal(size=(n, dim)), tf.float32)
    outputs = tf.constant(rng.normal(size=(n + 2 * window, dim)), tf.float32)
    weights = tf.constant(rng.normal(size=(2 * window, n)), tf.float32)

    def plain(inputs, outputs):
        return tf.stack([tf.reduce_sum(inputs * outputs[window + o : window + o + n], -1) for o in offsets(window)])

    results = []
    for fn in (plain, lambda i, o: shifted_dot_products(i, o, window)):
        with tf.GradientTape() as tape:
            tape.watch([inputs, outputs])
            value = tf.reduce_sum(fn(inputs, outputs) * weights)
        results.append([value, *tape.gradient(value, [inputs, outputs])])
    for ours, reference in zip(results[1], results[0]):
        np.testing.assert_allclose(ours.numpy(), reference.numpy(), rtol=1e-5, atol=1e-5)


def test_a_step_trains_the_vectors_and_holds_the_output_biases():
    # Held at zeros as word2vec has none (trained, they cost simlex999 0.014 - 0.020: scripts/README.md,
    # stop 56), and at an earlier output's values when it is updated: here random ones.
    model, words, sentences, reach = _model_and_run()
    model.compile(optimizer=keras.optimizers.SGD(0.05))
    before = [v.numpy().copy() for v in (model.word_vectors, model.nce_weights, model.nce_biases)]
    model.train_step(tuple(tf.constant(a) for a in (words, sentences, reach)))
    after = [v.numpy() for v in (model.word_vectors, model.nce_weights, model.nce_biases)]
    assert not np.allclose(after[0], before[0]) and not np.allclose(after[1], before[1])
    np.testing.assert_array_equal(after[2], before[2])
    assert np.any(before[2]) and len(model.trainable_variables) == 2


def test_training_step_compiles_with_xla_and_every_op_has_a_gpu_kernel():
    """GPU readiness, checked on a CPU: the compiled step uses no CPU-only op.

    XLA compiles the whole step (so every op has an XLA lowering, the same on
    GPU), and every TensorFlow op in it, loops included, has a GPU kernel
    registered in this TensorFlow build, so nothing pins it to the CPU.
    """
    from tensorflow.python.framework import kernels

    model = SkipGramNCE(VOCAB, DIM, K, np.ones(VOCAB) / VOCAB, seed=3, window=WINDOW, group_size=GROUP, sub_steps=2)
    model.compile(optimizer=keras.optimizers.SGD(keras.optimizers.schedules.PolynomialDecay(0.05, 100)))
    model.build(None)
    model.optimizer.build(model.trainable_variables)
    spec = (tf.TensorSpec([4 * GROUP], tf.int32),) * 3
    step = tf.function(model.train_step, jit_compile=True, input_signature=[spec])
    _, words, sentences, reach = _model_and_run()
    batch = tuple(tf.constant(np.tile(a, 2)) for a in (words, sentences, reach))
    assert "HloModule" in step.experimental_get_compiler_ir(batch)(stage="hlo")
    graph = step.get_concrete_function().graph.as_graph_def()
    ops = {n.op for n in graph.node} | {n.op for f in graph.library.function for n in f.node_def}
    structural = {"Placeholder", "NoOp", "Const", "Identity", "IdentityN", "While", "StatelessWhile",
                  "PartitionedCall", "StatefulPartitionedCall", "_Arg", "_Retval"}
    if not tf.test.is_built_with_cuda():
        pytest.skip("this TensorFlow build has no GPU kernels to check against")
    cpu_only = sorted(op for op in ops - structural  # "DEFAULT" kernels run on any device
                      if not {"GPU", "DEFAULT"} & {k.device_type for k in kernels.get_registered_kernels_for_op(op).kernel})
    assert cpu_only == [], cpu_only
