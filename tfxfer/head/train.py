"""The head as TensorFlow ops: its forward pass, and training of hidden-layer heads.

`head_logits` is the one definition of what a head computes; training,
fine-tuning and the exported serving graph all call it, so they agree.

Linear heads are convex and solved by L-BFGS (see `HeadClassifier`). A head
with a hidden layer is trained here by full-batch Adam in one compiled loop,
which keeps the weights of the step with the lowest loss on held-out
examples (early stopping): cross-validation fits dozens of small heads, and
`keras.Model.fit` would pay milliseconds of Python per step.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import tensorflow as tf

# Floor of a column's standard deviation, relative to the mean one: a column
# that is constant on a few training rows must not blow up on new ones.
MIN_RELATIVE_SCALE = 1e-3


def normalizer(features: np.ndarray, kind: str, lexical: int = 0) -> tuple[bool, np.ndarray, np.ndarray]:
    """Statistics of a normalisation: `(l2, mean, scale)`.

    Args:
        features: float32 `[n, dim]` rows to estimate the statistics on
            (NumPy, or SciPy sparse where there are lexical columns).
        kind: `"l2"`, `"standardize"` or `"l2+standardize"` (see
            `config.HeadConfig.normalization`).
        lexical: The trailing columns that are lexical features
            (`tfxfer.features.lexical`), unit-length already: left as they are.

    Returns:
        `l2`: whether rows (their first `dim - lexical` columns) are first
        scaled to unit length; `mean`, `scale`: float32 `[dim]`, applied as
        `(x - mean) / scale`. Standardised rows are also divided by
        `sqrt(dim - lexical)`, so that their mean squared length is 1, as
        unit-length rows have: one L2 penalty fits all three kinds.
    """
    dim = features.shape[1] - lexical
    l2 = kind in ("l2", "l2+standardize")
    if kind == "l2":
        return True, np.zeros(dim + lexical, np.float32), np.ones(dim + lexical, np.float32)
    x = vectors(features, lexical)
    x = l2_normalize(x) if l2 else x
    std = x.std(0)
    std = np.maximum(std, MIN_RELATIVE_SCALE * max(float(std.mean()), 1e-12))
    mean, scale = x.mean(0).astype(np.float32), (std * np.sqrt(dim)).astype(np.float32)
    return l2, np.pad(mean, (0, lexical)), np.pad(scale, (0, lexical), constant_values=1)


def vectors(x, lexical: int = 0) -> np.ndarray:
    """The columns of `x` (NumPy or SciPy sparse) but its last `lexical`, as a dense array."""
    x = x[:, : x.shape[1] - lexical]
    return x.toarray() if scipy.sparse.issparse(x) else x


def l2_normalize(x, lexical: int = 0):
    """Rows (but their last `lexical` columns) scaled to unit length; all-zero rows stay zero
    (as `tf.math.l2_normalize`). Sparse `x` stays sparse."""
    if lexical:
        return stack_columns(l2_normalize(vectors(x, lexical)), x[:, -lexical:])
    x = vectors(x)
    return x / np.sqrt(np.maximum((x * x).sum(1, keepdims=True), 1e-12))


def normalize(x, l2: bool, mean: np.ndarray, scale: np.ndarray, lexical: int = 0):
    """`x` normalised by `normalizer`'s statistics: `((l2_normalize(x) if l2 else x) - mean) / scale`.

    The last `lexical` columns have mean 0 and scale 1 (`normalizer`), so a
    sparse `x` keeps them as they are, and sparse.
    """
    if not scipy.sparse.issparse(x) or not lexical:
        x = vectors(x)
        return ((l2_normalize(x, lexical) if l2 else x) - mean) / scale
    dim = x.shape[1] - lexical
    return stack_columns(normalize(vectors(x, lexical), l2, mean[:dim], scale[:dim]), x[:, dim:])


def forward(x, layers) -> np.ndarray:
    """Logits of normalised rows `x` (NumPy or SciPy sparse) under `layers`
    (`[(kernel [in, out], bias [out]), ...]`, ReLU between): float32 `[n, out]`."""
    for i, (kernel, bias) in enumerate(layers):
        x = x @ kernel + bias
        if i < len(layers) - 1:
            x = np.maximum(x, 0)
    return np.asarray(x, np.float32)


def stack_columns(dense: np.ndarray, sparse):
    """`[dense, sparse]` side by side, sparse (CSR) if `sparse` is."""
    if scipy.sparse.issparse(sparse):
        return scipy.sparse.hstack([scipy.sparse.csr_matrix(dense), sparse], format="csr")
    return np.concatenate([dense, sparse], axis=1)


def stack_rows(*blocks):
    """The rows of each block in turn: sparse (CSR) if any block is."""
    if any(scipy.sparse.issparse(b) for b in blocks):
        return scipy.sparse.vstack(blocks, format="csr")
    return np.concatenate(blocks)


def stratified_sample(index: np.ndarray, size: int, seed: int, least: int) -> np.ndarray:
    """Sorted rows of a random sample of about `size` of the class indices `index`: each class in its
    share, and at least `least` rows of it (or all it has)."""
    rng = np.random.default_rng(seed)
    counts = np.bincount(index)
    keep = np.maximum(np.rint(counts * size / len(index)).astype(int), np.minimum(counts, least))
    return np.sort(np.concatenate([rng.choice(np.flatnonzero(index == c), k, replace=False)
                                   for c, k in enumerate(keep)]))


def head_logits(features: tf.Tensor, spec: dict) -> tf.Tensor:
    """Logits of a head for float32 `[batch, dim]` features.

    Args:
        features: The feature vectors.
        spec: `HeadClassifier.spec()`: `l2`, `mean`, `scale`, `lexical`
            (trailing columns `l2` leaves alone; 0 if absent), `layers`
            (`[(kernel, bias), ...]`, ReLU between them); values may be NumPy
            arrays or `tf.Variable`s.

    Returns:
        float32 `[batch, classes]`.
    """
    x = features
    if spec["l2"]:
        lexical = int(spec.get("lexical", 0))
        if lexical:
            x = tf.concat([tf.math.l2_normalize(x[:, :-lexical], axis=1, epsilon=1e-12), x[:, -lexical:]], axis=1)
        else:
            x = tf.math.l2_normalize(x, axis=1, epsilon=1e-12)
    x = (x - spec["mean"]) / spec["scale"]
    layers = spec["layers"]
    for i, (kernel, bias) in enumerate(layers):
        x = tf.matmul(x, kernel) + bias
        if i < len(layers) - 1:
            x = tf.nn.relu(x)
    return x


def _forward(x, weights, dropout, seed, training):
    layers = len(weights) // 2
    for i in range(layers):
        if training and dropout > 0:
            keep = tf.random.stateless_uniform(tf.shape(x), seed + i) >= dropout
            x = tf.where(keep, x / (1 - dropout), 0.0)
        x = tf.matmul(x, weights[2 * i]) + weights[2 * i + 1]
        if i < layers - 1:
            x = tf.nn.relu(x)
    return x


def _loss(x, y, w, weights, penalty, dropout, seed, training):
    logits = _forward(x, weights, dropout, seed, training)
    loss = tf.reduce_sum(w * tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)) / tf.reduce_sum(w)
    return loss + penalty * tf.add_n([tf.reduce_sum(k**2) for k in weights[::2]])


@tf.function(reduce_retracing=True)
def _train(x, y, w, x_val, y_val, w_val, weights, steps, learning_rate, penalty, dropout, seed):
    """Adam for `steps` steps; returns the weights of the best held-out step and that step.

    With no held-out rows (`w_val` all zero), the last step is the best.
    """
    beta1, beta2, eps = 0.9, 0.999, 1e-7
    m = [tf.zeros_like(v) for v in weights]
    v = [tf.zeros_like(v) for v in weights]
    has_val = tf.reduce_sum(w_val) > 0

    def body(t, weights, m, v, best, best_loss, best_step):
        with tf.GradientTape() as tape:
            tape.watch(weights)
            loss = _loss(x, y, w, weights, penalty, dropout, tf.stack([seed, t]), True)
        grads = tape.gradient(loss, weights)
        step = tf.cast(t + 1, tf.float32)
        lr = learning_rate * tf.sqrt(1 - beta2**step) / (1 - beta1**step)
        m = [beta1 * a + (1 - beta1) * g for a, g in zip(m, grads)]
        v = [beta2 * a + (1 - beta2) * g * g for a, g in zip(v, grads)]
        weights = [p - lr * a / (tf.sqrt(b) + eps) for p, a, b in zip(weights, m, v)]
        val_loss = tf.cond(
            has_val,
            lambda: tf.reduce_sum(w_val * tf.nn.sparse_softmax_cross_entropy_with_logits(
                y_val, _forward(x_val, weights, dropout, tf.stack([seed, t]), False))) / tf.reduce_sum(w_val),
            lambda: -tf.cast(t, tf.float32),  # no held-out rows: later is better
        )
        better = val_loss < best_loss
        best = [tf.where(better, a, b) for a, b in zip(weights, best)]
        return t + 1, weights, m, v, best, tf.minimum(val_loss, best_loss), tf.where(better, t + 1, best_step)

    init = (tf.constant(0), weights, m, v, weights, tf.constant(np.inf, tf.float32), tf.constant(0))
    _, _, _, _, best, _, best_step = tf.while_loop(lambda t, *_: t < steps, body, init)
    return best, best_step


def train_hidden(
    x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray, n_classes: int, *, hidden_units: int,
    C: float, dropout: float, seed: int, steps: int, learning_rate: float,
    validation: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[list[tuple[np.ndarray, np.ndarray]], int]:
    """Train a one-hidden-layer head on normalised features.

    The objective is scikit-learn's, divided by `C * n`: the weighted mean
    cross-entropy plus `||kernels||^2 / (2 C n)`.

    Args:
        x: float32 `[n, dim]`; y: int `[n]` class indices; sample_weight: `[n]`.
        n_classes: Number of classes.
        hidden_units, C, dropout, seed: As `config.HeadConfig`.
        steps: Most Adam steps.
        learning_rate: Adam's learning rate.
        validation: `(x, y, sample_weight)` held out: the weights of the step
            with the lowest held-out loss are kept. `None`: all `steps` run.

    Returns:
        `(layers, best_step)`: `[(kernel, bias), (kernel, bias)]` as NumPy
        arrays, and the step they come from.
    """
    rng = np.random.default_rng(seed)
    sizes = [x.shape[1], hidden_units, n_classes]
    weights = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):  # Glorot-uniform, as Keras's Dense
        limit = np.sqrt(6 / (fan_in + fan_out))
        weights += [rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32), np.zeros(fan_out, np.float32)]
    if validation is None:
        validation = (x[:1], y[:1], np.zeros(1, np.float32))
    xv, yv, wv = validation
    best, best_step = _train(
        tf.constant(x, tf.float32), tf.constant(y, tf.int32), tf.constant(sample_weight, tf.float32),
        tf.constant(xv, tf.float32), tf.constant(yv, tf.int32), tf.constant(wv, tf.float32),
        [tf.constant(a) for a in weights], tf.constant(steps), tf.constant(learning_rate, tf.float32),
        tf.constant(1.0 / (2.0 * C * len(x)), tf.float32), tf.constant(dropout, tf.float32),
        tf.constant(seed, tf.int32),
    )
    best = [a.numpy() for a in best]
    return [(best[0], best[1]), (best[2], best[3])], int(best_step)
