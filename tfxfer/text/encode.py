"""Tokenize a corpus in batches, count its words, and encode it to word ids on disk.

The encoded corpus is an int32 file (one id per kept token, `SENTENCE_END` after
each line) read back in chunks, so training memory is bounded by the vocabulary
and the chunk size, never by the corpus.
"""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import tensorflow as tf

from tfxfer import config
from tfxfer.text.skipgram import SENTENCE_END
from tfxfer.text.tokenize import tokenize
from tfxfer.text.vocab import Vocabulary

_tokenize = tf.function(tokenize, input_signature=[tf.TensorSpec([None], tf.string)])


def _line_batches(lines: Iterable[str], size: int) -> Iterator[list[str]]:
    batch = []
    for line in lines:
        batch.append(line)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def token_batches(lines: Iterable[str], batch_lines: int = config.TOKENIZE_BATCH_LINES):
    """Yield `(tokens, row_lengths)` per batch of lines: flat UTF-8 bytes and counts."""
    for batch in _line_batches(lines, batch_lines):
        ragged = _tokenize(tf.constant(batch))
        yield ragged.flat_values.numpy(), ragged.row_lengths().numpy()


def count_words(
    lines: Iterable[str], progress: Callable[[int], None] | None = None
) -> tuple[collections.Counter, int]:
    """Count tokens; return `(Counter of str -> count, number of lines)`."""
    counter: collections.Counter = collections.Counter()
    n_lines = 0
    for tokens, lengths in token_batches(lines):
        counter.update(tokens.tolist())
        n_lines += len(lengths)
        if progress:
            progress(len(tokens))
    return collections.Counter({k.decode("utf-8"): v for k, v in counter.items()}), n_lines


def encode_corpus(
    lines: Iterable[str],
    vocab: Vocabulary,
    path: str | Path,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the ids of in-vocabulary tokens to `path` (int32); return how many ids."""
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(vocab.words), tf.range(len(vocab), dtype=tf.int32)
        ),
        default_value=-2,
    )
    written = 0
    with open(path, "wb") as f:
        for tokens, lengths in token_batches(lines):
            ids = table.lookup(tf.constant(tokens)).numpy()
            # Append SENTENCE_END after each line, then drop out-of-vocabulary ids.
            ends = np.cumsum(lengths)
            ids = np.insert(ids, ends, SENTENCE_END).astype(np.int32)
            ids = ids[ids != -2]
            ids.tofile(f)
            written += len(ids)
            if progress:
                progress(len(tokens))
    return written


def read_chunks(path: str | Path, chunk_tokens: int = config.CHUNK_TOKENS) -> Iterator[np.ndarray]:
    """Yield chunks of an encoded corpus that end on sentence boundaries."""
    ids = np.memmap(path, dtype=np.int32, mode="r")
    start = 0
    while start < len(ids):
        stop = min(start + chunk_tokens, len(ids))
        if stop < len(ids):
            ends = np.flatnonzero(ids[start:stop] == SENTENCE_END)
            if len(ends):
                stop = start + ends[-1] + 1
        yield np.array(ids[start:stop])
        start = stop
