"""Read a corpus once: tokenize, count and encode it to word ids on disk.

One pass over the text: batches of lines are tokenized in parallel
(`tf.data`, the same TF tokenizer the module runs), each distinct token gets a
provisional id, and the provisional ids are written to disk while counts
accumulate. Once the vocabulary is known, the provisional ids are remapped to
final ones (out-of-vocabulary tokens dropped) chunk by chunk, with NumPy: the
text is never tokenized twice. The table of distinct tokens is kept within
`config.COUNT_MAX_DISTINCT` by dropping the rarest as word2vec does; what is
left growing with the corpus past it is an int64 count per id ever given.

The encoded corpus is an int32 file (one id per kept token, `SENTENCE_END` after
each line) read back in chunks, so training memory is bounded by the vocabulary
and the chunk size, never by the corpus.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import tensorflow as tf

from tfxfer import config
from tfxfer.data.pipeline import batched, parallel_map
from tfxfer.errors import TfxferError, counted
from tfxfer.text.skipgram import SENTENCE_END
from tfxfer.text.tokenize import tokenize
from tfxfer.text.vocab import Vocabulary

_tokenize = tf.function(tokenize, input_signature=[tf.TensorSpec([None], tf.string)], autograph=False)
_OOV = -2

logger = logging.getLogger(__name__)


def token_batches(lines: Iterable[str], batch_lines: int = config.TOKENIZE_BATCH_LINES):
    """Yield `(tokens, row_lengths)` per batch of lines: flat UTF-8 bytes and counts."""
    for batch in batched(lines, batch_lines):
        ragged = _tokenize(tf.constant(batch))
        yield ragged.flat_values.numpy(), ragged.row_lengths().numpy()


def _unique_tokens(lines: Iterable[str], failures: list) -> tf.data.Dataset:
    """Per batch of lines, in parallel: its distinct tokens, each token's index among them, line lengths.

    A `TfxferError` the corpus raises while it is read (a damaged file, a table without a
    text column) ends the batches and is put in `failures` for the caller to raise: raised
    inside tf.data it would reach the user as a TensorFlow traceback.
    """
    def tokenize_batch(batch):
        ragged = tokenize(batch)
        unique, index = tf.unique(ragged.flat_values, out_idx=tf.int32)
        return unique, index, tf.cast(ragged.row_lengths(), tf.int32)

    def read():
        try:
            yield from (np.array(b, dtype=object) for b in batched(lines, config.TOKENIZE_BATCH_LINES))
        except TfxferError as e:
            failures.append(e)

    batches = tf.data.Dataset.from_generator(read, output_signature=tf.TensorSpec([None], tf.string))
    return parallel_map(batches, tokenize_batch).prefetch(4)


@dataclasses.dataclass
class Encoded:
    """A corpus read once.

    Attributes:
        vocab: The vocabulary built from its counts.
        lines: Lines read.
        words: Tokens read, in or out of the vocabulary.
        kept: Ids written (in-vocabulary tokens and one `SENTENCE_END` per line).
        counts: int64 `[len(vocab)]`: each word's count in this corpus. It is
            `vocab.counts` unless the vocabulary holds earlier counts too (`--update`).
    """

    vocab: Vocabulary
    lines: int
    words: int
    kept: int
    counts: np.ndarray


def encode_corpus(
    lines: Iterable[str],
    path: str | Path,
    make_vocab: Callable[[collections.Counter], Vocabulary],
    progress: Callable[[int], None] | None = None,
) -> Encoded:
    """Tokenize and count `lines` in one pass, and write their ids to `path` (int32).

    Args:
        lines: The corpus (read once).
        path: The encoded corpus to write.
        make_vocab: Builds the vocabulary from the counts (`Counter` of str);
            it may raise to refuse the corpus.
        progress: Called with the number of tokens of each batch read.

    Returns:
        `Encoded`.
    """
    path = Path(path)
    provisional = path.with_name(path.name + ".provisional")
    ids: dict[bytes, int] = {}
    pruned = _Pruning()
    counts = np.zeros(1 << 16, np.int64)
    n_lines = n_words = 0
    failures = []
    with open(provisional, "wb") as f:
        for unique, index, lengths in _unique_tokens(lines, failures):
            unique, index, lengths = unique.numpy(), index.numpy(), lengths.numpy()
            start = pruned.dropped  # a new token's id counts every id given so far, dropped ones too
            mapped = np.fromiter((ids.setdefault(w, start + len(ids)) for w in unique), np.int32, len(unique))
            if start + len(ids) > len(counts):
                counts = np.concatenate([counts, np.zeros(max(start + len(ids), len(counts)), np.int64)])
            np.add.at(counts, mapped, np.bincount(index, minlength=len(unique)))
            np.insert(mapped[index], np.cumsum(lengths), SENTENCE_END).astype(np.int32).tofile(f)
            n_lines += len(lengths)
            n_words += len(index)
            if len(ids) > config.COUNT_MAX_DISTINCT:
                ids = pruned.prune(ids, counts)
            if progress:
                progress(len(index))
    if failures:
        provisional.unlink()
        raise failures[0]
    if pruned.threshold:
        logger.warning(
            "The corpus has more than %s distinct tokens: to count them within memory, %s seen at most %s "
            "when the table filled were dropped, as word2vec does (config.COUNT_MAX_DISTINCT). Words near "
            "--min-count whose first occurrences were dropped may be missing or undercounted.",
            f"{config.COUNT_MAX_DISTINCT:,}", f"{pruned.dropped:,}", counted(pruned.threshold, "time"))
    provisional_ids = np.fromiter(ids.values(), np.int64, len(ids))
    words = [w.decode("utf-8") for w in ids]
    word_counts = counts[provisional_ids]
    vocab = make_vocab(collections.Counter(dict(zip(words, word_counts.tolist()))))
    final_ids = np.array([vocab.index.get(w, _OOV) for w in words], np.int32)
    # Provisional id -> final id; tokens out of the vocabulary, and pruned ones, to _OOV.
    remap = np.full(max(len(counts), 1), _OOV, np.int32)
    remap[provisional_ids] = final_ids
    kept = 0
    with open(path, "wb") as f:
        for chunk in read_chunks(provisional, config.CHUNK_TOKENS, whole_sentences=False):
            final = np.where(chunk >= 0, remap[np.maximum(chunk, 0)], chunk)
            final = final[final != _OOV]
            final.tofile(f)
            kept += len(final)
    provisional.unlink()
    known = final_ids >= 0
    here = np.bincount(final_ids[known], weights=word_counts[known], minlength=len(vocab)).astype(np.int64)
    return Encoded(vocab, n_lines, n_words, kept, here)


class _Pruning:
    """How the table of distinct tokens was kept within `config.COUNT_MAX_DISTINCT` (word2vec's
    `ReduceVocab`): each time it is full, the tokens seen at most `threshold` times so far are
    dropped, and the threshold rises by one for the next time (so it also counts the times)."""

    def __init__(self):
        self.dropped = self.threshold = 0

    def prune(self, ids: dict[bytes, int], counts: np.ndarray) -> dict[bytes, int]:
        self.threshold += 1
        keep = counts[np.fromiter(ids.values(), np.int64, len(ids))] > self.threshold
        kept = {w: i for (w, i), k in zip(ids.items(), keep.tolist()) if k}
        self.dropped += len(ids) - len(kept)
        logger.info("Counted %s distinct tokens: dropped the %s seen at most %s.",
                    f"{len(ids):,}", f"{len(ids) - len(kept):,}", counted(self.threshold, "time"))
        return kept


def read_chunks(path: str | Path, chunk_tokens: int = config.CHUNK_TOKENS,
                whole_sentences: bool = True) -> Iterator[np.ndarray]:
    """Yield chunks of an encoded corpus (ending on sentence boundaries, by default)."""
    ids = np.memmap(path, dtype=np.int32, mode="r") if Path(path).stat().st_size else np.zeros(0, np.int32)
    start = 0
    while start < len(ids):
        stop = min(start + chunk_tokens, len(ids))
        if whole_sentences and stop < len(ids):
            ends = np.flatnonzero(ids[start:stop] == SENTENCE_END)
            if len(ends):
                stop = start + ends[-1] + 1
        yield np.array(ids[start:stop])
        start = stop
