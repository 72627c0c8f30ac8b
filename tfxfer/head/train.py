"""Full-batch training of a dense softmax head, as one compiled TensorFlow loop.

Cross-validation and learning curves fit dozens of small heads; `keras.Model.fit`
pays milliseconds of Python per epoch, this loop pays them once per fit. The
function is traced once per architecture (shapes are left unknown).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

# Keras's Normalization: (x - mean) / max(sqrt(variance), epsilon).
EPSILON = 1e-7


def standardizer(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`(mean, scale)` of float32 `[n, dim]` features: centred per feature, scaled globally.

    One scale for all features keeps the relative scales the module learned
    (per-feature scaling estimated from a few examples inflates noisy features:
    on hymenoptera with 8 images per class it costs 9 points), while making the
    L2 penalties comparable from one module to another.
    """
    mean = features.mean(0)
    scale = np.full(features.shape[1], max(float(np.sqrt(features.var(0).mean())), EPSILON))
    return mean.astype(np.float32), scale.astype(np.float32)


def _forward(x, weights, dropout, seed, training):
    layers = len(weights) // 2
    for i in range(layers):
        if training and dropout > 0:
            keep = tf.random.stateless_uniform(tf.shape(x), seed + i) >= dropout
            x = tf.where(keep, x / (1 - dropout), 0.0)
        x = tf.matmul(x, weights[2 * i]) + weights[2 * i + 1]
        if i < layers - 1:
            x = tf.nn.relu(x)
    return x  # logits


def _train(x, y, w, weights, steps, learning_rate, l2, dropout, seed):
    n = tf.reduce_sum(tf.cast(w > 0, tf.float32))
    beta1, beta2, eps = 0.9, 0.999, 1e-7
    m = [tf.zeros_like(v) for v in weights]
    v = [tf.zeros_like(v) for v in weights]

    def body(t, weights, m, v):
        with tf.GradientTape() as tape:
            tape.watch(weights)
            logits = _forward(x, weights, dropout, tf.stack([seed, t]), True)
            loss = tf.reduce_sum(w * tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)) / n
            loss += l2 * tf.add_n([tf.reduce_sum(k**2) for k in weights[::2]])
        grads = tape.gradient(loss, weights)
        tf_ = tf.cast(t + 1, tf.float32)
        lr = learning_rate * tf.sqrt(1 - beta2**tf_) / (1 - beta1**tf_)
        m = [beta1 * a + (1 - beta1) * g for a, g in zip(m, grads)]
        v = [beta2 * a + (1 - beta2) * g * g for a, g in zip(v, grads)]
        weights = [p - lr * a / (tf.sqrt(b) + eps) for p, a, b in zip(weights, m, v)]
        return t + 1, weights, m, v

    _, weights, _, _ = tf.while_loop(lambda t, *_: t < steps, body, (tf.constant(0), weights, m, v))
    return weights


# XLA makes the loop ~2x faster, but its CPU random generator makes dropout
# masks ~25x slower: heads with dropout run in plain graph mode.
_train_xla = tf.function(_train, jit_compile=True, reduce_retracing=True)
_train_graph = tf.function(_train, reduce_retracing=True)


def train_dense(
    x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray, n_classes: int,
    hidden_units: int, steps: int, learning_rate: float, l2: float, dropout: float, seed: int,
) -> list[np.ndarray]:
    """Train on standardised features; return `[kernel, bias, ...]` as NumPy arrays.

    Initialisation is Glorot-uniform kernels and zero biases, as Keras's Dense.
    """
    # XLA compiles once per shape: pad the rows to a power of two with zero
    # weight, so the many fits of a cross-validation share a few compilations.
    rows = max(32, 1 << (len(x) - 1).bit_length())
    pad = rows - len(x)
    x = np.pad(x, ((0, pad), (0, 0)))
    y = np.pad(y, (0, pad))
    sample_weight = np.pad(sample_weight, (0, pad))
    rng = np.random.default_rng(seed)
    sizes = [x.shape[1], *([hidden_units] if hidden_units else []), n_classes]
    weights = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        limit = np.sqrt(6 / (fan_in + fan_out))
        weights += [rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32), np.zeros(fan_out, np.float32)]
    out = (_train_graph if dropout > 0 else _train_xla)(
        tf.constant(x, tf.float32), tf.constant(y, tf.int32), tf.constant(sample_weight, tf.float32),
        [tf.constant(a) for a in weights], tf.constant(steps), tf.constant(learning_rate, tf.float32),
        tf.constant(l2, tf.float32), tf.constant(dropout, tf.float32), tf.constant(seed, tf.int32),
    )
    return [a.numpy() for a in out]


def predict_logits(x: np.ndarray, weights: list[np.ndarray]) -> np.ndarray:
    for i in range(0, len(weights), 2):
        x = x @ weights[i] + weights[i + 1]
        if i + 2 < len(weights):
            x = np.maximum(x, 0)
    return x
