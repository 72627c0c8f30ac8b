"""Read a corpus once: tokenize, count and encode it to word ids on disk.

One pass over the text: batches of lines are tokenized in parallel
(`tf.data`, the same TF tokenizer the module runs), each distinct token gets a
provisional id, and the provisional ids are written to disk while counts
accumulate. Once the vocabulary is known, the provisional ids are remapped to
final ones (out-of-vocabulary tokens dropped) chunk by chunk, with NumPy: the
text is never tokenized twice. The table of distinct tokens is kept within
`config.COUNT_MAX_DISTINCT` by dropping the rarest as word2vec does, and the
tokens kept are numbered anew each time, so that the counts stay as small as
the table: how each numbering maps to the next is kept on disk until the end.

The encoded corpus is an int32 file (one id per kept token, `SENTENCE_END` after
each line) read back in chunks, so training memory is bounded by the vocabulary
and the chunk size, never by the corpus.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
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
    make_vocab: Callable[[collections.Counter, collections.Counter], Vocabulary],
    progress: Callable[[int], None] | None = None,
) -> Encoded:
    """Tokenize and count `lines` in one pass, and write their ids to `path` (int32).

    Args:
        lines: The corpus (read once).
        path: The encoded corpus to write.
        make_vocab: Builds the vocabulary from the counts (`Counter` of str) and
            a sample of the tokens dropped to keep counting within memory
            (`Counter` of str: each one's count scaled so that they add up to
            all the dropped tokens; empty when none were); it may raise to
            refuse the corpus.
        progress: Called with the number of tokens of each batch read.

    Returns:
        `Encoded`.
    """
    path = Path(path)
    provisional = path.with_name(path.name + ".provisional")
    ids: dict[bytes, int] = {}
    pruned = _Pruning(provisional)
    counts = np.zeros(1 << 16, np.int64)
    n_lines = n_words = written = 0
    failures = []
    try:
        with open(provisional, "wb") as f:
            for unique, index, lengths in _unique_tokens(lines, failures):
                unique, index, lengths = unique.numpy(), index.numpy(), lengths.numpy()
                # A new token's id is the next number: ids are 0, 1, 2... in the table's order (`prune` too).
                mapped = np.fromiter((ids.setdefault(w, len(ids)) for w in unique), np.int32, len(unique))
                if len(ids) > len(counts):
                    counts = np.concatenate([counts, np.zeros(max(len(ids), len(counts)), np.int64)])
                np.add.at(counts, mapped, np.bincount(index, minlength=len(unique)))
                encoded = np.insert(mapped[index], np.cumsum(lengths), SENTENCE_END).astype(np.int32)
                encoded.tofile(f)
                written += len(encoded)
                n_lines += len(lengths)
                n_words += len(index)
                if len(ids) > config.COUNT_MAX_DISTINCT:
                    ids, counts = pruned.prune(ids, counts, written)
                if progress:
                    progress(len(index))
        if failures:
            raise failures[0]
        return _finish(provisional, path, ids, counts, pruned, make_vocab, n_lines, n_words)
    finally:
        provisional.unlink(missing_ok=True)
        pruned.remove()


def _finish(provisional: Path, path: Path, ids: dict[bytes, int], counts: np.ndarray, pruned: _Pruning,
            make_vocab: Callable, n_lines: int, n_words: int) -> Encoded:
    """Build the vocabulary from the counts and write the final ids of the provisional ones to `path`."""
    if pruned.threshold:
        logger.warning(
            "The corpus has more than %s distinct tokens: to count them within memory, %s seen at most %s "
            "when the table filled were dropped, as word2vec does (config.COUNT_MAX_DISTINCT). Words near "
            "--min-count whose first occurrences were dropped may be missing or undercounted.",
            f"{config.COUNT_MAX_DISTINCT:,}", f"{pruned.dropped:,}", counted(pruned.threshold, "time"))
    words = [w.decode("utf-8") for w in ids]  # their provisional ids are 0, 1, 2... in this order
    vocab = make_vocab(collections.Counter(dict(zip(words, counts[: len(words)].tolist()))), pruned.sample)
    # Provisional id -> final id; tokens out of the vocabulary to _OOV (pruned ones: `segments`).
    remap = np.array([vocab.index.get(w, _OOV) for w in words] or [_OOV], np.int32)
    kept = 0
    with open(path, "wb") as f:
        for chunk, to_final in pruned.segments(provisional, remap):
            final = np.where(chunk >= 0, to_final[np.maximum(chunk, 0)], chunk)
            final = final[final != _OOV]
            final.tofile(f)
            kept += len(final)
    known = remap >= 0
    here = np.bincount(remap[known], weights=counts[: len(remap)][known], minlength=len(vocab)).astype(np.int64)
    return Encoded(vocab, n_lines, n_words, kept, here)


class _Pruning:
    """How the table of distinct tokens was kept within `config.COUNT_MAX_DISTINCT` (word2vec's
    `ReduceVocab`): each time it is full, the tokens seen at most `threshold` times so far are
    dropped, and the threshold rises by one for the next time (so it also counts the times).

    The tokens kept are numbered anew from 0, so that the counts never outgrow the table; the
    ids written before then are in the old numbering, and how it maps to the new one (-1:
    dropped) is saved beside the provisional file, to be followed at the end (`segments`).
    """

    def __init__(self, provisional: Path):
        self.provisional = provisional
        self.dropped = self.threshold = 0
        self.ends: list[int] = []  # where each numbering's ids end in the provisional file
        # What was dropped, for checks that read the counts (a corpus mostly in an unspaced script
        # is mostly rare clauses, which pruning drops first): a random sample of the dropped tokens,
        # each one's count scaled to stand for its share of all the dropped ones.
        self.sample: collections.Counter = collections.Counter()
        self._rng = np.random.default_rng(0)

    def _renumbering(self, n: int) -> Path:
        return self.provisional.with_name(f"{self.provisional.name}.{n}.npy")

    def prune(self, ids: dict[bytes, int], counts: np.ndarray, written: int) -> tuple[dict[bytes, int], np.ndarray]:
        """Drop the rarest tokens of `ids` after `written` ids; returns the kept ones renumbered, and their counts."""
        self.threshold += 1
        counts = counts[: len(ids)]  # ids are 0, 1, 2... in the table's order
        keep = counts > self.threshold
        renumbered = np.where(keep, np.cumsum(keep) - 1, -1).astype(np.int32)  # kept ones 0, 1, 2... in order
        np.save(self._renumbering(len(self.ends)), renumbered)
        self.ends.append(written)
        self._sample(ids, counts, np.flatnonzero(~keep))
        self.dropped += len(ids) - int(keep.sum())
        logger.info("Counted %s distinct tokens: dropped the %s seen at most %s.",
                    f"{len(ids):,}", f"{len(ids) - int(keep.sum()):,}", counted(self.threshold, "time"))
        kept = {w: i for w, i in zip(ids, renumbered.tolist()) if i >= 0}
        return kept, counts[keep]

    def _sample(self, ids: dict[bytes, int], counts: np.ndarray, gone: np.ndarray) -> None:
        """Add to `sample` a random `config.DROPPED_SAMPLE` of the tokens of ids `gone` (of `ids`, counted in `counts`)."""
        if not len(gone):
            return
        picked = np.sort(self._rng.choice(gone, min(len(gone), config.DROPPED_SAMPLE), replace=False))
        scale = counts[gone].sum() / max(counts[picked].sum(), 1)
        tokens, at = iter(ids), 0
        for i in picked.tolist():
            token = next(itertools.islice(tokens, i - at, None))  # skips in C, no list of all tokens
            at = i + 1
            self.sample[token.decode("utf-8")] += float(counts[i]) * scale

    def segments(self, provisional: Path, remap: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """`(chunk, to_final)` over the provisional file: each chunk with the map from its numbering
        to final ids, given `remap` for the last numbering. One map at a time is in memory; the
        others wait on disk, each in place of the renumbering it was made from."""
        later = remap
        for n in reversed(range(len(self.ends))):
            renumbered = np.load(self._renumbering(n))
            later = np.where(renumbered >= 0, later[np.maximum(renumbered, 0)], _OOV).astype(np.int32)
            np.save(self._renumbering(n), later)
        for n, (start, stop) in enumerate(zip([0, *self.ends], [*self.ends, None])):
            to_final = np.load(self._renumbering(n)) if n < len(self.ends) else remap
            for chunk in read_chunks(provisional, config.CHUNK_TOKENS, whole_sentences=False, start=start, stop=stop):
                yield chunk, to_final

    def remove(self) -> None:
        for n in range(len(self.ends)):
            self._renumbering(n).unlink(missing_ok=True)


def read_chunks(path: str | Path, chunk_tokens: int = config.CHUNK_TOKENS, whole_sentences: bool = True,
                start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
    """Yield chunks of an encoded corpus (ending on sentence boundaries, by default), from id `start` to `stop`."""
    ids = np.memmap(path, dtype=np.int32, mode="r") if Path(path).stat().st_size else np.zeros(0, np.int32)
    end = len(ids) if stop is None else min(stop, len(ids))
    while start < end:
        until = min(start + chunk_tokens, end)
        if whole_sentences and until < end:
            ends = np.flatnonzero(ids[start:until] == SENTENCE_END)
            if len(ends):
                until = start + ends[-1] + 1
        yield np.array(ids[start:until])
        start = until


def shuffled_chunks(path: str | Path, rng: np.random.Generator, chunk_tokens: int = config.CHUNK_TOKENS,
                    blocks: int = config.SHUFFLE_BLOCKS) -> Iterator[np.ndarray]:
    """Yield an encoded corpus in chunks of about `chunk_tokens`, its lines in a random order.

    A corpus is often several sources, one after another (general text, then a data set's own). Read
    in order, every batch holds one source's lines, and the last steps of each epoch, at its lowest
    learning rates, only the last source's. Memory stays bounded by the chunk: the corpus's
    line-aligned blocks of `chunk_tokens // blocks` tokens are visited in a random order, `blocks` at
    a time, and the lines of those are shuffled together.

    Args:
        path: An encoded corpus (`SENTENCE_END` after each line).
        rng: Draws the order.
        chunk_tokens: Tokens per chunk, about. Defaults to `config.CHUNK_TOKENS`.
        blocks: Blocks per chunk. Defaults to `config.SHUFFLE_BLOCKS`.
    """
    ids = np.memmap(path, dtype=np.int32, mode="r") if Path(path).stat().st_size else np.zeros(0, np.int32)
    bounds = _line_blocks(ids, max(1, chunk_tokens // blocks))
    order = rng.permutation(len(bounds) - 1)
    for first in range(0, len(order), blocks):
        chunk = np.concatenate([ids[bounds[b]:bounds[b + 1]] for b in order[first:first + blocks]])
        yield _shuffled_lines(chunk, rng)


def _line_blocks(ids: np.ndarray, block_tokens: int) -> np.ndarray:
    """Boundaries of `ids` in blocks of at least `block_tokens` ids (but the last) that end where lines do."""
    bounds = [0]
    while bounds[-1] < len(ids):
        at = bounds[-1] + block_tokens
        while at < len(ids):  # on to the end of the line `at` is in
            ends = np.flatnonzero(ids[at:at + block_tokens] == SENTENCE_END)
            if len(ends):
                at += int(ends[0]) + 1
                break
            at += block_tokens
        bounds.append(min(at, len(ids)))
    return np.array(bounds)


def _shuffled_lines(ids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`ids` with its lines (each ending in `SENTENCE_END`; the last may not) in a random order."""
    ends = np.flatnonzero(ids == SENTENCE_END) + 1
    if not len(ends) or ends[-1] != len(ids):
        ends = np.append(ends, len(ids))
    starts = np.concatenate([[0], ends[:-1]])
    order = rng.permutation(len(ends))
    lengths = (ends - starts)[order]
    return ids[np.repeat(starts[order] - (np.cumsum(lengths) - lengths), lengths) + np.arange(len(ids))]
