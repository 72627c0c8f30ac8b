"""Which examples to label next: typical ones or uncertain ones (`tfxfer.suggest` chooses).

`typical_picks` (TypiClust) clusters the pool with the labeled examples and
takes, from the largest clusters the labels do not cover, the example most
like its neighbours: with few labels these teach a head more than what it
is unsure of (`scripts/bench_active.py`). `PoolSample` keeps a uniform
sample of a pool that streams by.

`rank_for_labeling` takes the most uncertain examples (smallest margin
between the two top calibrated scores) as candidates, then picks greedily
the candidate that is most uncertain *and* farthest from those already
picked (`uncertainty x distance`, a k-center greedy weighted by
uncertainty), so the picks are not near-duplicates. `UncertainPool` keeps
the candidates while a large pool streams by. With strongly imbalanced
labels, under a head that weighs the classes equally, these are where the
rare classes begin, and they find them; typical examples mostly come from
the common class there.
"""

from __future__ import annotations

import heapq
import itertools
import random
import warnings

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
            # Copies: a row of a batch (a view) would keep the whole batch, lexical columns and all, alive.
            entry = (float(u), next(self._counter), item, np.array(feature, np.float32), np.array(score))
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


class PoolSample:
    """A uniform random sample of at most `size` pool examples (reservoir sampling).

    Args:
        size: How many to keep.
        seed: Seed of the sampling.
    """

    def __init__(self, size: int, seed: int = 0):
        self.size = size
        self._rng = random.Random(seed)
        self._entries: list = []
        self.seen = 0

    def add(self, items, features: np.ndarray, scores: np.ndarray) -> None:
        """Offer a batch: `items` (any objects), float `[b, dim]` features, `[b, classes]` scores."""
        for item, feature, score in zip(items, features, scores):
            self.seen += 1
            slot = len(self._entries) if len(self._entries) < self.size else self._rng.randrange(self.seen)
            if slot < self.size:  # copies, as in `UncertainPool.add`
                entry = (item, np.array(feature, np.float32), np.array(score))
                if slot == len(self._entries):
                    self._entries.append(entry)
                else:
                    self._entries[slot] = entry

    def sample(self) -> tuple[list, np.ndarray, np.ndarray]:
        """`(items, features, scores)` of the kept examples."""
        if not self._entries:
            return [], np.zeros((0, 0), np.float32), np.zeros((0, 0))
        items, features, scores = zip(*self._entries)
        return list(items), np.stack(features), np.stack(scores)


def typical_picks(pool_features: np.ndarray, n: int, labeled_features: np.ndarray | None = None,
                  seed: int = 0) -> np.ndarray:
    """Indices of `n` pool examples to label: the most typical of the largest uncovered clusters.

    TypiClust (Hacohen, Dekel and Weinshall, "Active learning on a budget",
    ICML 2022): the labeled and pool examples (rows centered on their mean,
    then scaled to unit length: `config.TYPICAL_CENTER`) are
    clustered by k-means into `labeled + n` clusters (at most
    `config.TYPICAL_MAX_CLUSTERS`); clusters are taken in order of fewest
    labeled examples, then largest, skipping those of fewer than
    `config.TYPICAL_MIN_CLUSTER_SIZE`; from each, the example with the
    smallest mean cosine distance to its `config.TYPICAL_NEIGHBOURS` nearest
    neighbours in the cluster. With few labels, what a model is unsure of is
    mostly noise; examples that stand for many others teach it more. Pool
    rows of all-zero features (texts with no word the module knows) take
    their share of the `n` picks at random, spread through the order.

    Args:
        pool_features: float `[m, dim]` feature vectors of the unlabeled examples.
        n: How many to pick (all of them when `m <= n`).
        labeled_features: float `[l, dim]` of the labeled examples, or `None`
            (then every cluster counts as uncovered).
        seed: Seed of k-means and of the picks among all-zero rows.

    Returns:
        int `[min(n, m)]` row indices into `pool_features`, in the order picked.
    """
    if len(pool_features) <= n:
        return np.arange(len(pool_features), dtype=np.int64)
    # Rows without features (texts with no known word) are alike: none stands for more of the
    # pool than another, so they get their share of the picks, at random. Left out, they were
    # never suggested: on names, 80% unknown to the module, the picks came from the 20% it
    # knows, 38% women's against 63% in all: 3.3 points behind random choice at worst, 2.4 now
    # (scripts/bench_active.py; the other sets have too few such rows to get a pick).
    featured = np.asarray(pool_features).any(1)
    blank = np.flatnonzero(~featured)
    n_blank = min(len(blank), max(round(n * len(blank) / len(featured)), n - int(featured.sum())))
    rng = np.random.default_rng(seed)
    from_blank = rng.choice(blank, n_blank, replace=False)
    typical = _typical(pool_features, featured, n - n_blank, labeled_features, seed)
    # Spread through the order, so that labeling the first few suggestions samples both.
    slots = np.floor(np.linspace(0, n - 1, n_blank) + 0.5).astype(int)
    order = np.empty(n, np.int64)
    order[slots] = from_blank
    order[np.setdiff1d(np.arange(n), slots)] = typical
    return order


