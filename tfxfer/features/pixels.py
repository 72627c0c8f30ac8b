"""The pixel range an image module expects.

tfxfer decodes images to float RGB in [0, 1], TF-Hub's convention, and maps
them to the module's range inside the module's function, so the feature
cache, the head, fine-tuning and the export all see the same features.
Modules exported from Keras applications with their preprocessing built in
(EfficientNet, EfficientNetV2, ConvNeXt, MobileNetV3, RegNet) expect [0, 255]:
fed [0, 1] they see near-black images and their features barely differ: on
hymenoptera, logistic regression on them scored 0.46 and fit-head 0.67,
against 0.96 fed [0, 255]. `auto`
detects that case on probe images. Modules that expect [-1, 1] (Keras's
MobileNetV2 or Inception V3 with `preprocess_input` folded in) cannot be told
apart from [0, 1] ones that way, but cost less when fed [0, 1] (1 point on
hymenoptera): they are named with `input_range="-1,1"`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from tfxfer import config
from tfxfer.errors import ConfigError

logger = logging.getLogger(__name__)

AUTO = "auto"
UNIT = config.INPUT_RANGES["0,1"]


def input_range_of(value: str | tuple[float, float] | None) -> tuple[float, float] | None:
    """`(low, high)` for a range given as `"0,255"` or a pair; `None` for `"auto"` or `None`.

    Raises:
        ConfigError: Any other value, with the choices.
    """
    if value is None or value == AUTO:
        return None
    if isinstance(value, str):
        key = value.replace(" ", "").replace("[", "").replace("]", "")
        if key in config.INPUT_RANGES:
            return config.INPUT_RANGES[key]
    else:
        try:
            low, high = (float(v) for v in value)
        except (TypeError, ValueError):
            low = high = 0.0
        if low < high:
            return low, high
    choices = ", ".join([AUTO, *config.INPUT_RANGES])
    raise ConfigError(f"`input_range` must be one of {choices} (or a (low, high) pair). Received: "
                      f"input_range={value!r}.")


def probe_images(size: tuple[int, int], n: int = 8, seed: int = 0) -> tf.Tensor:
    """`n` smooth random colour fields with a little noise, float32 `[n, H, W, 3]` in [0, 1]."""
    rng = np.random.default_rng(seed)
    coarse = tf.constant(rng.uniform(0, 1, (n, 4, 4, 3)), tf.float32)
    images = tf.image.resize(coarse, size, method="bicubic") + rng.normal(0, 0.05, (n, *size, 3))
    return tf.clip_by_value(tf.cast(images, tf.float32), 0.0, 1.0)


def spread(features) -> float:
    """Mean squared distance of the unit-length rows from their mean: 0 when all rows point one way."""
    rows = np.asarray(features, np.float64)
    rows = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    return float(((rows - rows.mean(0)) ** 2).sum(1).mean())


def _scaled(fn: Callable, input_range: tuple[float, float]) -> Callable:
    low, high = input_range
    if (low, high) == UNIT:
        return fn
    return lambda images: fn(images * (high - low) + low)


def fit_input_range(fn: Callable, size: tuple[int, int],
                    requested: str | tuple[float, float] | None = AUTO) -> tuple[Callable, tuple[float, float], str | None]:
    """The module's function on [0, 1] images, the range it maps them to, and a note if detected.

    Args:
        fn: The module's function on images in its own range.
        size: `(H, W)` it is fed.
        requested: `"auto"` (default), `"0,1"`, `"0,255"`, `"-1,1"` or a pair.

    Returns:
        `(fn on [0, 1] images, (low, high), note or None)`.
    """
    chosen = input_range_of(requested)
    if chosen is not None:
        return _scaled(fn, chosen), chosen, None
    probe = probe_images(size)
    unit, wide = spread(fn(probe)), spread(fn(probe * 255.0))
    logger.info("Feature spread of probe images: %.2g in [0, 1], %.2g in [0, 255]", unit, wide)
    if wide <= config.INPUT_RANGE_SPREAD_RATIO * unit:
        return fn, UNIT, None
    note = (f"the module's features barely differ between images in [0, 1] and do in [0, 255] (spread {unit:.2g} "
            f"against {wide:.2g}): it expects pixels in [0, 255], as Keras applications with their preprocessing "
            "built in do, and is fed them. Pass --input-range (input_range=) to choose.")
    return _scaled(fn, config.INPUT_RANGES["0,255"]), config.INPUT_RANGES["0,255"], note
