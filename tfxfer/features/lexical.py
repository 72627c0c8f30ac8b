"""Hashed words and character n-grams: what a text head sees beside the sentence vectors.

A sentence vector is a mean of word vectors, and it loses what single words and
their spelling say: a word out of the module's vocabulary (a first name, a
product code), a telling suffix, a "?" in a chat post. A linear head on both
the sentence vector and these lexical features gained 1 - 5 points of
accuracy on pros_cons, nps_chat and names at 4 - 64 labels per class, and
lost 0.2 - 0.4 on sentence_polarity (`scripts/bench_heads.py`).

Each text is split by the one tokenizer; each token counts itself and the
character 2- to 4-grams of `<token>` (of its first `config.LEXICAL_NGRAM_WORD_CHARS`
characters when it is longer; and from `config.LEXICAL_BIGRAM_MIN_TEXTS`
training texts on, each pair of adjacent tokens). These are hashed to
`config.LEXICAL_BUCKETS` buckets (`tf.strings.to_hash_bucket_fast`), counted,
and each text's counts scaled to unit length. From
`config.LEXICAL_IDF_MIN_TEXTS` training texts on, the counts are first weighted by
inverse document frequency in the training texts (TF-IDF's smooth idf,
`log((1 + n) / (1 + df)) + 1`; a bucket without a column counts as never
seen), so that rarer, more telling words and n-grams outweigh those every
text shares: on 2,000 labels sentence_polarity gained 1.6 points (README:
"Many labels"). From `config.LEXICAL_BLOCKS_MIN_TEXTS` training texts on, as
a union of two TF-IDF vectorizers, the words (with their pairs) and the
character n-grams are two blocks scaled to unit length apart, and counts are
damped to `1 + log(count)`: in one block a word's 5 - 10 n-grams outweigh
it. Only buckets that occur in the training texts can get
weights, so `LexicalColumns` gives those columns (those of two texts or
more, from 500 texts on; the commonest `config.LEXICAL_MAX_COLUMNS`), as
sparse rows: a text holds a few dozen of its thousands of columns, and a
dense matrix of 8,000 texts and more had to drop most of them. The same TF
ops build the training features and run inside the export: no skew.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import numpy as np
import scipy.sparse
import tensorflow as tf

from tfxfer import config
from tfxfer.text.tokenize import tokenize

# No token holds a space: words ("w tok"), word pairs ("2 tok tok") and character n-grams hash apart.
_WORD = "w "
_BIGRAM = "2 "


def _character_block(buckets: int = config.LEXICAL_BUCKETS) -> int:
    """With blocks, the first bucket of the character n-grams' block (`bucket_counts`)."""
    return buckets // 2


def bucket_counts(texts: tf.Tensor, buckets: int = config.LEXICAL_BUCKETS, bigrams: bool = False,
                  blocks: bool = False):
    """Hashed counts of a batch of texts, as sparse triplets.

    Args:
        texts: tf.string `[batch]`.
        buckets: Number of hash buckets. Defaults to `config.LEXICAL_BUCKETS`.
        bigrams: Whether pairs of adjacent words count too. Defaults to `False`.
        blocks: Whether words and word pairs hash to the lower half of the
            buckets and character n-grams to the upper, so that a bucket says
            which block it belongs to. Defaults to `False`.

    Returns:
        `(rows, buckets, counts)`: int64, int64 and float32 `[nonzeros]`, one
        entry per distinct bucket of each text.
    """
    span = _character_block(buckets) if blocks else buckets

    def hashed(terms, block: int):
        return tf.strings.to_hash_bucket_fast(terms, span) + (span * block if blocks else 0)

    tokens = tokenize(texts)
    # Each distinct word of the batch is split into n-grams once, and each distinct (text, word) counted
    # as often as it occurs: a long text repeats its words, and their n-grams as strings cost ~200 bytes
    # of memory per byte of text.
    words, word_of = tf.unique(tokens.flat_values, out_idx=tf.int64)
    distinct = tf.size(words, tf.int64)
    pair, _, occurrences = tf.unique_with_counts(tokens.value_rowids() * distinct + word_of)
    pair_row, pair_word = pair // distinct, pair % distinct
    # `<word>`, or `<` and the first characters of a longer one (no end is marked where the word goes on)
    long = tf.strings.length(words, unit="UTF8_CHAR") > config.LEXICAL_NGRAM_WORD_CHARS
    marked = tf.where(long, "<" + tf.strings.substr(words, 0, config.LEXICAL_NGRAM_WORD_CHARS, unit="UTF8_CHAR"),
                      "<" + words + ">")
    chars = tf.strings.unicode_split(marked, "UTF-8")
    grams = tf.strings.ngrams(chars, ngram_width=config.LEXICAL_CHAR_NGRAMS, separator="")
    grams = tf.gather(tf.RaggedTensor.from_row_splits(hashed(grams.flat_values, 1), grams.row_splits), pair_word)
    # (their buckets, their rows, how often each occurs)
    parts = [(tf.gather(hashed(_WORD + words, 0), pair_word), pair_row, occurrences),
             (grams.flat_values, tf.gather(pair_row, grams.value_rowids()),
              tf.gather(occurrences, grams.value_rowids()))]
    if bigrams:
        pairs = tf.strings.ngrams(tokens, ngram_width=2, separator=" ")
        once = tf.ones(tf.shape(pairs.flat_values), tf.int32)
        parts.append((hashed(_BIGRAM + pairs.flat_values, 0), pairs.value_rowids(), once))
    # int32 rows: oneDNN logs an error line for int64 concatenation on most CPUs.
    row = tf.concat([tf.cast(r, tf.int32) for _, r, _ in parts], axis=0)
    key = tf.cast(row, tf.int64) * buckets + tf.concat([h for h, _, _ in parts], 0)
    key, index = tf.unique(key)
    count = tf.math.unsorted_segment_sum(tf.concat([n for _, _, n in parts], 0), index, tf.size(key))
    return key // buckets, key % buckets, tf.cast(count, tf.float32)


