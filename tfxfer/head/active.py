"""Which examples to label next: uncertain ones, spread over the feature space.

Uncertainty alone picks near-duplicates (twenty rewordings of the same
borderline sentence); diversity alone ignores what the model already knows.
`rank_for_labeling` takes the most uncertain examples (smallest margin
between the two top calibrated scores) as candidates, then picks greedily
the candidate that is most uncertain *and* farthest from those already
picked (`uncertainty x distance`, a k-center greedy weighted by uncertainty).
`UncertainPool` keeps the candidates while a large pool streams by.
"""

from __future__ import annotations

import heapq
import itertools

import numpy as np

from tfxfer import config
from tfxfer.head.train import l2_normalize


def margin_uncertainty(scores: np.ndarray) -> np.ndarray:
    """`1 - (top score - second score)`: 1 for a coin toss, 0 for certainty. float `[n]`."""
    top2 = -np.sort(-np.asarray(scores, np.float64), axis=1)[:, :2]
    return 1.0 - (top2[:, 0] - top2[:, 1])


class UncertainPool:
    """The `size` most uncertain examples seen so far, with their features (bounded memory).

    Args:
        size: How many candidates to keep.
    """

    def __init__(self, size: int):
        self.size = size
        self._heap: list = []
        self._counter = itertools.count()
        self.seen = 0

    def add(self, items, features: np.ndarray, scores: np.ndarray) -> None:
        """Offer a batch: `items` (any objects), float `[b, dim]` features, `[b, classes]` scores."""
        for item, feature, score, u in zip(items, features, scores, margin_uncertainty(scores)):
            self.seen += 1
            entry = (float(u), next(self._counter), item, np.asarray(feature, np.float32), np.asarray(score))
            if len(self._heap) < self.size:
                heapq.heappush(self._heap, entry)
            elif entry[0] > self._heap[0][0]:
                heapq.heapreplace(self._heap, entry)

    def candidates(self) -> tuple[list, np.ndarray, np.ndarray]:
        """`(items, features, scores)` of the kept examples, in arrival order."""
        entries = sorted(self._heap, key=lambda e: e[1])
        if not entries:
            return [], np.zeros((0, 0), np.float32), np.zeros((0, 0))
        return [e[2] for e in entries], np.stack([e[3] for e in entries]), np.stack([e[4] for e in entries])


def rank_for_labeling(features: np.ndarray, scores: np.ndarray, n: int,
                      candidates: int | None = None) -> np.ndarray:
    """Indices of `n` examples to label, in the order they were picked.

    Args:
        features: float `[m, dim]` feature vectors of the unlabeled examples.
        scores: float `[m, classes]` calibrated scores of the current model.
        n: How many to pick (all of them when `m <= n`).
        candidates: Consider only this many of the most uncertain. Defaults
            to `max(config.SUGGEST_CANDIDATES_PER_PICK * n, 100)`.

    Returns:
        int `[min(n, m)]` row indices into `features`.
    """
    m = len(features)
    if m == 0 or n <= 0:
        return np.zeros(0, np.int64)
    uncertainty = margin_uncertainty(scores)
    pool = np.argsort(-uncertainty, kind="stable")[: candidates or max(config.SUGGEST_CANDIDATES_PER_PICK * n, 100)]
    unit = l2_normalize(np.asarray(features, np.float32)[pool])
    u = uncertainty[pool]
    distance = np.full(len(pool), 2.0)  # cosine distance to the nearest pick; 2 is the largest
    picked = []
    for _ in range(min(n, len(pool))):
        gain = u * distance
        gain[picked] = -np.inf
        best = int(np.argmax(gain))
        picked.append(best)
        distance = np.minimum(distance, 1.0 - unit @ unit[best])
    return pool[np.array(picked, np.int64)]
