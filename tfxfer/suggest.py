"""`suggest`: which examples of a (large) unlabeled pool to label next.

The pool is streamed in batches: feature vectors (from the export's
`features` signature, through the feature cache for images) and calibrated
scores (its `classify_features` signature). Only a uniform sample of the
pool (`typical`: see `tfxfer.head.active.typical_picks`) or its most
uncertain examples (`uncertain`) are kept, so memory does not grow with the
pool. `auto` (the default) is `uncertain` for a model trained on strongly
imbalanced labels, where picking typical examples finds few of the rare
classes, and `typical` otherwise. The suggestions are written as a CSV
ready to fill in (`item,label,guess,score`, then a table pool's other
columns: an id) that `fit-head --train` reads once filled.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfxfer import config
from tfxfer.atomic import check_writable, output_path
from tfxfer.data.delimited import write_table
from tfxfer.data.image_files import absent
from tfxfer.data.memory import values_from_memory
from tfxfer.data.names import PATH_COLUMNS, SUGGEST_COLUMNS, TEXT_COLUMNS
from tfxfer.data.patterns import expand
from tfxfer.data.pipeline import batched
from tfxfer.data.records import is_table
from tfxfer.data.table import FORMULA_STARTS
from tfxfer.data.unlabeled import image_paths, item_key, item_rows, text_items
from tfxfer.data.workbook import WORKBOOK_SUFFIXES
from tfxfer.errors import ConfigError, DataError, counted, not_found
from tfxfer.export.predict import resolve_export
from tfxfer.export.saved_model import (
    CLASSIFY_SIGNATURE,
    FEATURES_SIGNATURE,
    read_labels,
)
from tfxfer.features.embed import check_kind
from tfxfer.features.extract import extract_image_features, extract_text_features
from tfxfer.features.load import IMAGE, FeatureModule, load_features
from tfxfer.head.active import (
    PoolSample,
    UncertainPool,
    rank_for_labeling,
    typical_picks,
)
from tfxfer.head.train import vectors
from tfxfer.layout import read_fit_report, report_dir
from tfxfer.metrics import imbalanced, shown_item

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
        images: Whether the items are image paths (else texts).
        strategy: How they were picked (`typical` or `uncertain`).
        why: Why `auto` chose `uncertain`, or `None`.
    """

    items: list[str]
    guesses: list[str]
    scores: list[float]
    pool: int
    skipped_training: int
    unreadable: int
    note: str | None = None
    images: bool = False
    strategy: str = "typical"
    why: str | None = None
    columns: list[str] = dataclasses.field(default_factory=list)
    cells: list[list[str]] = dataclasses.field(default_factory=list)

    def rows(self) -> list[list]:
        """`item,label,guess,score` and a row per suggestion, the label column empty, ready to fill in;
        then the other columns of a table pool (`columns`), each suggestion's row's `cells`."""
        cells = self.cells or [[] for _ in self.items]
        return [[*SUGGEST_COLUMNS, *self.columns],
                *([item, "", guess, round(float(score), 4), *row]
                  for item, guess, score, row in zip(self.items, self.guesses, self.scores, cells))]


def pool_columns(pool, items: Sequence[str], column: str | None, images: bool) -> tuple[list[str], list[list[str]]]:
    """The other columns of a table pool, and their cells in the (first) row of each of `items`: an id
    to find a suggestion by in one's own data. `([], [])` for a pool that is no table file.

    The pool is read again once the suggestions are known, as it was for them: Parquet and JSON Lines
    streamed, and only until every suggestion's row is found.
    """
    if not isinstance(pool, (str, Path)) or not (is_table(pool) and Path(pool).is_file()):
        return [], []
    wanted, found = set(items), {}
    for item, cells in item_rows(Path(pool), column, images):
        if item in wanted and item not in found:
            found[item] = cells
            if len(found) == len(wanted):
                break
    names = list(dict.fromkeys(name for cells in found.values() for name in cells))
    return ([f"given_{name}" if name in SUGGEST_COLUMNS else name for name in names],
            [[found.get(item, {}).get(name, "") for name in names] for item in items])


def rank_given_pool(pool, module: FeatureModule, column: str | None, n: int, embed: Callable, classify: Callable,
                    training: set[str], labels: list[str], progress: Callable[[int], None] | None = None,
                    **options) -> Suggestions:
    """`rank_pool` of a pool as given (`pool_items`), with a table pool's other columns
    (`pool_columns`): what `suggest` and `FittedHead.suggest` do. `options` are `rank_pool`'s."""
    images = module.kind == IMAGE
    result = rank_pool(pool_items(pool, module, column), n, embed, classify, images, training, labels, progress,
                       **options)
    result.columns, result.cells = pool_columns(pool, result.items, column, images)
    return result