# One traced function per setting of `bigrams` and `blocks`, keyed by them.
_bucket_counts = {(bigrams, blocks): tf.function(functools.partial(bucket_counts, bigrams=bigrams, blocks=blocks),
                                                 input_signature=[tf.TensorSpec([None], tf.string)], autograph=False)
                  for bigrams in (False, True) for blocks in (False, True)}


@dataclasses.dataclass
class LexicalColumns:
    """The hash buckets a head has columns for, their weights, and how to compute them.

    Attributes:
        buckets: int64 `[columns]`, sorted: column `j` holds bucket `buckets[j]`.
        idf: float32 `[columns]`: the weight of each column's counts (all 1 below
            `config.LEXICAL_IDF_MIN_TEXTS` training texts).
        unseen_idf: The weight of a bucket without a column, as if no training text had it.
        available: How many buckets the training texts had a column for before
            the cap (`config.LEXICAL_MAX_COLUMNS`) kept the commonest; 0 if unknown.
        bigrams: Whether pairs of adjacent words are counted (from
            `config.LEXICAL_BIGRAM_MIN_TEXTS` training texts on).
        blocks: Whether words (with their pairs) and character n-grams are two
            blocks, each scaled to unit length, with counts damped to
            `1 + log(count)` (from `config.LEXICAL_BLOCKS_MIN_TEXTS` training
            texts on); else one block of plain counts.
    """

    buckets: np.ndarray
    idf: np.ndarray
    unseen_idf: float
    available: int = 0
    bigrams: bool = False
    blocks: bool = False

    @classmethod
    def select(cls, texts: Sequence[str]) -> tuple[LexicalColumns, scipy.sparse.csr_matrix]:
        """The buckets of `texts` (the training texts), their weights, and their columns.

        From `config.LEXICAL_MIN_DF2_TEXTS` texts on, only buckets seen in two
        or more of them: one text's words teach a head little and cost it time.

        Args:
            texts: The training texts.

        Returns:
            `(columns, features)`: features are float32 sparse `[len(texts), columns]`.
        """
        bigrams = len(texts) >= config.LEXICAL_BIGRAM_MIN_TEXTS
        blocks = len(texts) >= config.LEXICAL_BLOCKS_MIN_TEXTS
        triplets = _triplets(texts, bigrams, blocks)
        # Each (text, bucket) is one triplet: the counts of buckets are document frequencies.
        frequency = np.bincount(triplets[1], minlength=config.LEXICAL_BUCKETS)
        seen = np.flatnonzero(frequency >= (2 if len(texts) >= config.LEXICAL_MIN_DF2_TEXTS else 1))
        available = len(seen)
        if len(seen) > config.LEXICAL_MAX_COLUMNS:  # the most frequent; ties to the lower bucket
            seen = np.sort(seen[np.argsort(-frequency[seen], kind="stable")[: config.LEXICAL_MAX_COLUMNS]])
        idf, unseen_idf = np.ones(len(seen)), 1.0
        if len(texts) >= config.LEXICAL_IDF_MIN_TEXTS:
            idf, unseen_idf = np.log((1 + len(texts)) / (1 + frequency[seen])) + 1, np.log(1 + len(texts)) + 1
        columns = cls(seen.astype(np.int64), idf.astype(np.float32), float(unseen_idf), available, bigrams, blocks)
        return columns, columns._sparse(len(texts), *triplets)

    def __len__(self) -> int:
        return len(self.buckets)

    def summary(self) -> dict:
        """What `report.json` says of these columns: `columns`, `buckets_seen` (before the cap),
        `weights` (`"idf"`, or `"counts"` below `config.LEXICAL_IDF_MIN_TEXTS` training texts),
        `word_bigrams` (whether pairs of adjacent words are counted) and `blocks` (2: words and
        character n-grams scaled to unit length apart, with damped counts; 1: together)."""
        return {"columns": len(self), "buckets_seen": self.available,
                "weights": "idf" if self.unseen_idf != 1 else "counts", "word_bigrams": self.bigrams,
                "blocks": 2 if self.blocks else 1}

    def cap_note(self) -> str | None:
        """A note when the cap left most of the training texts' buckets without a column, else `None`."""
        if self.available <= 2 * len(self):
            return None
        return (f"{len(self):,} of the {self.available:,} word and character n-gram buckets of the training texts "
                f"get a column (the commonest: `config.LEXICAL_MAX_COLUMNS`).")

    def features(self, texts: Sequence[str]) -> scipy.sparse.csr_matrix:
        """float32 sparse `[len(texts), columns]`: what `__call__` computes, in batches, as SciPy."""
        return self._sparse(len(texts), *_triplets(texts, self.bigrams, self.blocks))

    def extend(self, features: np.ndarray, texts: Sequence[str]) -> scipy.sparse.csr_matrix:
        """The module's `features` of `texts` (`[len(texts), dim]`) with these columns after them,
        sparse: what a head with these lexical columns classifies."""
        return scipy.sparse.hstack([scipy.sparse.csr_matrix(features), self.features(texts)], format="csr")

    def __call__(self, texts: tf.Tensor) -> tf.Tensor:
        """float32 `[batch, columns]` of tf.string `[batch]`, in TensorFlow ops (the export's)."""
        rows, hashed, counts = bucket_counts(texts, bigrams=self.bigrams, blocks=self.blocks)
        if self.blocks:
            counts = 1 + tf.math.log(counts)
        buckets = tf.constant(self.buckets)
        position = tf.minimum(tf.searchsorted(buckets, hashed, out_type=tf.int64), len(self) - 1)
        found = tf.gather(buckets, position) == hashed
        weighted = counts * tf.where(found, tf.gather(tf.constant(self.idf), position), self.unseen_idf)
        # A text's length counts its buckets without a column too: mostly unknown words, a short row.
        # With blocks, a text's words and its n-grams are each scaled to unit length; else the whole row is.
        segment = 2 * rows + tf.cast(hashed >= _character_block(), tf.int64) if self.blocks else 2 * rows
        norm = tf.sqrt(tf.math.unsorted_segment_sum(weighted * weighted, segment, 2 * tf.shape(texts, tf.int64)[0]))
        values = weighted / tf.gather(norm, segment)
        index = tf.stack([tf.boolean_mask(rows, found), tf.boolean_mask(position, found)], axis=1)
        return tf.scatter_nd(index, tf.boolean_mask(values, found), tf.stack([tf.shape(texts, tf.int64)[0],
                                                                               len(self)]))

    def _sparse(self, n: int, rows, hashed, counts) -> scipy.sparse.csr_matrix:
        if not len(self):
            return scipy.sparse.csr_matrix((n, 0), dtype=np.float32)
        position = np.minimum(np.searchsorted(self.buckets, hashed), len(self) - 1)
        found = self.buckets[position] == hashed
        if self.blocks:
            counts = 1 + np.log(counts)
        weighted = counts * np.where(found, self.idf[position], np.float32(self.unseen_idf))
        segment = 2 * rows + (hashed >= _character_block()) if self.blocks else 2 * rows
        norm = np.sqrt(np.bincount(segment, weighted * weighted, minlength=2 * n)).astype(np.float32)
        values = (weighted / norm[segment]).astype(np.float32)
        return scipy.sparse.csr_matrix((values[found], (rows[found], position[found])), shape=(n, len(self)),
                                       dtype=np.float32)


def _triplets(texts: Sequence[str], bigrams: bool, blocks: bool,
              batch: int = 1024) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows, hashed, values = [], [], []
    for start in range(0, len(texts), batch):
        r, h, v = _bucket_counts[bigrams, blocks](tf.constant(list(texts[start : start + batch]), tf.string))
        rows.append(r.numpy() + start)
        hashed.append(h.numpy())
        values.append(v.numpy())
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    return np.concatenate(rows), np.concatenate(hashed), np.concatenate(values)
