"""Skip-gram training data (dynamic windows over an encoded corpus) and its model."""

from __future__ import annotations

import numpy as np

SENTENCE_END = -1


def skipgram_pairs(
    ids: np.ndarray,
    keep_prob: np.ndarray,
    window: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Turn a chunk of encoded text into shuffled (centre, context) pairs.

    Each token survives subsampling with `keep_prob[token]`; then each centre word
    draws its window uniformly from `1..window` and pairs with every context word
    that close to it in the same sentence, as word2vec does.

    Args:
        ids: int32 `[n]` word ids, with `SENTENCE_END` (-1) after each sentence.
        keep_prob: float32 `[vocab]` probability of keeping each word.
        window: Largest window.
        rng: Random generator (subsampling, windows and the shuffle).

    Returns:
        `(centres, contexts)`, two int32 arrays of the same length.
    """
    is_end = ids == SENTENCE_END
    sentence = np.cumsum(is_end, dtype=np.int64)
    words = np.where(is_end, 0, ids)
    keep = ~is_end & (rng.random(len(ids), dtype=np.float32) < keep_prob[words])
    words, sentence = words[keep], sentence[keep]
    reach = window - rng.integers(0, window, size=len(words), dtype=np.int32)
    centres, contexts = [], []
    for offset in range(1, window + 1):
        same = sentence[:-offset] == sentence[offset:]
        left, right = words[:-offset], words[offset:]
        forward = same & (reach[:-offset] >= offset)
        backward = same & (reach[offset:] >= offset)
        centres += [left[forward], right[backward]]
        contexts += [right[forward], left[backward]]
    centres = np.concatenate(centres)
    contexts = np.concatenate(contexts)
    order = rng.permutation(len(centres))
    return centres[order].astype(np.int32), contexts[order].astype(np.int32)


def expected_pairs_per_token(window: int) -> float:
    """Mean number of pairs a kept token takes part in as a centre word."""
    return 2 * (window + 1) / 2