def pool_items(pool, module: FeatureModule, column: str | None = None) -> Iterable[str]:
    """The pool as a stream: texts (text files, one per line; nltk:NAME; a CSV/TSV's text
    column, or `column`) or image paths (a folder, or a CSV/TSV of them)."""
    memory = values_from_memory(pool, column, PATH_COLUMNS if module.kind == IMAGE else TEXT_COLUMNS)
    if memory is not None:
        return memory
    files = expand(pool, "Pool")
    if files:  # a pattern's files, one after the other
        return itertools.chain.from_iterable([pool_items(f, module, column) for f in files])  # each checked now
    if absent(pool):  # not "holds text": it holds nothing
        raise not_found("Pool", pool, "Pass a file or folder of unlabeled examples.")
    check_kind(module, pool, module_fixed=True)
    if module.kind == IMAGE:
        return image_paths(Path(pool), column)
    return text_items(pool, column)


TRAINING_FEATURES = "training_features.npy"


def save_training_features(features: np.ndarray, report_dir: Path) -> None:
    """Keep the training examples' feature vectors beside the report (float16: half the
    space; `suggest` only clusters them)."""
    np.save(report_dir / TRAINING_FEATURES, np.asarray(features, np.float16))


def load_training_features(report_dir: Path) -> np.ndarray | None:
    path = report_dir / TRAINING_FEATURES
    if not path.is_file():
        return None
    try:
        return np.load(path, allow_pickle=False).astype(np.float32)
    except (OSError, ValueError) as e:
        logger.warning("Ignoring %s (%s): suggestions will not know what the training examples cover.", path, e)
        return None


def check_strategy(strategy: str) -> None:
    if strategy not in config.SUGGEST_STRATEGIES:
        raise ConfigError(f"`strategy` must be one of {', '.join(config.SUGGEST_STRATEGIES)}. "
                          f"Received: strategy={strategy!r}.")


def resolve_strategy(strategy: str, class_counts: dict[str, int] | None) -> tuple[str, str | None]:
    """What `strategy` means for a model trained on `class_counts` (its fit report's), and why `auto`
    chose `uncertain` (else `None`): the training labels' largest class
    `config.SUGGEST_UNCERTAIN_FROM_RATIO` times the smallest or more."""
    check_strategy(strategy)
    if strategy != "auto":
        return strategy, None
    counts = sorted((n, c) for c, n in (class_counts or {}).items() if n)
    if len(counts) >= 2 and imbalanced([n for n, _ in counts], config.SUGGEST_UNCERTAIN_FROM_RATIO):
        (rare_n, rare), (common_n, common) = counts[0], counts[-1]
        return "uncertain", (f"it was trained on imbalanced labels ({common_n:,} {common!r}, {rare_n:,} {rare!r}), "
                             "where these find more of the rare classes than typical examples (--strategy typical)")
    return "typical", None


def rank_pool(items: Iterable[str], n: int, embed: Callable, classify: Callable, images: bool,
              training: set[str] = frozenset(), labels: list[str] | None = None,
              progress: Callable[[int], None] | None = None, *, strategy: str = config.SUGGEST_STRATEGY,
              labeled_features: np.ndarray | None = None, class_counts: dict[str, int] | None = None,
              lexical: int = 0, seed: int = 0) -> Suggestions:
    """Stream `items` through `embed` (items -> features, kept items, unreadable count) and
    `classify` (features -> scores); pick `n` of them to label by `strategy` (`auto`: by the
    training labels' `class_counts`, see `resolve_strategy`). The picks are spread over the
    feature module's vectors: the features but their last `lexical` columns (hashed n-grams)."""
    strategy, why = resolve_strategy(strategy, class_counts)
    if strategy == "typical":
        kept_pool = PoolSample(max(config.SUGGEST_SAMPLE, n), seed)
    else:
        kept_pool = UncertainPool(max(config.SUGGEST_CANDIDATES_PER_PICK * n, 100))
    seen = unreadable = 0
    repeats, shown = Counter(), {}  # the training examples the pool holds, how often, and one way each is written
    for batch in batched(items, config.SUGGEST_BATCH):
        seen += len(batch)
        fresh = [] if training else batch
        for item in batch if training else ():  # no file is read for its key when nothing was trained on
            key = item_key(item, images)
            if key in training:
                repeats[key] += 1
                shown.setdefault(key, item)
            else:
                fresh.append(item)
        if fresh:
            features, kept, bad = embed(fresh)
            unreadable += bad
            if len(kept):
                kept_pool.add(kept, vectors(features, lexical), classify(features))
        if progress:
            progress(seen)
    if not seen:
        raise DataError("The pool is empty: pass a file or folder with unlabeled examples.")
    if kept_pool.seen == 0:
        raise DataError(f"All {seen} pool examples are training examples already (or unreadable): nothing to suggest.")
    if strategy == "typical":
        kept, features, scores = kept_pool.sample()
        order = typical_picks(features, n, labeled_features, seed)
    else:
        kept, features, scores = kept_pool.candidates()
        order = rank_for_labeling(features, scores, n)
    notes = []
    if kept_pool.seen <= n:
        notes.append(f"the pool holds only {kept_pool.seen} usable example{'s' if kept_pool.seen != 1 else ''}, all suggested (asked for {n})")
    blank = int((~features[order].any(1)).sum()) if strategy == "typical" and len(order) else 0
    if blank:  # typical_picks gives them their share at random: nothing tells them apart
        notes.append(f"{blank} of the suggestions drawn at random among the {(~features.any(1)).mean():.0%} of the "
                     "pool with no word the feature module knows")
    skipped = sum(repeats.values())
    if skipped > len(repeats):  # chat logs repeat "JOIN" and "lol": a count alone looked like a bug
        common, times = repeats.most_common(1)[0]
        kind = "image" if images else "text"
        notes.append(f"{skipped:,} pool examples skipped as they repeat {counted(len(repeats), 'training example')} "
                     f"(most often {shown_item(shown[common], kind)!r}, {times:,} times)")
    elif skipped:
        notes.append(f"{counted(skipped, 'pool example')} skipped as "
                     f"{'it is a training example' if skipped == 1 else 'they are training examples'} already")
    return Suggestions(
        items=[kept[i] for i in order],
        guesses=[labels[int(np.argmax(scores[i]))] if labels else int(np.argmax(scores[i])) for i in order],
        scores=[float(np.max(scores[i])) for i in order],
        pool=seen, skipped_training=skipped, unreadable=unreadable,
        note=_sentence("; ".join(notes)) if notes else None, images=images, strategy=strategy, why=why,
    )


