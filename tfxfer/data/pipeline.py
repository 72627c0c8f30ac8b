"""What the input pipelines share: batching a stream, and one way to run a `tf.data` map in parallel."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Iterator

import tensorflow as tf


def batched(items: Iterable, size: int) -> Iterator[list]:
    """Lists of `size` consecutive items (the last one shorter), as a stream: Python 3.12's
    `itertools.batched`, for 3.10."""
    stream = iter(items)
    while batch := list(itertools.islice(stream, size)):
        yield batch


def parallel_map(dataset: tf.data.Dataset, fn: Callable) -> tf.data.Dataset:
    """`dataset.map(fn)` on one thread per core, in order, without autotuning.

    With tf.data's autotuner on, about one iterator in three took 2.3 s
    longer to finish (extracting 245 photos: 5.3 s instead of 2.8 s, a
    bimodal spread from run to run); a fixed thread per core is as fast
    and never stalls.

    Args:
        dataset: The input elements.
        fn: The map function (traced by tf.data).

    Returns:
        The mapped `tf.data.Dataset` (autotuning off for the whole pipeline).
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    threads = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    return dataset.map(fn, num_parallel_calls=threads, deterministic=True).with_options(options)
