"""The skip-gram model: word vectors trained with NCE loss, as a Keras 3 model."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfxfer.keras_backend import keras


def alias_table(probabilities) -> tuple[np.ndarray, np.ndarray]:
    """Vose's alias table for drawing from a discrete distribution in O(1).

    Args:
        probabilities: float `[n]` non-negative weights (normalised here).

    Returns:
        `(keep, alias)`, float32 and int64 `[n]`: draw a slot `i` uniformly and
        `u` in [0, 1); the sample is `i` if `u < keep[i]`, else `alias[i]`.
    """
    p = np.asarray(probabilities, np.float64)
    n = len(p)
    scaled = p * (n / p.sum())
    keep = np.ones(n, np.float64)
    alias = np.arange(n, dtype=np.int64)
    small = np.flatnonzero(scaled < 1.0).tolist()
    large = np.flatnonzero(scaled >= 1.0).tolist()
    while small and large:
        s, g = small.pop(), large.pop()
        keep[s], alias[s] = scaled[s], g
        scaled[g] -= 1.0 - scaled[s]
        (small if scaled[g] < 1.0 else large).append(g)
    # Whatever is left is 1 up to rounding: always kept.
    return keep.astype(np.float32), alias


def offsets(window: int) -> list[int]:
    """Distances from a centre word to its context words: `-window..window` but 0."""
    return [o for o in range(-window, window + 1) if o]


def shifted_dot_products(inputs: tf.Tensor, outputs: tf.Tensor, window: int) -> tf.Tensor:
    """Dot products of each row of a run with the rows up to `window` away.

    Args:
        inputs: float32 `[n, D]`.
        outputs: float32 `[n + 2 * window, D]`: the run's rows padded by
            `window` on both sides.
        window: Largest distance.

    Returns:
        float32 `[2 * window, n]`: row `k` holds `inputs[i] . outputs[window + i + o]`
        for the `k`-th of `offsets(window)`.

    The gradient is written out: autodiff pads each offset's gradient to the
    full run before summing, and XLA on CPU then spent ~40% of a training step
    on those copies. Here every gradient is one fused sum of shifted slices.
    """
    distances = offsets(window)

    @tf.custom_gradient
    def forward(inputs, outputs):
        n = tf.shape(inputs)[0]
        shifted = [outputs[window + o : window + o + n] for o in distances]
        products = tf.stack([tf.reduce_sum(inputs * s, -1) for s in shifted])

        def backward(grad):
            d_inputs = tf.add_n([grad[k][:, None] * s for k, s in enumerate(shifted)])
            # d_outputs[j] = sum over o of grad[o][j - window - o] * inputs[j - window - o]:
            # slices of `grad` and `inputs` padded once by 2 * window.
            padded_inputs = tf.pad(inputs, [[2 * window, 2 * window], [0, 0]])
            padded_grad = tf.pad(grad, [[0, 0], [2 * window, 2 * window]])
            m = n + 2 * window
            d_outputs = tf.add_n([
                padded_grad[k, window - o : window - o + m][:, None] * padded_inputs[window - o : window - o + m]
                for k, o in enumerate(distances)
            ])
            return d_inputs, d_outputs

        return products, backward

    return forward(inputs, outputs)


class SkipGramNCE(keras.Model):
    """Predicts context words from centre words with the loss of `tf.nn.nce_loss`.

    A batch is a run of consecutive (subsampled) tokens; every token is a
    centre word, and its context words are its neighbours within its drawn
    window and sentence. Each token's input and output vectors are gathered
    once, and the pairs at distance `o` are scored by multiplying the run with
    itself shifted by `o`: dense work, instead of a gather and a scatter per
    row of every pair. Noise words are drawn from `noise` (unigram^0.75) and
    shared by groups of `group_size` consecutive centre words, so scoring them
    is a batched matrix product.

    Args:
        vocab_size: Number of words `V`.
        dim: Size of the word vectors `D`.
        negatives: Noise words per pair, `k`.
        noise: float64 `[V]` noise distribution (normalised here).
        seed: Seed of the initialisation and of the noise sampler.
        window: Largest distance between a centre and a context word.
            Defaults to `5`.
        group_size: Centre words that share their noise words; runs must be a
            multiple of it. Defaults to `32`.
        noise_words: Noise words drawn per group, each weighted `k /
            noise_words`. Defaults to `k * (window + 1)`: as many distinct
            noise words per centre word as word2vec draws for its
            `window + 1` pairs (on average). Sharing only `k` cuts analogy
            accuracy by more than half.
        sub_steps: SGD steps per batch: a batch is `sub_steps` runs, trained
            on one after the other in one compiled loop, which saves the
            per-step overhead of Keras and of the input pipeline. Defaults to `1`.

    Call:
        `model(words)` maps int32 `[batch]` word ids to float32 `[batch, D]`
        word vectors.
    """

    def __init__(
        self, vocab_size: int, dim: int, negatives: int, noise, seed: int, window: int = 5,
        group_size: int = 32, noise_words: int | None = None, sub_steps: int = 1, **kwargs
    ):
        # float32 whatever the global policy: under mixed_float16, which GPU notebooks set for their own
        # models, NCE's SGD in float16 learned nothing (random neighbours, wordsim353 0.04) and said nothing.
        super().__init__(**{"dtype": "float32", **kwargs})
        self.vocab_size, self.dim, self.negatives, self.window = vocab_size, dim, negatives, window
        self.group_size, self.sub_steps = group_size, sub_steps
        self.noise_words = noise_words or negatives * (window + 1)
        self.word_vectors = self.add_weight(
            shape=(vocab_size, dim),
            initializer=keras.initializers.RandomUniform(-0.5 / dim, 0.5 / dim, seed=seed),
            name="word_vectors",
        )
        self.nce_weights = self.add_weight(
            shape=(vocab_size, dim), initializer="zeros", name="nce_weights"
        )
        # The output biases of tf.nn.nce_loss, held fixed: zeros, as word2vec has none, or an earlier
        # output's when it is updated. Trained (until stop 56), they cost simlex999 0.014 - 0.020 for
        # at most 0.6 analogy points and no few-shot accuracy (scripts/README.md, "Pretraining").
        self.nce_biases = self.add_weight(shape=(vocab_size,), initializer="zeros", trainable=False,
                                          name="nce_biases")
        keep, alias = alias_table(noise)
        # Variables, not constants: XLA takes seconds to compile V-sized constants.
        self._noise_keep = self.add_weight(
            shape=keep.shape, initializer=keras.initializers.Constant(keep), trainable=False, name="noise_keep"
        )
        self._noise_alias = self.add_weight(
            shape=alias.shape, initializer=keras.initializers.Constant(alias), dtype="int64",
            trainable=False, name="noise_alias",
        )
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, words):
        return tf.gather(self.word_vectors, words)

    def _sample_noise(self, groups: int):
        """Noise words, int64 `[groups, noise_words]`, drawn from unigram^0.75.

        By the alias method: two gathers per draw. (`tf.searchsorted` on the
        cumulative distribution compiles, under XLA on CPU, to a comparison with
        every word: it took more than half of each training step.)
        """
        n = groups * self.noise_words
        slot = tf.cast(keras.random.randint((n,), 0, self.vocab_size, seed=self.seed_generator), tf.int64)
        uniform = keras.random.uniform((n,), seed=self.seed_generator)
        sampled = tf.where(uniform < tf.gather(self._noise_keep, slot), slot, tf.gather(self._noise_alias, slot))
        return tf.reshape(sampled, (groups, self.noise_words))

    def nce_loss(self, words, sentences, reach):
        """NCE loss of each centre word, summed over its pairs.

        A pair's loss is the one `tf.nn.nce_loss` computes when given
        `sampled_values` with unit expected counts: sigmoid cross-entropy of
        the true context against `k` noise words, i.e. word2vec's negative
        sampling (the `-log(k q(w))` logit correction of textbook NCE makes SGD
        on this objective diverge). Here the `k` noise terms are estimated by
        `k / noise_words` times the sum over the group's `noise_words` draws,
        which has the same expectation. `tests/test_model.py` checks both
        against `tf.nn.nce_loss`.

        Args:
            words: int32 `[batch]` word ids of a run of tokens; `batch` divides
                by `group_size`.
            sentences: int32 `[batch]`: pairs only form within one sentence.
            reach: int32 `[batch]`: each centre word's window, in `1..window`.

        Returns:
            `(loss, pairs)`, float32 `[batch]`: each centre word's loss and its
            number of context words.
        """
        n, w = tf.shape(words)[0], self.window
        inputs = tf.gather(self.word_vectors, words)
        # Pad by the window so that shifted slices stay in range; the padding
        # matches no sentence number (those are >= 0).
        outputs = tf.pad(tf.gather(self.nce_weights, words), [[w, w], [0, 0]])
        biases = tf.pad(tf.gather(self.nce_biases, words), [[w, w]])
        sentence = tf.pad(sentences, [[w, w]], constant_values=-1)
        distances = offsets(w)
        logits = shifted_dot_products(inputs, outputs, w)
        logits += tf.stack([biases[w + o : w + o + n] for o in distances])
        valid = tf.stack([(sentence[w + o : w + o + n] == sentences) & (reach >= abs(o)) for o in distances])
        true_loss = tf.reduce_sum(tf.where(valid, tf.nn.softplus(-logits), 0.0), 0)  # -log sigmoid(logit)
        pairs = tf.reduce_sum(tf.cast(valid, tf.float32), 0)
        groups = n // self.group_size
        sampled = self._sample_noise(groups)
        noise_logits = tf.einsum(
            "gnd,gkd->gnk", tf.reshape(inputs, (groups, self.group_size, self.dim)),
            tf.gather(self.nce_weights, sampled),
        ) + tf.gather(self.nce_biases, sampled)[:, None, :]
        # -log sigmoid(-logit), the same for every pair of a centre word.
        noise_loss = tf.reduce_sum(tf.nn.softplus(noise_logits), -1) * (self.negatives / self.noise_words)
        return true_loss + pairs * tf.reshape(noise_loss, [-1]), pairs

    def _damp_repeats(self, gradient):
        """Divide each row's summed gradient by the square root of its occurrences.

        The loss is summed, so a word seen `n` times in one step takes `n`
        updates at once, all computed at the same point; for the most frequent
        words (and noise words) `n` reaches hundreds and SGD diverges at
        learning rates that are best for the rest. Word2vec's sequential
        updates saturate instead. Rows seen once are unchanged.
        """
        if not isinstance(gradient, tf.IndexedSlices):
            return gradient
        ones = tf.ones_like(gradient.indices, tf.float32)
        counts = tf.math.unsorted_segment_sum(ones, gradient.indices, self.vocab_size)
        scale = tf.math.rsqrt(tf.gather(counts, gradient.indices))
        scale = tf.reshape(scale, [-1] + [1] * (gradient.values.shape.rank - 1))
        return tf.IndexedSlices(gradient.values * scale, gradient.indices, gradient.dense_shape)

    def train_step(self, data):
        words, sentences, reach = (tf.reshape(x, (self.sub_steps, -1)) for x in data)
        variables = [self.word_vectors, self.nce_weights]

        def step(i, loss_sum, pair_sum):
            with tf.GradientTape() as tape:
                losses, pairs = self.nce_loss(words[i], sentences[i], reach[i])
                # Summed, not averaged: each pair moves its rows as much as one
                # SGD step of word2vec would, whatever the batch size.
                total = tf.reduce_sum(losses)
            grads = tape.gradient(total, [v.value for v in variables])
            grads = [self._damp_repeats(g) for g in grads]
            self.optimizer.apply(grads, variables)
            return i + 1, loss_sum + total, pair_sum + tf.reduce_sum(pairs)

        # A symbolic loop: unrolled, XLA would compile each sub-step anew.
        _, loss_sum, pair_sum = tf.while_loop(
            lambda i, *_: i < self.sub_steps, step, (tf.constant(0), tf.constant(0.0), tf.constant(0.0))
        )
        return {"loss": loss_sum / tf.maximum(pair_sum, 1.0)}