def _sentence(text: str) -> str:
    # Not str.capitalize: it lowercases the rest, quoted examples too.
    return text[:1].upper() + text[1:] + "."


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
    strategy: str = config.SUGGEST_STRATEGY,
    seed: int = 0,
    column: str | None = None,
) -> Suggestions:
    """Rank a pool of unlabeled examples by how much labeling them should help an exported model.

    Args:
        export_dir: The `--out` of fit-head (or `OUT/NAME`, `OUT/NAME/VERSION`).
        pool: Texts (text files with one per line, folders of them, `nltk:NAME`)
            or images (a folder, searched recursively, or a CSV of paths) of
            the model's kind; or a list of items.
        n: How many to suggest. Defaults to `config.SUGGEST_N`.
        out: Write the suggestions there as CSV (`item,label,guess,score`, then the other columns
            of a table pool: `Suggestions.columns`).
        overwrite: Replace an existing `out`. Defaults to `False`.
        cache_dir, use_cache: The feature cache (images).
        progress: Called with the number of pool examples read so far.
        strategy: `auto` (default: `uncertain` for a model trained on
            strongly imbalanced labels, else `typical`), `typical` (the most
            typical examples of the clusters the training examples cover
            least) or `uncertain` (the examples the model is least sure of,
            spread apart). See `tfxfer.head.active`.
        seed: Seed of the pool sample and of k-means (`typical`).
        column: The column of a CSV/TSV pool to read. Defaults to the one
            named as texts (or paths) are.

    Returns:
        `Suggestions`.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"`n` must be a positive integer. Received: n={n!r}.")
    check_strategy(strategy)
    out = output_path(out, "out") if out is not None else None
    if out is not None:
        check_writable(Path(out), overwrite, directory=False)
    version = resolve_export(export_dir)
    # The export's signatures take images in [0, 1] and map them to the module's range themselves.
    module = load_features(version, signature=FEATURES_SIGNATURE, input_range="0,1")
    classify_fn = module.obj.signatures[CLASSIFY_SIGNATURE]  # the same SavedModel: loading it again took 0.7 s
    labels = read_labels(version)
    images = module.kind == IMAGE
    report = read_fit_report(version)
    training = set(report.get("training_items", []))
    picked, _ = resolve_strategy(strategy, report.get("class_counts"))
    labeled_features = (load_training_features(report_dir(version))
                        if picked == "typical" else None)

    def embed(batch):
        if images:
            feats = extract_image_features(module, batch, cache_dir=cache_dir, use_cache=use_cache)
            return feats.features, feats.items, len(feats.skipped)
        return extract_text_features(module, batch, cache_dir=cache_dir, use_cache=use_cache).features, batch, 0

    def classify(features):
        return classify_fn(features=tf.constant(features, tf.float32))["scores"].numpy()

    result = rank_given_pool(pool, module, column, n, embed, classify, training, labels, progress,
                             strategy=strategy, labeled_features=labeled_features,
                             class_counts=report.get("class_counts"),
                             lexical=report.get("head_config", {}).get("lexical_columns", 0), seed=seed)
    if result.note:
        logger.warning(result.note)
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        write_table(out, result.rows(), choices={"label": labels})  # a workbook's labels picked from a list
        formulas = sum(item.startswith(FORMULA_STARTS) for item in result.items)
        if formulas and Path(out).suffix.lower() not in WORKBOOK_SUFFIXES:
            logger.warning("%s of %s start with =, +, - or @, which Excel, opening a CSV, takes for formulas "
                           "and saves as errors (#NAME?): to fill it in Excel, write --out %s instead.",
                           counted(formulas, "suggestion"), out, Path(out).with_suffix(".xlsx").name)
    return result
