"""How a feature module of raw input is fed and read: which of its functions to call, with what.

A SavedModel is called through its plain call or one signature (`serving_default`, TF1 Hub's
`default`, or its only one); it takes strings (text, or encoded images it decodes itself), or
pixels of its dtype and size, and returns a tensor, a dict of named outputs or a list.
`raw_input_module` says what `features.load.load_features` feeds it; `as_features` takes the
feature vectors from what it returns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import tensorflow as tf

from tfxfer import config
from tfxfer.errors import ConfigError, DataError
from tfxfer.features.pixels import AUTO, input_range_of
from tfxfer.features.token_ids import makes_token_ids

logger = logging.getLogger(__name__)

TEXT, IMAGE = "text", "image"
# Output keys of TF-Hub and common feature-vector signatures, most specific first.
OUTPUT_KEYS = ("feature_vector", "default", "embeddings", "outputs", "output_0")


def _input_spec(obj, signature: str | None = None) -> tuple[Callable, tf.TensorSpec, str | None, tuple[int, int] | None]:
    """The callable to use, the spec of its single input, its keyword, and a fixed image size.

    The plain call is preferred: its spec is one that accepts any image size
    when there is one. The fixed size is the `(H, W)` a signature or concrete
    function declares, the size the module was made for; `None` if none does.
    With `signature`, that signature is used.
    """
    signatures = getattr(obj, "signatures", {})
    if signature is not None:
        if signature not in signatures:
            raise DataError(f"The SavedModel has no {signature!r} signature (it has {sorted(signatures)}).")
        (name, spec), = signatures[signature].structured_input_signature[1].items()
        size = (int(spec.shape[1]), int(spec.shape[2])) if spec.shape.rank == 4 and spec.shape[1] else None
        return signatures[signature], spec, name, size
    # TF1 Hub format modules answer through their "default" signature (TF2 ones through their call).
    serving_name = next((name for name in ("serving_default", "default") if name in signatures),
                        next(iter(signatures)) if len(signatures) == 1 else None)  # one, whatever its name
    serving = signatures[serving_name] if serving_name else None
    call = getattr(obj, "__call__", None)
    concrete = getattr(call, "concrete_functions", None) or []
    call_specs = []
    for fn in concrete:
        args, kwargs = fn.structured_input_signature
        call_specs += [a for a in tf.nest.flatten((args, kwargs)) if isinstance(a, tf.TensorSpec)][:1]
    serving_specs = list(serving.structured_input_signature[1].values())[:1] if serving is not None else []
    images = [s for s in call_specs + serving_specs if s.shape.rank == 4]
    fixed = next(((int(s.shape[1]), int(s.shape[2])) for s in images
                  if s.shape[1] is not None and s.shape[2] is not None), None)
    if call_specs:
        any_size = [s for s in call_specs if s.shape.rank == 4 and s.shape[1] is None and s.shape[2] is None]
        return call, (any_size or call_specs)[0], None, fixed
    if serving is not None:
        _, kwargs = serving.structured_input_signature
        if len(kwargs) == 1:
            (name, spec), = kwargs.items()
            return serving, spec, name, fixed
        raise DataError(
            f"The module's {serving_name} signature takes {sorted(kwargs)}; a feature module takes one input."
        )
    named = f" It has the signatures {sorted(signatures)}: save the one that computes the features as " \
        "serving_default." if signatures else ""
    raise DataError("The SavedModel is not callable and has no serving_default (or TF1 Hub 'default') signature."
                    + named)


def default_image_size(trained: tuple[int, int] | None) -> tuple[int, int]:
    """The size fed to a module that accepts any: `IMAGE_SIZE_FACTOR` x the size it was made for.

    Args:
        trained: `(H, W)` the module declares, or `None` (then
            `config.DEFAULT_IMAGE_SIZE`, TF-Hub's common 224).

    Returns:
        `(H, W)`, each rounded to a multiple of 32: 224 gives 288.
    """
    trained = trained or (config.DEFAULT_IMAGE_SIZE,) * 2
    return tuple(int(round(side * config.IMAGE_SIZE_FACTOR / 32)) * 32 for side in trained)


class TokenIdsOut(DataError):
    """A module that returns token ids: a preprocessing model, not a feature module."""


def as_features(outputs):
    if makes_token_ids(outputs):
        raise TokenIdsOut("token ids")
    if isinstance(outputs, dict):
        for key in OUTPUT_KEYS:
            if key in outputs:
                return outputs[key]
        if len(outputs) == 1:
            return next(iter(outputs.values()))
        raise DataError(f"The module returns several outputs {sorted(outputs)}; expected one of {OUTPUT_KEYS}.")
    if isinstance(outputs, (list, tuple)):  # TF-Hub's sentence-t5 returns [embeddings]; its users take [0]
        if not outputs:
            raise DataError("The module returns no output.")
        return as_features(outputs[0])
    return outputs


def _fed_as(fn: Callable, dtype: tf.DType) -> Callable:
    """`fn` on float32 images, for a module that takes uint8 pixels (rounded from [0, 255]) or float16 /
    bfloat16 / float64 ones; its features come back float32, as a head and the export take them."""
    if dtype == tf.uint8:
        return lambda images: tf.cast(fn(tf.cast(tf.clip_by_value(tf.round(images), 0, 255), tf.uint8)), tf.float32)
    return lambda images: tf.cast(fn(tf.cast(images, dtype)), tf.float32)


def _size_of(image_size: int | tuple[int, int] | None) -> tuple[int, int] | None:
    """`image_size` as `(H, W)`, or `None` when not given."""
    if image_size is None:
        return None
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if min(size) < 1:
        raise ConfigError(f"`image_size` must be positive. Received: image_size={image_size}.")
    return size


def _takes_encoded_images(fn: Callable) -> bool:
    """Whether a module that takes strings decodes them as images (a model exported for serving with an
    `image_bytes` input): text makes it fail to decode, a small PNG does not."""
    try:
        fn(tf.constant(["a"]))
        return False
    except tf.errors.InvalidArgumentError:
        pass
    png = tf.io.encode_png(tf.fill([32, 32, 3], tf.constant(128, tf.uint8)))
    try:
        fn(tf.reshape(png, [1]))
    except (tf.errors.OpError, UnicodeDecodeError) as e:  # TF fails to decode a message quoting the bytes
        first = (getattr(e, "message", None) or str(e)).strip().splitlines()[0][:300]
        raise DataError(f"The module takes strings but fails on both text and a PNG image: {first}") from None
    return True


def _fed_encoded(fn: Callable) -> Callable:
    """`fn` on float32 images in [0, 1], for a module that takes encoded images: each is encoded as PNG
    (lossless), so the feature cache, augmentation and the export feed it as they feed any image module."""
    def encode(image):
        return tf.io.encode_png(tf.cast(tf.round(tf.clip_by_value(image, 0.0, 1.0) * 255.0), tf.uint8))
    return lambda images: tf.cast(fn(tf.map_fn(encode, images, fn_output_signature=tf.string)), tf.float32)


def _fixed_range(spec, asked, fixed: str, why: str) -> str:
    """`fixed`, the pixel range a module's input leaves no choice about, with a warning where another
    range was asked for."""
    if asked not in (None, AUTO) and input_range_of(asked) != config.INPUT_RANGES[fixed]:
        logger.warning("%r %s: --input-range (input_range=) %s ignored.", str(spec), why, asked)
    return fixed


def _on_column(fn: Callable) -> Callable:
    return lambda texts: fn(tf.expand_dims(texts, 1))


def warn_image_options(spec, image_size, input_range) -> None:
    """Options of image modules given with a text module: asked for, and silently doing nothing."""
    given = [option for option, value in (("--image-size (image_size=)", image_size is not None),
                                          ("--input-range (input_range=)", input_range not in (None, AUTO)))
             if value]
    if given:
        logger.warning("%s %s for image modules; %r is a text module: ignored.", " and ".join(given),
                       "are" if len(given) > 1 else "is", str(spec))


def raw_input_module(spec, obj, signature, image_size, input_range):
    """How a module of raw input (strings, encoded images or pixels) is fed: `(fn, kind, size, encoded,
    input_range, dummy)`, `dummy` a batch of one input as tfxfer feeds it."""
    call, input_spec, name, fixed = _input_spec(obj, signature)
    shape = input_spec.shape
    if name is None:
        fn = lambda x: as_features(call(x))  # noqa: E731
    else:
        fn = lambda x: as_features(call(**{name: x}))  # noqa: E731
    # Keras text models built on keras.Input(shape=(1,), dtype="string") take a column of strings.
    column = input_spec.dtype == tf.string and shape.rank == 2 and shape[1] == 1
    if column:
        fn = _on_column(fn)
    encoded = input_spec.dtype == tf.string and shape.rank == 1 and _takes_encoded_images(fn)
    if encoded:
        kind, size = IMAGE, _size_of(image_size) or default_image_size(fixed)
        fn = _fed_encoded(fn)
        # What PNG-encoding stores; the module maps it to its own range.
        input_range = _fixed_range(spec, input_range, "0,1", "takes encoded images and decodes them itself")
    elif input_spec.dtype == tf.string and (shape.rank == 1 or column):
        kind, size = TEXT, None
        dummy = tf.constant(["a"])
        if signature is None:  # a signature: tfxfer's own call
            warn_image_options(spec, image_size, input_range)
    elif (input_spec.dtype.is_floating or input_spec.dtype == tf.uint8) and shape.rank == 4 and shape[-1] == 3:
        kind = IMAGE
        if shape[1] is not None and shape[2] is not None:
            size = (int(shape[1]), int(shape[2]))
            asked = (image_size, image_size) if isinstance(image_size, int) else image_size
            if asked is not None and tuple(asked) != size:
                logger.warning("%r takes only %dx%d images: --image-size (image_size=) %s ignored.", str(spec),
                               *size, "x".join(map(str, asked)))
        else:
            size = _size_of(image_size) or default_image_size(fixed)
    else:
        raise DataError(
            f"{str(spec)!r} is neither a text module (tf.string [batch] or [batch, 1]) nor an image module "
            f"(float or uint8 [batch, height, width, 3]); its input is {input_spec.dtype.name} {shape}."
        )

    if kind == IMAGE and input_spec.dtype not in (tf.float32, tf.string):
        fn = _fed_as(fn, input_spec.dtype)
        if input_spec.dtype == tf.uint8:  # pixels as they are stored: [0, 255], whatever was asked
            input_range = _fixed_range(spec, input_range, "0,255", "takes uint8 pixels, in [0, 255]")
    if kind == IMAGE:
        dummy = tf.zeros((1, *size, 3), tf.float32)  # what tfxfer feeds; `_fed_as` and `_fed_encoded` convert it
    return fn, kind, size, encoded, input_range, dummy
