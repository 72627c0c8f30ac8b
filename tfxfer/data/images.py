"""Labeled images: class folders or CSV/TSV lists, decoded in a tf.data pipeline."""

from __future__ import annotations

import logging
from pathlib import Path

import keras
import tensorflow as tf

from tfxfer.data.table import PATH_COLUMNS, LabeledData, read_table
from tfxfer.errors import DataError

logger = logging.getLogger(__name__)

# The one list of what is decoded, in training, prediction and the exported graph alike.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp")
IMAGE_FORMATS = "JPEG, PNG, GIF (first frame), BMP or WebP"


def list_image_folder(root: str | Path) -> tuple[list[Path], list[str]]:
    """Images under `root/<class>/`, with their class names as labels.

    Returns:
        `(paths, labels)`, sorted by class then file name. Files with other
        suffixes are ignored (and logged).
    """
    root = Path(root)
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(
            f"{str(root)!r} has no class subfolders. Put each class's images in its own "
            "folder (root/ants/*.jpg, root/bees/*.jpg) or pass a CSV of path,label."
        )
    paths, labels = [], []
    for folder in classes:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if path.suffix.lower() in IMAGE_SUFFIXES:
                paths.append(path)
                labels.append(folder.name)
            else:
                logger.info("Ignoring %s (not an image suffix)", path)
    return paths, labels


def read_image_list(path: str | Path) -> LabeledData:
    """Rows of `path,label` from a CSV or TSV (header optional); paths relative to the file."""
    path = Path(path)
    data = read_table(path, PATH_COLUMNS)
    data.items = [str(path.parent / p) for p in data.items]
    return data


def load_image_list(source: str | Path, skip_bad_rows: bool = False) -> LabeledData:
    """Image paths and labels from a class folder or a CSV/TSV list.

    Returns:
        `LabeledData` of paths (unpacks as `paths, labels`).
    """
    source = Path(source)
    if source.is_dir():
        paths, labels = list_image_folder(source)
        data = LabeledData([str(p) for p in paths], labels, str(source), rows=len(paths))
    elif source.is_file() and source.suffix.lower() in (".csv", ".tsv"):
        data = read_image_list(source).check(skip_bad_rows)
    else:
        raise DataError(
            f"Image data {str(source)!r} not found. Pass a folder with one subfolder per "
            "class, or a .csv/.tsv of path,label."
        )
    if not data.items:
        raise DataError(f"No images ({', '.join(IMAGE_SUFFIXES)}) found in {str(source)!r}.")
    return data


def holds_images(source: str | Path) -> bool:
    """Whether `source` looks like image data (an image folder or list), not text."""
    path = Path(source)
    if path.is_dir():
        return any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.rglob("*") if p.is_file())
    if path.is_file() and path.suffix.lower() in (".csv", ".tsv"):
        with open(path, encoding="utf-8", errors="replace") as f:
            head = f.read(4096).lower()
        return any(suffix in head for suffix in IMAGE_SUFFIXES)
    return False


def decode_image(data: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """Decode JPEG/PNG/GIF (first frame)/BMP/WebP bytes to float32 `[H, W, 3]` in [0, 1].

    The image is cropped centrally to the aspect ratio of `size`, then resized
    (bilinear, antialiased). Squashing instead distorts shapes the module
    learned: on hymenoptera with 8 photos per class the crop is worth +3
    points. Keras's resize traces to plain TensorFlow ops, and the same ops run
    in exported image models, so training and serving agree.
    """
    image = tf.io.decode_image(data, channels=3, expand_animations=False)
    image = tf.image.convert_image_dtype(image, tf.float32)
    return keras.ops.image.resize(image, size, interpolation="bilinear", antialias=True, crop_to_aspect_ratio=True)


def augment_image(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """A random view: flip, crop to 80-100% and brightness, determined by `seed` `[2]`."""
    size = tf.shape(image)[:2]
    image = tf.image.stateless_random_flip_left_right(image, seed)
    scale = tf.random.stateless_uniform([], seed + 1, 0.8, 1.0)
    crop = tf.cast(tf.cast(size, tf.float32) * scale, tf.int32)
    image = tf.image.stateless_random_crop(image, tf.concat([crop, [3]], 0), seed + 2)
    image = tf.image.resize(image, size)
    image = tf.image.stateless_random_brightness(image, 0.15, seed + 3)
    return tf.clip_by_value(image, 0.0, 1.0)