def _typical(pool_features, featured, n, labeled_features, seed) -> np.ndarray:
    """TypiClust's `n` picks among the `featured` pool rows (indices into the pool)."""
    from sklearn.cluster import KMeans, MiniBatchKMeans
    from sklearn.exceptions import ConvergenceWarning

    if n == 0:
        return np.zeros(0, np.int64)
    labeled = np.zeros((0, pool_features.shape[1]), np.float32) if labeled_features is None else labeled_features
    x = np.concatenate([labeled, pool_features]).astype(np.float32)
    if config.TYPICAL_CENTER:
        # Uncentered, a mean of many word vectors lies near the mean of all: on unit rows the longest
        # sentences were the "most typical" (sentence_polarity: 30.8 words a pick, 21.0 in the pool).
        # The mean leaves out featureless pool rows; they are never picked here, wherever they land.
        x -= x[np.concatenate([np.ones(len(labeled), bool), featured])].mean(0)
    x = l2_normalize(x)
    k = min(len(labeled) + n, config.TYPICAL_MAX_CLUSTERS, len(x))
    kmeans = (KMeans(k, n_init=1, random_state=seed) if k <= 50
              else MiniBatchKMeans(k, n_init=1, batch_size=max(1024, 3 * k), random_state=seed))
    with warnings.catch_warnings():  # duplicate rows leave fewer distinct clusters: harmless here
        warnings.simplefilter("ignore", ConvergenceWarning)
        cluster = kmeans.fit_predict(x)
    sizes = np.bincount(cluster, minlength=k)
    covered = np.bincount(cluster[: len(labeled)], minlength=k)
    ranked = np.lexsort((-sizes, covered))
    # Tiny clusters are outliers: visited only when the others run out.
    big = sizes[ranked] >= config.TYPICAL_MIN_CLUSTER_SIZE
    queue = [*ranked[big], *ranked[~big]]
    available = np.concatenate([np.zeros(len(labeled), bool), featured])
    picked: list[int] = []
    while len(picked) < n:
        for c in list(queue):  # round robin, as the paper's `i % clusters`
            members = np.flatnonzero((cluster == c) & available)
            if len(members) == 0:
                queue.remove(c)
                continue
            picked.append(_most_typical(x, members) - len(labeled))
            available[picked[-1] + len(labeled)] = False
            if len(picked) == n:
                break
    return np.array(picked, np.int64)


def _most_typical(x: np.ndarray, members: np.ndarray) -> int:
    """The member of the smallest mean cosine distance to its nearest neighbours among `members`."""
    if len(members) < 3:
        return int(members[0])
    points = x[members]
    distance = 1.0 - points @ points.T  # unit rows
    # Every neighbour up to TYPICAL_NEIGHBOURS: half the cluster's, with
    # Euclidean distances, picked worse examples on sentence_polarity (1.8
    # points below random at worst, against 0.1 this way).
    k = min(config.TYPICAL_NEIGHBOURS, len(members) - 1)
    nearest = np.sort(distance, axis=1)[:, 1 : k + 1]  # column 0 is the point itself
    return int(members[int(np.argmin(nearest.mean(1)))])
