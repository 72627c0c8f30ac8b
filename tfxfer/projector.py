"""Vectors for the TensorBoard Embedding Projector: `tensorboard --logdir DIR`, or projector.tensorflow.org.

A projector folder holds `vectors.tsv` (one row per point), `metadata.tsv`
(its labels; a header row when there are several columns),
`projector_config.pbtxt` (which TensorBoard reads: the TSV needs no
checkpoint) and, for images, `sprite.png`: a grid of thumbnails, so that
each point is drawn as its photo.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tfxfer import config

logger = logging.getLogger(__name__)

# TensorBoard draws sprites up to 8192 pixels a side.
SPRITE_MAX_PIXELS = 8192
# Files a projector folder holds: one with other files and none of these is not replaced by --overwrite.
PROJECTOR_MARKS = ("projector_config.pbtxt", "vectors.tsv")
THUMBNAIL_PIXELS = 64
# Thumbnails smaller than this show nothing: beyond (65,536 images at 32 px) no sprite is drawn.
THUMBNAIL_MIN_PIXELS = 32


def thumbnail_size(n: int) -> int | None:
    """The side of each of `n` thumbnails in a sprite TensorBoard can draw, or `None` if too many."""
    side = min(THUMBNAIL_PIXELS, SPRITE_MAX_PIXELS // max(math.ceil(math.sqrt(n)), 1))
    return side if side >= THUMBNAIL_MIN_PIXELS else None


def _write_sprite(paths: Sequence[str], path: Path, side: int) -> None:
    """Thumbnails of the images at `paths`, row by row in a square grid, as a PNG."""
    import tensorflow as tf

    from tfxfer.data.images import decode_image

    per_row = math.ceil(math.sqrt(len(paths)))
    grid = np.full((per_row * side, per_row * side, 3), 255, np.uint8)
    dataset = tf.data.Dataset.from_tensor_slices([str(p) for p in paths]).map(
        lambda p: decode_image(tf.io.read_file(p), (side, side)), num_parallel_calls=tf.data.AUTOTUNE)
    for i, image in enumerate(dataset.as_numpy_iterator()):
        row, column = divmod(i, per_row)
        grid[row * side:(row + 1) * side, column * side:(column + 1) * side] = np.round(image * 255)
    path.write_bytes(tf.io.encode_png(grid).numpy())


def _cell(value) -> str:
    # A tab or newline inside a label would shift the projector's columns.
    return " ".join(str(value).split()) or "-"


def write_projector(directory: str | Path, vectors: np.ndarray, metadata: dict[str, Sequence],
                    images: Sequence[str] | None = None, name: str = "embedding") -> None:
    """Write a projector folder.

    Args:
        directory: The folder (created; files in it are replaced).
        vectors: float `[n, dim]`.
        metadata: Column name -> `n` values (labels, items...). One column is
            written without a header, as the projector reads it.
        images: `n` image paths to draw as thumbnails. Defaults to none.
        name: The tensor's name in TensorBoard. Defaults to `"embedding"`.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    n = len(vectors)
    if n > config.PROJECTOR_MAX_POINTS:
        # TensorBoard would show the first rows only: of a folder of images, the first classes.
        keep = np.sort(np.random.default_rng(0).choice(n, config.PROJECTOR_MAX_POINTS, replace=False))
        logger.warning("The projector shows a random %s of the %s examples: TensorBoard's projector reads at most "
                       "that many.", f"{len(keep):,}", f"{n:,}")
        vectors = np.asarray(vectors)[keep]
        metadata = {column: [values[i] for i in keep] for column, values in metadata.items()}
        images = [images[i] for i in keep] if images else images
    np.savetxt(directory / "vectors.tsv", np.asarray(vectors, np.float32), fmt="%.6g", delimiter="\t")
    columns = list(metadata)
    rows = zip(*(metadata[c] for c in columns))
    with open(directory / "metadata.tsv", "w", encoding="utf-8") as f:
        if len(columns) > 1:
            f.write("\t".join(columns) + "\n")
        f.writelines("\t".join(_cell(v) for v in row) + "\n" for row in rows)
    side = None
    if images:
        side = thumbnail_size(len(images))
        if side is None:
            logger.warning("No sprite of thumbnails for %d images: TensorBoard draws at most %d.", len(images),
                           (SPRITE_MAX_PIXELS // THUMBNAIL_MIN_PIXELS) ** 2)
        else:
            _write_sprite(images, directory / "sprite.png", side)
    write_config(directory, name, side)


def write_config(directory: Path, name: str, sprite_side: int | None = None) -> None:
    """`projector_config.pbtxt` for the TSVs (and `sprite.png` of `sprite_side` thumbnails) in `directory`."""
    from google.protobuf import text_format
    from tensorboard.plugins import projector

    config = projector.ProjectorConfig()
    embedding = config.embeddings.add()
    embedding.tensor_name, embedding.tensor_path, embedding.metadata_path = name, "vectors.tsv", "metadata.tsv"
    if sprite_side:
        embedding.sprite.image_path = "sprite.png"
        embedding.sprite.single_image_dim.extend([sprite_side, sprite_side])
    (directory / "projector_config.pbtxt").write_text(text_format.MessageToString(config), encoding="utf-8")
