"""Label spreading for pseudo-labels: labels flowing over the k-nearest-neighbour graph of the rows."""

from __future__ import annotations

import collections
import hashlib
import threading
import warnings

import numpy as np
import scipy.sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.semi_supervised import LabelSpreading

from tfxfer import config
from tfxfer.head.train import stack_rows, stratified_sample

# Spreadings remembered: a search asks for each fold's again for each share of pseudo-labels it tries.
MEMORY = 16

_memory: collections.OrderedDict = collections.OrderedDict()
# Unlabeled rows whose neighbours are remembered: those of the last few normalisations (one, for "l2").
NEIGHBOUR_MEMORY = 4
_neighbours: collections.OrderedDict = collections.OrderedDict()
_neighbour_locks: dict = {}
_lock = threading.Lock()


def spread(z, index: np.ndarray, zu, lexical: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Label distributions of unlabeled rows, spread from labeled ones (scikit-learn's `LabelSpreading`).

    Over a graph of each row's `config.SPREADING_NEIGHBORS` nearest, with
    `config.SPREADING_ALPHA`; of the labeled rows, a stratified sample of
    `config.SPREADING_MAX_LABELED` where there are more. Remembered for the same rows and labels: the
    search's trials differ only in the share of them kept, and the spreading
    is most of a fit's time.

    Args:
        z: float `[n, dim]` labeled rows, normalised; NumPy, or SciPy sparse (lexical columns).
        index: int `[n]` their class indices.
        zu: float `[m, dim]` unlabeled rows, as `z`.
        lexical: The trailing columns that are lexical ones (`tfxfer.features.lexical`), sparse.

    Returns:
        `(classes, distributions)`: the class indices spread (int `[c]`) and float `[m, c]`, each row's
        weights over them (not all finite, or all zero, where nothing reached it).
    """
    x = stack_rows(z, zu)
    key = _digest(x, index)
    with _lock:
        if key in _memory:
            _memory.move_to_end(key)
            return _memory[key]
    if z.shape[0] > config.SPREADING_MAX_LABELED:
        keep = stratified_sample(index, config.SPREADING_MAX_LABELED, seed=0, least=1)
        z, index = z[keep], index[keep]
        x = stack_rows(z, zu)
    graph = neighbour_graph(z, zu, min(config.SPREADING_NEIGHBORS, x.shape[0] - 1), lexical)
    spreading = LabelSpreading(kernel=lambda *_: graph, alpha=config.SPREADING_ALPHA, max_iter=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        spreading.fit(x, np.concatenate([index, np.full(zu.shape[0], -1)]))
    result = spreading.classes_, spreading.label_distributions_[z.shape[0]:]
    for array in result:  # shared by every caller that asks again
        array.flags.writeable = False
    with _lock:
        _memory[key] = result
        while len(_memory) > MEMORY:
            _memory.popitem(last=False)
    return result


def neighbour_graph(z, zu, k: int, lexical: int = 0) -> scipy.sparse.csr_matrix:
    """Each row of `[z; zu]` joined to its `k` nearest, itself first: scikit-learn's
    `kneighbors_graph` of those rows (connectivity, float64 CSR `[n + m, n + m]`).

    The unlabeled rows' neighbours among themselves are remembered: every
    fold of the search and every subsample of the learning curve meets the
    same unlabeled rows, and their distances to each other were most of a
    graph's cost (5,000 unlabeled texts: 2 s of each fit).

    Args:
        z: `[n, dim]` labeled rows; zu: `[m, dim]` unlabeled rows (NumPy, or SciPy sparse).
        k: Neighbours of each row, itself included; at most `n + m`.
        lexical: The trailing columns that are sparse lexical ones (`distances`).
    """
    n, m = z.shape[0], zu.shape[0]
    own = _unlabeled_neighbours(zu, k, lexical)
    across = distances(z, zu, lexical)
    # Each row's nearest others of either kind, merged (labeled first among equals).
    nearest = [_merge(_nearest(distances(z, z, lexical), k - 1, skip_self=True), _nearest(across, k - 1), n, k),
               _merge(_nearest(across.T, k - 1), own, n, k)]
    rows = np.hstack([np.arange(n + m)[:, None], np.vstack(nearest)])
    return scipy.sparse.csr_matrix((np.ones(rows.size), rows.ravel(), np.arange(0, rows.size + 1, k)),
                                   shape=(n + m, n + m))


def distances(a, b, lexical: int = 0) -> np.ndarray:
    """Euclidean distances `[len(a), len(b)]` between rows whose last `lexical` columns are sparse.

    scikit-learn's `euclidean_distances` of the dense columns and of the
    lexical ones, added in squares: as one sparse matrix the dense columns
    are a sparse product with every entry filled, 10x the time.
    """
    if not scipy.sparse.issparse(a) or not lexical:
        return euclidean_distances(a, b)
    dense = a.shape[1] - lexical
    squared = euclidean_distances(a[:, :dense].toarray(), b[:, :dense].toarray(), squared=True)
    squared += euclidean_distances(a[:, dense:], b[:, dense:], squared=True)
    return np.sqrt(squared, out=squared)


def _nearest(d: np.ndarray, count: int, skip_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """`(distances, indices)` of each row's `count` smallest entries of `d` (or as many as it has),
    nearest first; with `skip_self`, `d` is square and each row's own entry is left out (its
    diagonal overwritten: callers pass a matrix of their own, up to 5,000 x 5,000)."""
    if skip_self:
        np.fill_diagonal(d, np.inf)
    count = min(count, d.shape[1] - skip_self)
    if count <= 0:
        return np.zeros((d.shape[0], 0)), np.zeros((d.shape[0], 0), np.int64)
    indices = np.argpartition(d, count - 1, axis=1)[:, :count]
    near = np.take_along_axis(d, indices, 1)
    order = np.argsort(near, axis=1, kind="stable")
    return np.take_along_axis(near, order, 1), np.take_along_axis(indices, order, 1)


def _merge(first, second, offset: int, k: int) -> np.ndarray:
    """int `[rows, k - 1]`: the nearest of two `(distances, indices)` candidate lists, the second's
    indices counted from `offset`."""
    near = np.hstack([first[0], second[0]])
    indices = np.hstack([first[1], second[1] + offset])
    order = np.argsort(near, axis=1, kind="stable")[:, : k - 1]
    return np.take_along_axis(indices, order, 1)


def _unlabeled_neighbours(zu, k: int, lexical: int) -> tuple[np.ndarray, np.ndarray]:
    """`_nearest` of `zu`'s rows among themselves: remembered for the same rows."""
    key = _digest(zu, np.array([k]))
    with _lock:
        key_lock = _neighbour_locks.setdefault(key, threading.Lock())
    with key_lock:  # one thread finds them, the folds beside it wait
        with _lock:
            if key in _neighbours:
                _neighbours.move_to_end(key)
                return _neighbours[key]
        result = _nearest(distances(zu, zu, lexical), k - 1, skip_self=True)
        with _lock:
            _neighbours[key] = result
            while len(_neighbours) > NEIGHBOUR_MEMORY:
                _neighbour_locks.pop(_neighbours.popitem(last=False)[0], None)
    return result


def _digest(x, index: np.ndarray) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    parts = (x.data, x.indices, x.indptr) if scipy.sparse.issparse(x) else (x,)
    for part in (*parts, np.asarray(index), np.array([*x.shape, config.SPREADING_NEIGHBORS])):
        h.update(np.ascontiguousarray(part).view(np.uint8).ravel())
        h.update(str(part.dtype).encode())
    h.update(repr(config.SPREADING_ALPHA).encode())
    return h.digest()
