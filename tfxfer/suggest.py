"""`suggest`: which examples of a (large) unlabeled pool to label next.

The pool is streamed in batches: feature vectors (from the export's
`features` signature, through the feature cache for images), calibrated
scores (its `classify_features` signature), and only the most uncertain
examples are kept (`tfxfer.head.active.UncertainPool`), so memory does not
grow with the pool. The suggestions are written as a CSV ready to fill in
(`item,label,guess,score`) that `fit-head --train` reads once filled.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import tensorflow as tf

from tfxfer import config
from tfxfer.atomic import check_writable, write_text_atomic
from tfxfer.data.text import TextCorpus
from tfxfer.data.unlabeled import image_paths, item_key
from tfxfer.errors import DataError
from tfxfer.export.predict import resolve_export
from tfxfer.export.saved_model import CLASSIFY_SIGNATURE, FEATURES_SIGNATURE, read_labels
from tfxfer.features.embed import check_kind
from tfxfer.features.extract import extract_image_features, extract_text_features
from tfxfer.features.load import IMAGE, FeatureModule, load_features, load_saved_model
from tfxfer.head.active import UncertainPool, rank_for_labeling

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class Suggestions:
    """Examples to label next, most useful first.

    Attributes:
        items: Texts or image paths.
        guesses: The model's label for each.
        scores: Its calibrated score for that label.
        pool: Examples in the pool.
        skipped_training: Pool examples skipped as they are training examples already.
        unreadable: Pool examples that could not be read (images).
        note: What the user should know (fewer than asked...), or `None`.
    """

    items: list[str]
    guesses: list[str]
    scores: list[float]
    pool: int
    skipped_training: int
    unreadable: int
    note: str | None = None

    def to_csv(self) -> str:
        """`item,label,guess,score`, the label column empty, ready to fill in."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["item", "label", "guess", "score"])
        for item, guess, score in zip(self.items, self.guesses, self.scores):
            writer.writerow([item, "", guess, f"{score:.4f}"])
        return buffer.getvalue()


def _batches(items: Iterable[str], size: int) -> Iterator[list[str]]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def pool_items(pool, module: FeatureModule) -> Iterable[str]:
    """The pool as a stream: texts (text files, one per line; nltk:NAME) or image paths."""
    if isinstance(pool, (list, tuple)):
        return pool
    check_kind(module, pool)
    return image_paths(Path(pool)) if module.kind == IMAGE else TextCorpus([str(pool)])


def rank_pool(items: Iterable[str], n: int, embed: Callable, classify: Callable, images: bool,
              training: set[str] = frozenset(), labels: list[str] | None = None,
              progress: Callable[[int], None] | None = None) -> Suggestions:
    """Stream `items` through `embed` (items -> features, kept items, unreadable count) and
    `classify` (features -> scores); rank what is kept for labeling."""
    candidates = UncertainPool(max(config.SUGGEST_CANDIDATES_PER_PICK * n, 100))
    seen = skipped = unreadable = 0
    for batch in _batches(items, config.SUGGEST_BATCH):
        seen += len(batch)
        fresh = [i for i in batch if item_key(i, images) not in training] if training else batch
        skipped += len(batch) - len(fresh)
        if fresh:
            features, kept, bad = embed(fresh)
            unreadable += bad
            if len(kept):
                candidates.add(kept, features, classify(features))
        if progress:
            progress(seen)
    if not seen:
        raise DataError("The pool is empty: pass a file or folder with unlabeled examples.")
    if candidates.seen == 0:
        raise DataError(f"All {seen} pool examples are training examples already (or unreadable): nothing to suggest.")
    kept, features, scores = candidates.candidates()
    order = rank_for_labeling(features, scores, n)
    notes = []
    if candidates.seen <= n:
        notes.append(f"the pool holds only {candidates.seen} usable example(s), all suggested (asked for {n})")
    if skipped:
        notes.append(f"{skipped} pool example(s) skipped as they are training examples already")
    return Suggestions(
        items=[kept[i] for i in order],
        guesses=[labels[int(np.argmax(scores[i]))] if labels else int(np.argmax(scores[i])) for i in order],
        scores=[float(np.max(scores[i])) for i in order],
        pool=seen, skipped_training=skipped, unreadable=unreadable,
        note="; ".join(notes).capitalize() + "." if notes else None,
    )


def suggest(
    export_dir: str | Path,
    pool,
    n: int = config.SUGGEST_N,
    out: str | Path | None = None,
    *,
    overwrite: bool = False,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    progress: Callable[[int], None] | None = None,
) -> Suggestions:
    """Rank a pool of unlabeled examples by how much labeling them should help an exported model.

    Args:
        export_dir: The `--out` of fit-head (or `OUT/NAME`, `OUT/NAME/VERSION`).
        pool: Texts (text files with one per line, folders of them, `nltk:NAME`)
            or images (a folder, searched recursively, or a CSV of paths) of
            the model's kind; or a list of items.
        n: How many to suggest. Defaults to `config.SUGGEST_N`.
        out: Write the suggestions there as CSV (`item,label,guess,score`).
        overwrite: Replace an existing `out`. Defaults to `False`.
        cache_dir, use_cache: The feature cache (images).
        progress: Called with the number of pool examples read so far.

    Returns:
        `Suggestions`.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        from tfxfer.errors import ConfigError

        raise ConfigError(f"`n` must be a positive integer. Received: n={n!r}.")
    if out is not None:
        check_writable(Path(out), overwrite, directory=False)
    version = resolve_export(export_dir)
    module = load_features(version, signature=FEATURES_SIGNATURE)
    classify_fn = load_saved_model(version).signatures[CLASSIFY_SIGNATURE]
    labels = read_labels(version)
    images = module.kind == IMAGE
    report = version.parent / "reports" / version.name / "report.json"
    training = set(json.loads(report.read_text())["training_items"]) if report.is_file() else set()

    def embed(batch):
        if images:
            feats = extract_image_features(module, batch, cache_dir=cache_dir, use_cache=use_cache)
            return feats.features, feats.items, len(feats.skipped)
        return extract_text_features(module, batch).features, batch, 0

    def classify(features):
        return classify_fn(features=tf.constant(features, tf.float32))["scores"].numpy()

    result = rank_pool(pool_items(pool, module), n, embed, classify, images, training, labels, progress)
    if result.note:
        logger.warning(result.note)
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out, result.to_csv())
    return result
