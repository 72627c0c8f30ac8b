"""Turn labeled images or texts into feature vectors with a feature module."""

from __future__ import annotations

import collections
import dataclasses
import functools
import logging
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfxfer import config
from tfxfer.cache_dir import default_cache_dir
from tfxfer.data.image_files import IMAGE_FORMATS, unreadable_reason
from tfxfer.data.images import augment_image, decode_image, undecoded_reason
from tfxfer.data.pipeline import parallel_map
from tfxfer.errors import DataError, counted, op_error_reason
from tfxfer.features.cache import FeatureCache, FileHashes, content_hash
from tfxfer.features.load import IMAGE, TEXT, FeatureModule

logger = logging.getLogger(__name__)

# Strings padded to the longest and written to a `.npz` at a time (`write_npz`).
NPZ_STRING_CHUNK = 4096

# Bump when decode_image or augment_image change: old cache entries no longer apply.
PREPROCESSING_VERSION = 5


@dataclasses.dataclass
class Features:
    """Feature vectors of a data set.

    Attributes:
        features: float32 `[n, dim]`: NumPy, or SciPy sparse rows where
            `FittedHead.features` appends a text head's lexical columns.
        labels: The label of each row, or `None`.
        items: The file path (images) or text of each row.
        views: 0 for an original image, 1..N for its augmented views.
        skipped: `(item, reason)` for inputs that could not be used.
        extracted: Rows computed by the module in this call.
        cached: Rows read from the cache.
    """

    features: np.ndarray
    labels: list[str] | None
    items: list[str]
    views: np.ndarray
    skipped: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    extracted: int = 0
    cached: int = 0

    def rows(self, mask: np.ndarray) -> Features:
        """The rows where bool `[n]` `mask` holds (`views == 0`: the original images), without the
        account of what was skipped, extracted or cached."""
        keep = np.flatnonzero(mask)
        return Features(self.features[keep], None if self.labels is None else [self.labels[i] for i in keep],
                        [self.items[i] for i in keep], self.views[keep])

    def save_npz(self, path: str | Path) -> None:
        """Write `features`, `labels`, `items` and `views` to a `.npz` file (`write_npz`)."""
        write_npz(path, {"features": self.features, "labels": list(self.labels or []), "items": list(self.items),
                         "views": self.views})


def write_npz(path: str | Path, arrays: dict[str, np.ndarray | list[str]]) -> None:
    """`np.savez`, but lists of strings are written compressed and a chunk at a time.

    NumPy stores strings padded to the longest (`<U{longest}`): one long text
    among 120,000 sentences made `items` 732 MB of a 781 MB file, and as much
    memory while it was written. Here that padding is deflated on the way
    (the same file: 61 MB), never whole in memory; numbers are stored as
    they are. `np.load` reads it as it reads any `.npz`, without pickle.

    Args:
        path: The file to write.
        arrays: Name -> NumPy array, or list of strings (a `<U` array once loaded).
    """
    with zipfile.ZipFile(path, "w", allowZip64=True) as npz:
        for name, value in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            strings = isinstance(value, list)
            info.compress_type = zipfile.ZIP_DEFLATED if strings else zipfile.ZIP_STORED
            with npz.open(info, "w", force_zip64=True) as f:
                if not strings:
                    np.lib.format.write_array(f, np.asarray(value), allow_pickle=False)
                    continue
                dtype = np.dtype(f"<U{max(map(len, value), default=1) or 1}")
                np.lib.format.write_array_header_1_0(f, {"descr": np.lib.format.dtype_to_descr(dtype),
                                                         "fortran_order": False, "shape": (len(value),)})
                for start in range(0, len(value), NPZ_STRING_CHUNK):
                    f.write(np.array(value[start:start + NPZ_STRING_CHUNK], dtype).tobytes())


@functools.lru_cache(maxsize=8)
def _image_loader(size: tuple[int, int], augment: bool) -> Callable:
    """`(index, view, file, seed) -> (index, view, image)` for `Dataset.map`, traced once
    per process, size and `augment` (tracing it again for each call cost 0.1-0.2 s)."""

    @tf.function(input_signature=[tf.TensorSpec([], tf.int64), tf.TensorSpec([], tf.int64),
                                  tf.TensorSpec([], tf.string), tf.TensorSpec([2], tf.int64)], autograph=False)
    def load(i, view, file, pair):
        image = decode_image(tf.io.read_file(file), size)
        if augment:
            image = tf.cond(view > 0, lambda: augment_image(image, pair), lambda: image)
        return i, view, image

    return load


def _check_classes(labels, kept_labels, skipped):
    if labels is None:
        return
    empty = sorted(set(labels) - set(kept_labels))
    if empty:
        raise DataError(
            f"{'Class' if len(empty) == 1 else 'Classes'} {', '.join(map(repr, empty))} "
            f"{'has' if len(empty) == 1 else 'have'} no usable image ({counted(len(skipped), 'file')} could not "
            f"be read or decoded). Add readable {IMAGE_FORMATS} images or remove the class."
        )


