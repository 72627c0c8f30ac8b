"""Skip-gram training data: subsampled runs of text with word2vec's dynamic windows.

Batches are runs of consecutive kept tokens rather than lists of (centre,
context) pairs: each token is looked up once per step and its pairs with its
neighbours are scored by shifting the run against itself (see
`SkipGramNCE.nce_loss`), which reads and updates about six times fewer rows
than a batch of explicit pairs.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np

SENTENCE_END = -1


def subsample(
    ids: np.ndarray, keep_prob: np.ndarray, window: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Subsample a chunk of encoded text and draw each kept token's window.

    Args:
        ids: int32 `[n]` word ids, with `SENTENCE_END` (-1) after each sentence.
        keep_prob: float32 `[vocab]` probability of keeping each word.
        window: Largest window.
        rng: Random generator (subsampling and windows).

    Returns:
        `(words, sentences, reach)`, int `[m]` for the `m` kept tokens: word id,
        sentence number within the chunk, and window drawn uniformly from
        `1..window`, as word2vec does.
    """
    is_end = ids == SENTENCE_END
    sentence = np.cumsum(is_end, dtype=np.int64)
    words = np.where(is_end, 0, ids)
    keep = ~is_end & (rng.random(len(ids), dtype=np.float32) < keep_prob[words])
    reach = window - rng.integers(0, window, size=int(keep.sum()), dtype=np.int32)
    return words[keep].astype(np.int32), sentence[keep], reach


def token_runs(
    chunks: Iterable[np.ndarray],
    keep_prob: np.ndarray,
    window: int,
    batch_tokens: int,
    rng: np.random.Generator,
    counter: list[int] | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Yield runs of exactly `batch_tokens` kept tokens, `(words, sentences, reach)`.

    Runs continue across chunks; the last, shorter run of the corpus is
    dropped. Sentence numbers are relative to the run's first token, so only
    their equality means anything. Pairs that straddle two runs are lost: about
    `window**2 / batch_tokens` of all pairs, negligible for large runs.

    Args:
        chunks: Encoded text, as from `read_chunks`.
        keep_prob, window, rng: As for `subsample`.
        batch_tokens: Tokens per run.
        counter: If given, `counter[0]` is increased by the raw tokens read.
    """
    words = sentences = reach = None
    offset = 0
    for chunk in chunks:
        w, s, r = subsample(chunk, keep_prob, window, rng)
        s = s + offset
        offset = int(s[-1]) + 1 if len(s) else offset + 1
        if words is not None:
            w, s, r = np.concatenate([words, w]), np.concatenate([sentences, s]), np.concatenate([reach, r])
        usable = len(w) // batch_tokens * batch_tokens
        if counter is not None:
            counter[0] += len(chunk)
        for start in range(0, usable, batch_tokens):
            stop = start + batch_tokens
            yield w[start:stop], (s[start:stop] - s[start]).astype(np.int32), r[start:stop]
        words, sentences, reach = w[usable:], s[usable:], r[usable:]


def skipgram_pairs(words: np.ndarray, sentences: np.ndarray, reach: np.ndarray, window: int):
    """The explicit (centre, context) pairs a run stands for, for tests and checks.

    Returns:
        `(centres, contexts)`: int32 arrays of token positions in the run.
    """
    centres, contexts = [], []
    for offset in range(1, window + 1):
        same = sentences[:-offset] == sentences[offset:]
        left = np.arange(len(words) - offset)
        forward = same & (reach[:-offset] >= offset)
        backward = same & (reach[offset:] >= offset)
        centres += [left[forward], left[backward] + offset]
        contexts += [left[forward] + offset, left[backward]]
    return np.concatenate(centres).astype(np.int32), np.concatenate(contexts).astype(np.int32)

