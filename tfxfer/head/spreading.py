"""Label spreading for pseudo-labels: labels flowing over the k-nearest-neighbour graph of the rows."""

from __future__ import annotations

import collections
import hashlib
import threading
import warnings

import numpy as np
import scipy.sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.semi_supervised import LabelSpreading

from tfxfer import config
from tfxfer.head.train import stack_rows, stratified_sample

# Spreadings remembered: a search asks for each fold's again for each share of pseudo-labels it
# tries, and a text head's graph takes 1 - 2 s on 3,400 texts with their lexical columns.
MEMORY = 16

_memory: collections.OrderedDict = collections.OrderedDict()
_lock = threading.Lock()


def spread(z, index: np.ndarray, zu) -> tuple[np.ndarray, np.ndarray]:
    """Label distributions of unlabeled rows, spread from labeled ones (scikit-learn's `LabelSpreading`).

    Over a graph of each row's `config.SPREADING_NEIGHBORS` nearest, with
    `config.SPREADING_ALPHA`; of the labeled rows, a stratified sample of
    `config.SPREADING_MAX_LABELED` where there are more. Remembered for the same rows and labels: the
    search's trials differ only in the share of them kept, and the graph is
    most of a fit's time (1 - 2 s on 3,400 texts with lexical columns).

    Args:
        z: float `[n, dim]` labeled rows, normalised; NumPy, or SciPy sparse (lexical columns).
        index: int `[n]` their class indices.
        zu: float `[m, dim]` unlabeled rows, as `z`.

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
    neighbors = min(config.SPREADING_NEIGHBORS, x.shape[0] - 1)
    spreading = LabelSpreading(kernel="knn", n_neighbors=neighbors, alpha=config.SPREADING_ALPHA, max_iter=100)
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


def _digest(x, index: np.ndarray) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    parts = (x.data, x.indices, x.indptr) if scipy.sparse.issparse(x) else (x,)
    for part in (*parts, np.asarray(index), np.array([*x.shape, config.SPREADING_NEIGHBORS])):
        h.update(np.ascontiguousarray(part).view(np.uint8).ravel())
        h.update(str(part.dtype).encode())
    h.update(repr(config.SPREADING_ALPHA).encode())
    return h.digest()