def _content_hashes(paths: Sequence[str | Path], known: Path | None) -> tuple[list[str | None], list[tuple[str, str]]]:
    """Each file's content hash (`None` where it cannot be read), and the unreadable files with why; hashes
    of unchanged files are read from, and new ones kept in, `known` (`None`: computed afresh)."""
    hashes: list[str | None] = []
    skipped: list[tuple[str, str]] = []
    file_hash = FileHashes(known)
    for path in paths:
        try:
            hashes.append(file_hash(path))
        except OSError as e:
            hashes.append(None)
            skipped.append((str(path), unreadable_reason(str(path), e)))
    file_hash.save()
    return hashes, skipped


def _module_rows(module: FeatureModule, paths: Sequence[str | Path], todo: list[tuple[int, int]], seed: int,
                 augmented: bool, batch_size: int) -> Iterator[list[tuple[int, int, np.ndarray]]]:
    """Decode (and for views past 0, augment) the images of `todo`'s `(path index, view)` pairs and run
    them through `module`, a batch at a time: yields each batch's `(path index, view, vector)`. Files that
    cannot be decoded yield nothing."""
    index = np.array([i for i, _ in todo], np.int64)
    view_ids = np.array([v for _, v in todo], np.int64)
    files = [str(paths[i]) for i in index]
    seeds = np.stack([np.full(len(todo), seed, np.int64), index * 1000 + view_ids], 1)
    elements = tf.data.Dataset.from_tensor_slices((index, view_ids, files, seeds))
    images = parallel_map(elements, _image_loader(tuple(module.image_size), augmented))
    for batch_index, batch_views, batch in images.ignore_errors().batch(batch_size).prefetch(2):
        try:
            vectors = np.asarray(module(batch), np.float32)
        except tf.errors.OpError as e:
            raise _module_failed(module, e) from None
        yield [(int(i), int(view), vector) for i, view, vector in
               zip(batch_index.numpy(), batch_views.numpy(), vectors)]


def _feature_cache(module: FeatureModule, cache_dir: str | Path | None, preprocessing: dict,
                   source: str) -> FeatureCache:
    """The cache of `module`'s features (in `cache_dir`, else the user's), described as `source` for `tfxfer cache`."""
    return FeatureCache(
        Path(cache_dir) if cache_dir else default_cache_dir() / "features", module.identity, preprocessing,
        module.output_dim, source=source,
        origin=str(Path(module.spec).resolve()) if Path(module.spec).exists() else None,  # not a TF-Hub handle
    )


