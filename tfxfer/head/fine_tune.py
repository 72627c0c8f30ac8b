"""Fine-tuning: the feature module and a fitted head trained together, after the head converged."""

from __future__ import annotations

import hashlib

import numpy as np
import tensorflow as tf

from tfxfer import config
from tfxfer.data.images import decode_image
from tfxfer.errors import DataError
from tfxfer.features.lexical import LexicalColumns
from tfxfer.features.load import IMAGE, FeatureModule
from tfxfer.head.classifier import HeadClassifier
from tfxfer.head.train import head_logits
from tfxfer.keras_backend import keras

BATCH = 16


def tune_module(module: FeatureModule, clf: HeadClassifier, items, labels, seed: int,
                lexical: LexicalColumns | None = None, progress=None) -> int:
    """Train module and head together with a small learning rate (`fit-head --fine-tune`).

    Args:
        module: The feature module; its trainable variables are updated in
            place, and its `identity` changes with them (the feature cache
            is keyed by it).
        clf: The fitted head; its layers are updated in place.
        items: The training texts or image paths; labels: their labels.
        seed: Seed of the shuffling.
        lexical: A text head's lexical columns, computed beside the module's vectors.
        progress: `progress(done, total)` after each step (minutes of them for an image module on a CPU).

    Returns:
        The steps taken (`config.FINE_TUNE_EPOCHS` passes over batches of `BATCH`).
    """
    variables = module.trainable_variables
    if not variables:
        raise DataError(f"{module.spec!r} has no trainable variables; it cannot be fine-tuned. Drop --fine-tune.")
    spec = clf.spec()
    layers = [(tf.Variable(k), tf.Variable(b)) for k, b in spec["layers"]]
    graph_spec = {**spec, "layers": layers}
    y = np.searchsorted(clf.classes_, np.asarray(labels)).astype(np.int32)
    # The head's class weights: an unweighted loss would trade a rare class away again.
    weight = clf.class_weights(y).astype(np.float32)
    optimizer = keras.optimizers.Adam(config.FINE_TUNE_LEARNING_RATE)
    if module.kind == IMAGE:
        load = lambda path: decode_image(tf.io.read_file(path), module.image_size)  # noqa: E731
        inputs = tf.data.Dataset.from_tensor_slices(list(items)).map(load)
    else:
        inputs = tf.data.Dataset.from_tensor_slices(list(items))
    dataset = tf.data.Dataset.zip((inputs, tf.data.Dataset.from_tensor_slices(y),
                                   tf.data.Dataset.from_tensor_slices(weight)))
    dataset = dataset.shuffle(len(y), seed=seed).batch(BATCH)
    trainable = [*variables, *(v for pair in layers for v in pair)]

    @tf.function
    def step(x, target, w):
        with tf.GradientTape() as tape:
            features = module(x) if lexical is None else tf.concat([module(x), lexical(x)], axis=1)
            logits = head_logits(features, graph_spec) / spec["temperature"]
            loss = tf.reduce_mean(w * tf.nn.sparse_softmax_cross_entropy_with_logits(target, logits))
        optimizer.apply(tape.gradient(loss, trainable), trainable)
        return loss

    steps, total = 0, config.FINE_TUNE_EPOCHS * -(-len(y) // BATCH)
    for _ in range(config.FINE_TUNE_EPOCHS):
        for x, target, w in dataset:
            step(x, target, w)
            steps += 1
            if progress:
                progress(steps, total)
    clf.spec_["layers"] = [(k.numpy(), b.numpy()) for k, b in layers]
    # The feature cache is keyed by the module's identity; tuned variables give other features.
    digest = hashlib.sha256(module.identity.encode())
    for variable in variables:
        digest.update(variable.numpy().tobytes())
    module.identity = digest.hexdigest()[:32]
    return steps
