"""The text feature module: a SavedModel mapping raw strings to sentence vectors."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfxfer.text.tokenize import tokenize

OUTPUT_KEY = "default"


def sif_weights(counts, a: float) -> np.ndarray:
    """Smooth inverse frequency weights `a / (a + p(w))` (Arora et al. 2017).

    Args:
        counts: `[V]` corpus counts of the words.
        a: Smoothing; frequent words (p(w) >> a) weigh little, rare ones ~1.

    Returns:
        float32 `[V]`.
    """
    counts = np.asarray(counts, np.float64)
    return (a / (a + counts / counts.sum())).astype(np.float32)


class TextFeatureModule(tf.Module):
    """Averages the vectors of the in-vocabulary words of each string.

    Follows the TF-Hub conventions for text embeddings: `module(texts)` and the
    `serving_default` signature map tf.string `[batch]` to float32
    `[batch, dim]` (zeros for a string with no known word); the word vectors are
    a trainable variable listed in `variables` and `trainable_variables`, so the
    module can be fine-tuned.

    Args:
        words: The vocabulary.
        vectors: float32 `[len(words), dim]`.
        vocab_file: A file with one word per line, in the order of `words`; it
            is stored as an asset of the SavedModel.
        weights: float32 `[len(words)]` weight of each word in the average
            (e.g. `sif_weights`), or `None` for a plain mean.
    """

    def __init__(self, words: list[str], vectors: np.ndarray, vocab_file: str | Path, weights=None):
        super().__init__(name="text_feature_module")
        self.embeddings = tf.Variable(np.asarray(vectors, np.float32), name="embeddings")
        weights = np.ones(len(words), np.float32) if weights is None else np.asarray(weights, np.float32)
        self.weights = tf.Variable(weights, trainable=False, name="word_weights")
        self.vocab_asset = tf.saved_model.Asset(str(vocab_file))
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.TextFileInitializer(
                self.vocab_asset,
                tf.string,
                tf.lookup.TextFileIndex.WHOLE_LINE,
                tf.int64,
                tf.lookup.TextFileIndex.LINE_NUMBER,
            ),
            default_value=-1,
        )

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)], autograph=False)
    def __call__(self, texts):
        tokens = tokenize(texts)
        ids = self.table.lookup(tokens.flat_values)
        known = ids >= 0
        ids, rows = tf.boolean_mask(ids, known), tf.boolean_mask(tokens.value_rowids(), known)
        # Each distinct (text, word) once, weighed by how often it occurs: a vector per token cost
        # 0.5 GB for a 5 MB text, whose words repeat.
        vocabulary = tf.size(self.weights, tf.int64)
        pair, _, occurrences = tf.unique_with_counts(rows * vocabulary + ids)
        row, word = pair // vocabulary, pair % vocabulary
        weights = tf.gather(self.weights, word) * tf.cast(occurrences, tf.float32)
        n = tf.shape(texts, tf.int64)[0]
        sums = tf.math.unsorted_segment_sum(tf.gather(self.embeddings, word) * weights[:, None], row, n)
        return tf.math.divide_no_nan(sums, tf.math.unsorted_segment_sum(weights, row, n)[:, None])

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")], autograph=False)
    def serve(self, text):
        return {OUTPUT_KEY: self(text)}


def save_text_module(words: list[str], vectors: np.ndarray, path: str | Path, weights=None) -> None:
    """Save a `TextFeatureModule` as a SavedModel at `path` (which must not exist).

    `weights`: per-word weights of the average, `None` for a plain mean.
    """
    with tempfile.TemporaryDirectory() as tmp:
        vocab_file = Path(tmp) / "vocab.txt"
        vocab_file.write_text("".join(w + "\n" for w in words), encoding="utf-8")
        module = TextFeatureModule(words, vectors, vocab_file, weights)
        # The TF-Hub reusable SavedModel API reads these two attributes.
        root = tf.train.Checkpoint(module=module)
        root.__call__ = module.__call__
        root.variables = [module.embeddings, module.weights]
        root.trainable_variables = [module.embeddings]
        tf.saved_model.save(root, str(path), signatures={"serving_default": module.serve})