def extract_image_features(
    module: FeatureModule,
    paths: Sequence[str | Path],
    labels: Sequence[str] | None = None,
    *,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    augment: int = 0,
    seed: int = 1,
    batch_size: int = config.FEATURE_BATCH_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> Features:
    """Decode, resize and run images through an image feature module.

    Args:
        module: An image `FeatureModule`.
        paths: Image files (`tfxfer.data.image_files.IMAGE_FORMATS`).
        labels: One label per path, or `None`.
        cache_dir: Feature cache directory. Defaults to `default_cache_dir()/features`.
        use_cache: Read and write the cache. Defaults to `True`.
        augment: Augmented views per image (flip, crop, brightness), cached too.
            Defaults to `0`.
        seed: Seed of the augmentations. Defaults to `1`.
        batch_size: Images per module call. Defaults to `config.FEATURE_BATCH_SIZE`.
        progress: Called with `(done, total)` as rows are ready.

    Returns:
        `Features`, rows ordered by path then view. Files that cannot be read or
        decoded are skipped, logged and listed in `skipped`.
    """
    if module.kind != IMAGE:
        raise DataError(f"{module.spec!r} is a {module.kind} module; these inputs are images. Pass an image module.")
    views = augment + 1
    cache = _feature_cache(
        module, cache_dir, {"image_size": module.image_size, "version": PREPROCESSING_VERSION, "seed": seed},
        f"{module.spec} at {module.image_size[0]}x{module.image_size[1]} px" if module.image_size else module.spec)
    hashes, skipped = _content_hashes(paths, cache.root / "file-hashes.json" if use_cache else None)

    total = sum(views for h in hashes if h)
    rows: dict[tuple[int, int], np.ndarray] = {}
    todo = []
    for i, h in enumerate(hashes):
        for view in range(views) if h else ():
            vector = cache.get(h, view) if use_cache else None
            if vector is None:
                todo.append((i, view))
            else:
                rows[i, view] = vector
    cached = len(rows)
    if progress:
        progress(cached, total)

    if todo:
        # Cache files are written by another thread while the module runs on the next batch.
        with ThreadPoolExecutor(max_workers=1) as writer:
            for done in _module_rows(module, paths, todo, seed, augment > 0, batch_size):
                for i, view, vector in done:
                    rows[i, view] = vector
                if use_cache:
                    writer.submit(lambda done=done: [cache.put(hashes[i], v, view) for i, view, v in done])
                if progress:
                    progress(len(rows), total)

    for i, h in enumerate(hashes):
        if h and (i, 0) not in rows:
            skipped.append((str(paths[i]), undecoded_reason(paths[i], f"not a decodable {IMAGE_FORMATS} image")))
    for item, reason in skipped:
        logger.warning("Skipped %s: %s", item, reason)
    bad = {s for s, _ in skipped}
    keys = sorted(k for k in rows if str(paths[k[0]]) not in bad)
    kept_labels = [labels[i] for i, _ in keys] if labels is not None else None
    _check_classes(labels, kept_labels or [], skipped)
    if not keys:
        raise DataError("None of the images could be decoded.")
    return Features(
        features=np.stack([rows[k] for k in keys]),
        labels=kept_labels,
        items=[str(paths[i]) for i, _ in keys],
        views=np.array([v for _, v in keys], np.int32),
        skipped=skipped,
        extracted=len(rows) - cached,
        cached=cached,
    )


def _module_failed(module: FeatureModule, error: tf.errors.OpError) -> DataError:
    """The error for a module that fails on its inputs (TensorFlow's cause, not the graph's traceback); for an
    encoder whose preprocessing model makes ids past its vocabulary (another family's), which one to pass."""
    first = op_error_reason(error.message or str(error))[:300]
    fix = ""
    if module.preprocessor and "indices" in first and "is not in [0," in first:
        fix = (f" Its preprocessing model, {module.preprocessor}, makes token ids the encoder does not have: it is "
               "another model's (another vocabulary). Pass the one the encoder's page names with --preprocessor "
               "(preprocessor=).")
    inputs = "texts" if module.kind == TEXT else "images"
    return DataError(f"The {module.kind} module {module.spec!r} failed on the {inputs}: {first}.{fix}")


def _text_key(text: str) -> str:
    """A text's entry in the cache; hashed only where a slow module's cache is read or written."""
    return content_hash(text.encode("utf-8", "surrogatepass"))


def extract_text_features(
    module: FeatureModule,
    texts: Sequence[str],
    labels: Sequence[str] | None = None,
    *,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    batch_size: int = 256,
    progress: Callable[[int, int], None] | None = None,
) -> Features:
    """Run texts through a text feature module, each distinct text once.

    The features of a module slower than `config.TEXT_CACHE_MIN_SECONDS` a text
    (a BERT-style encoder) are cached, one entry per distinct text under the
    module's identity, as images are; a faster module's (tfxfer's own, word
    vectors, nnlm) are computed again, which is quicker than reading them back.

    Args:
        module: A text `FeatureModule`.
        texts: The texts.
        labels: One label per text, or `None`.
        cache_dir: Feature cache directory. Defaults to `default_cache_dir()/features`.
        use_cache: Read and write the cache. Defaults to `True`.
        batch_size: Texts per module call. Defaults to `256`.
        progress: Called with `(done, total)` distinct texts as rows are ready.

    Returns:
        `Features`, a row per text in order.
    """
    if module.kind != TEXT:
        raise DataError(f"{module.spec!r} is an {module.kind} module; these inputs are texts. Pass a text module.")
    if not texts:
        raise DataError("No texts to embed.")
    distinct = list(dict.fromkeys(texts))
    cache = _feature_cache(module, cache_dir, {"kind": TEXT}, f"{module.spec} (texts)") if use_cache else None
    caching = cache is not None and cache.dir.is_dir()  # a slow module's, cached before
    rows = {text: v for text in distinct if caching and (v := cache.get(_text_key(text))) is not None}
    cached = len(rows)
    todo = [text for text in distinct if text not in rows]
    if progress:
        progress(cached, len(distinct))
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        began = time.perf_counter()
        try:
            vectors = np.asarray(module(tf.constant(batch)), np.float32)
        except tf.errors.OpError as e:  # a traceback of the module's graph says nothing of the fix
            raise _module_failed(module, e) from None
        if cache is not None and not caching and start == 0:
            took = time.perf_counter() - began
            caching = took >= config.TEXT_CACHE_MIN_BATCH_SECONDS and took / len(batch) > config.TEXT_CACHE_MIN_SECONDS
        rows.update(zip(batch, vectors))
        if caching:
            for text, vector in zip(batch, vectors):
                cache.put(_text_key(text), vector)
        if progress:
            progress(len(rows), len(distinct))
    return Features(
        features=np.stack([rows[text] for text in texts]),
        labels=list(labels) if labels is not None else None,
        items=list(texts),
        views=np.zeros(len(texts), np.int32),
        extracted=len(todo),
        cached=cached,
    )


def class_counts(labels: Sequence[str]) -> dict[str, int]:
    return dict(sorted(collections.Counter(labels).items()))
