"""The skip-gram model: word vectors trained with NCE loss, as a Keras 3 model."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


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


class SkipGramNCE(keras.Model):
    """Predicts context words from centre words with `tf.nn.nce_loss`.

    The noise words of NCE are drawn from `noise` (unigram^0.75) and shared by
    groups of `group_size` pairs, so scoring them is a batched matrix product
    rather than a gather per pair.

    Args:
        vocab_size: Number of words `V`.
        dim: Size of the word vectors `D`.
        negatives: Noise words per step.
        noise: float64 `[V]` noise distribution (sums to 1).
        seed: Seed of the initialisation and of the noise sampler.
        group_size: Pairs that share their noise words; batches must be a
            multiple of it.

    Call:
        `model(centres)` maps int32 `[batch]` word ids to float32 `[batch, D]`
        word vectors.
    """

    def __init__(
        self, vocab_size: int, dim: int, negatives: int, noise, seed: int, group_size: int = 256, **kwargs
    ):
        super().__init__(**kwargs)
        self.vocab_size, self.dim, self.negatives = vocab_size, dim, negatives
        self.word_vectors = self.add_weight(
            shape=(vocab_size, dim),
            initializer=keras.initializers.RandomUniform(-0.5 / dim, 0.5 / dim, seed=seed),
            name="word_vectors",
        )
        self.nce_weights = self.add_weight(
            shape=(vocab_size, dim), initializer="zeros", name="nce_weights"
        )
        self.nce_biases = self.add_weight(shape=(vocab_size,), initializer="zeros", name="nce_biases")
        keep, alias = alias_table(noise)
        self._noise_keep = tf.constant(keep, tf.float32)
        self._noise_alias = tf.constant(alias, tf.int64)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.group_size = group_size

    def call(self, centres):
        return tf.gather(self.word_vectors, centres)

    def _sample_noise(self, groups: int):
        """Noise words, int64 `[groups, negatives]`, drawn from unigram^0.75.

        By the alias method: two gathers per draw. (`tf.searchsorted` on the
        cumulative distribution compiles, under XLA on CPU, to a comparison with
        every word: it took more than half of each training step.)
        """
        n = groups * self.negatives
        slot = tf.cast(keras.random.randint((n,), 0, self.vocab_size, seed=self.seed_generator), tf.int64)
        uniform = keras.random.uniform((n,), seed=self.seed_generator)
        sampled = tf.where(uniform < tf.gather(self._noise_keep, slot), slot, tf.gather(self._noise_alias, slot))
        return tf.reshape(sampled, (groups, self.negatives))

    def nce_loss(self, centres, contexts):
        """Per-pair NCE loss, float32 `[batch]`; batch must divide by `group_size`.

        The loss `tf.nn.nce_loss` computes when given `sampled_values` with unit
        expected counts: sigmoid cross-entropy of the true context against
        `negatives` noise words, i.e. word2vec's negative sampling (the
        `-log(k q(w))` logit correction of textbook NCE makes SGD on this
        objective diverge). Noise words are shared by groups of `group_size`
        pairs rather than by the whole batch: shared by thousands of pairs, a
        noise word takes their summed gradient in one step and training diverges.
        `tests/test_model.py` checks that one group equals `tf.nn.nce_loss`.
        """
        groups = tf.shape(centres)[0] // self.group_size
        inputs = tf.reshape(tf.gather(self.word_vectors, centres), (groups, self.group_size, self.dim))
        contexts = tf.reshape(contexts, (groups, self.group_size))
        sampled = self._sample_noise(groups)
        true_logits = tf.reduce_sum(inputs * tf.gather(self.nce_weights, contexts), -1)
        true_logits += tf.gather(self.nce_biases, contexts)
        noise_logits = tf.einsum("gnd,gkd->gnk", inputs, tf.gather(self.nce_weights, sampled))
        noise_logits += tf.gather(self.nce_biases, sampled)[:, None, :]
        loss = tf.nn.sigmoid_cross_entropy_with_logits(tf.ones_like(true_logits), true_logits)
        loss += tf.reduce_sum(
            tf.nn.sigmoid_cross_entropy_with_logits(tf.zeros_like(noise_logits), noise_logits), -1
        )
        return tf.reshape(loss, [-1])

    def train_step(self, data):
        centres, contexts = data
        variables = [self.word_vectors, self.nce_weights, self.nce_biases]
        with tf.GradientTape() as tape:
            losses = self.nce_loss(centres, contexts)
            # Summed, not averaged: each pair moves its rows as much as one SGD
            # step of word2vec would, whatever the batch size.
            total = tf.reduce_sum(losses)
        grads = tape.gradient(total, [v.value for v in variables])
        self.optimizer.apply(grads, variables)
        return {"loss": tf.reduce_mean(losses)}
