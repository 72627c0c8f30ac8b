"""`fit_head`: from a feature module and labeled data to a head, a report and an export.

The steps that see files (reading labeled and unlabeled data, extracting
features, fine-tuning the module, exporting) are here; choosing and
fitting the head on feature vectors is `tfxfer.head.search.train_head`.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable

import numpy as np
from sklearn.model_selection import train_test_split

from tfxfer import __version__, config
from tfxfer.atomic import output_path, writable_parent
from tfxfer.data.dataset_objects import dataset_name
from tfxfer.data.patterns import expand_all
from tfxfer.data.unlabeled import in_training, item_key, load_unlabeled
from tfxfer.errors import ConfigError, DataError, counted
from tfxfer.export.compare import compare_with_previous, out_of_fold_record
from tfxfer.export.saved_model import (
    check_export_dir,
    check_model_name,
    choose_version,
    existing_versions,
)
from tfxfer.features.embed import check_kind, load_labeled
from tfxfer.features.extract import (
    class_counts,
    extract_image_features,
    extract_text_features,
)
from tfxfer.features.lexical import LexicalColumns
from tfxfer.features.load import IMAGE, TEXT, FeatureModule, load_features, warn_if_augmenting_text
from tfxfer.features.notes import (
    conflicting_labels_note,
    copies_note,
    identical_rows,
    unknown_words_note,
    unusual_images,
    unusual_images_note,
    zero_rows_note,
)
from tfxfer.features.token_ids import truncated_texts_note
from tfxfer.fitted_head import FittedHead
from tfxfer.head.report import log_loss_comparison
from tfxfer.head.search import HEADS, train_head
from tfxfer.head.train import stack_columns, vectors
from tfxfer.metrics import accuracy_interval, evaluation

Progress = Callable[[str, int, int], None]

logger = logging.getLogger(__name__)


def _check_outside(export_dir: Path, train) -> None:
    """Refuse an export inside a training folder: its plots (PNGs) would be read as examples next time."""
    sources = train if isinstance(train, (list, tuple)) else [train]
    for source in expand_all(sources, "Labeled data"):
        if isinstance(source, (str, Path)) and Path(source).is_dir() and \
                Path(export_dir).resolve().is_relative_to(Path(source).resolve()):
            raise ConfigError(f"`export_dir` {str(export_dir)!r} is inside the training data {str(source)!r}: the "
                              "export's report plots would become training examples next time. Pass an --out "
                              "outside it.")


def _unlabeled_features(fitted_args, module, source, labeled_items, seed, stage, column=None):
    """Features of the unlabeled examples, minus those that are labeled too."""
    images = module.kind == IMAGE
    if isinstance(source, (str, Path)):  # not examples in memory
        check_kind(module, source, module_fixed=True)
    kind = dataset_name(source) or type(source).__name__
    name = str(source) if isinstance(source, (str, Path)) else f"the {kind} given"
    items, total = load_unlabeled(source, images, config.UNLABELED_MAX, seed, column)
    labeled = {item_key(i, images) for i in labeled_items}
    keys = [item_key(i, images) for i in items]
    kept = [i for i, k in zip(items, keys) if k not in labeled]
    overlap = len(items) - len(kept)
    if not kept:
        raise DataError(f"Every unlabeled example in {name!r} is also labeled. Pass other unlabeled data.")
    if images:
        feats = extract_image_features(module, kept, None, progress=stage("unlabeled features"), **fitted_args)
    else:
        feats = extract_text_features(module, kept, None, progress=stage("unlabeled features"), **fitted_args)
    info = {"source": name, "total": total, "examples": len(feats.items), "overlap_skipped": overlap,
            "unreadable_skipped": len(feats.skipped)}
    return feats.features, feats.items, info


def _unlabeled_message(info: dict, cv_info: dict) -> str:
    parts = [f"{info['examples']:,} from {info['source']}"]
    sampled = info["examples"] + info["overlap_skipped"] + info["unreadable_skipped"]
    if info["total"] > sampled:
        parts.append(f"a random {sampled:,} of its {info['total']:,}")
    if info["overlap_skipped"]:
        parts.append(f"{info['overlap_skipped']:,} skipped as they are labeled too")
    if info["unreadable_skipped"]:
        parts.append(f"{info['unreadable_skipped']:,} unreadable")
    text = "; ".join(parts) + ". "
    choice = cv_info.get("log_loss_choice")
    if not cv_info["used"]:
        if not choice:
            return text + "Cross-validation found no gain from them, so the head does not use them."
        margin = choice["margin"]
        return text + (f"Not used: {log_loss_comparison(choice, 'with them at best')}; they are used where they "
                       f"lower it by {margin:g} standard error{'s' if margin != 1 else ''}.")
    how = (f"{cv_info['pseudo_labeled']:,} pseudo-labeled and trained on" if cv_info["pseudo_labeled"]
           else "used for the normalisation statistics only")
    gain, se = cv_info["accuracy_gain"], cv_info["accuracy_gain_se"]
    text += how.capitalize() + (f": {log_loss_comparison(choice)}; " if choice else "; ")
    text += f"cross-validated accuracy gain {gain * 100:+.1f} ± {se * 100:.1f} points (one standard error)"
    if se == 0 and gain == 0:
        return text + ": the same answers out of fold, with scores that fit them better (the log loss)."
    if gain < 2 * se:
        # Such gains go either way on new data: -0.2 to -4.5 points on 32 movie-review sentences,
        # +5.5 to +9.3 on 8 pros_cons sentences (3 of 10 draws each, scripts/bench_unlabeled.py).
        return text + (": within the noise (under two standard errors). Before relying on it, compare "
                       "with a head fitted without --unlabeled (unlabeled=None) on held-out data (tfxfer evaluate A B "
                       "--data DATA).")
    return text + "."


def _hold_out(items, labels, fraction: float, seed: int):
    """`(items, labels, (held-out items, labels), note)`: `fraction` held out, stratified. Classes
    seen once stay in training, where they can be learned, with a note: no split can also test them."""
    once = {c for c, n in class_counts(labels).items() if n == 1}
    rows = [i for i, label in enumerate(labels) if label not in once]
    try:
        train, held = train_test_split(rows, test_size=fraction, stratify=[labels[i] for i in rows],
                                       random_state=seed)
    except ValueError as e:  # e.g. fewer held-out rows than classes
        raise DataError(f"Cannot hold out {fraction:.0%} stratified: {e}. Change --validation-split, or pass "
                        "held-out examples with --validation DATA.") from None
    train = sorted(train + [i for i, label in enumerate(labels) if label in once])
    one = len(once) == 1
    note = (f"{counted(len(once), 'class', 'classes')} with one example ({', '.join(map(repr, sorted(once)))}) "
            f"{'stays' if one else 'stay'} in training: the held-out report does not test "
            f"{'it' if one else 'them'}.") if once else None
    return ([items[i] for i in train], [labels[i] for i in train],
            ([items[i] for i in held], [labels[i] for i in held]), note)


def fit_head(
    features: str | Path | FeatureModule,
    train,
    *,
    validation=None,
    validation_split: float | None = None,
    head: str = "auto",
    unlabeled=None,
    lexical: bool | str = config.LEXICAL,
    class_weight: str | None = config.HEAD.class_weight,
    abstain_below: float | None = None,
    fine_tune: bool = False,
    image_size: int | None = None,
    input_range: str | tuple[float, float] | None = "auto",
    preprocessor: str | Path | None = None,
    augment: int = 0,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    skip_bad_rows: bool = False,
    columns: tuple[str | None, str | None] | None = None,
    seed: int = 1,
    export_dir: str | Path | None = None,
    name: str = config.EXPORT_NAME,
    version: int | None = None,
    overwrite: bool = False,
    allow_new_classes: bool = False,
    require_improvement: bool = False,
    progress: Progress | None = None,
) -> FittedHead:
    """Train a head on a feature module and labeled data; report how well it does; export it.

    Args:
        features: Feature module spec (TF-Hub handle, SavedModel dir, .tar.gz or .zip, .keras or .h5 file)
            or a loaded `FeatureModule`.
        train: Labeled data: for text modules a CSV/TSV, JSON records, fastText
            file, folder of `<label>.txt` or of `<label>/` folders of documents,
            or `nltk:NAME`; for image modules a class folder or a table of
            paths. A list of them is merged. In memory: an `(items, labels)`
            pair, a pandas DataFrame, or a `tf.data.Dataset` of `(text,
            label)` pairs, batched or not (Keras's
            `text_dataset_from_directory`: its `class_names` name the labels).
        validation: Held-out labeled data for a report. Defaults to none.
        validation_split: Fraction of `train` held out instead (stratified).
        head: `"auto"` (chosen by cross-validation), `"linear"` or `"hidden"`.
            Defaults to `"auto"`.
        unlabeled: Unlabeled examples of the same kind (text files with one
            text per line, a table's text column, or a list, Series or
            `tf.data.Dataset` of texts; a folder of images or a table of paths). Whether and
            how much they are used (normalisation statistics, pseudo-labels)
            is decided by cross-validation. Defaults to none.
        lexical: For text modules, whether the head also reads hashed words
            and character n-grams of each text beside its sentence vector
            (`tfxfer.features.lexical`): they carry what a mean of word
            vectors loses, such as words out of the module's vocabulary.
            `"auto"`: where they lower the cross-validated log loss by
            `config.LEXICAL_MARGIN` standard errors (the report's
            `lexical_choice`); `True`: always; `False`: never. Linear heads
            only (`head="hidden"` ignores it). Defaults to `config.LEXICAL`
            (`"auto"`).
        class_weight: `"balanced"`: every class weighs the same in training,
            and the answers are shifted so that out of fold they weigh
            classes equally (rare classes are found, at some cost in
            accuracy on the common ones); `None`: examples weigh the same,
            for accuracy on data as imbalanced as the labels. Defaults to
            `config.HEAD.class_weight` (`"balanced"`).
        abstain_below: Probability in (0, 1): where the answer's is below
            it, the export's `classes` output is `config.REJECT_LABEL`
            (the probability is the calibrated score unless a balanced
            head met imbalanced classes). Defaults to none.
        fine_tune: Then train the module's variables too, at a small learning
            rate. Defaults to `False`.
        image_size: For image modules that accept any size. Defaults to
            `features.raw_inputs.default_image_size`, 288 for most modules.
        input_range: Pixel range an image module expects: `"auto"`
            (default: [0, 1] unless the module shows it expects [0, 255]),
            `"0,1"`, `"0,255"` or `"-1,1"`. Applied in the export too.
        preprocessor: For a BERT-style encoder (it takes token ids), the
            preprocessing model that makes them from text; exported with it.
            Defaults to TF-Hub's pairing for the encoder's name (see `load_features`).
        augment: Augmented views per training image. Defaults to `0`.
        cache_dir, use_cache: The feature cache. Defaults to the user cache.
        skip_bad_rows: Train without labeled rows that cannot be used (they
            are counted in the report) instead of refusing the data. Defaults to `False`.
        columns: `(input column, label column)` names in CSV/TSV files of
            `train` and `validation`, either `None` to detect (files without
            them are detected as usual). Defaults to detecting both.
        seed: Seed of folds, initialisation and augmentation. Defaults to `1`.
        export_dir, name, version, overwrite, allow_new_classes: If
            `export_dir` is given, export there (see `FittedHead.export`); the
            version, the labels of earlier versions and the path are checked
            before any work starts. The report compares the new version with
            the latest earlier one, on the cross-validation folds of the new data.
        require_improvement: Refuse to export a version that is worse than
            the latest earlier one by more than the noise. Defaults to `False`.
        progress: Called with `(stage, done, total)`.

    Returns:
        A `FittedHead`.
    """
    _check_arguments(head, validation, validation_split, lexical, class_weight, abstain_below)
    t0 = time.time()
    if export_dir is not None:
        export_dir = output_path(export_dir, "export_dir")
        check_model_name(name)
        writable_parent(export_dir / name)
        check_export_dir(export_dir)
        _check_outside(export_dir, train)
    module = (features if isinstance(features, FeatureModule)
              else load_features(features, image_size, input_range=input_range, preprocessor=preprocessor))
    warn_if_augmenting_text(module, augment)
    data = load_labeled(module, train, skip_bad_rows, columns).check_trainable()
    items, labels = data
    counts = class_counts(labels)
    if abstain_below is not None and config.REJECT_LABEL in counts:
        raise DataError(f"A class is named {config.REJECT_LABEL!r}, which an export made with --abstain-below "
                        "answers when unsure: the two could not be told apart. Rename that class, or drop "
                        "--abstain-below.")
    if export_dir is not None:  # checked again, under a lock, when exporting
        choose_version(export_dir / name, sorted(counts), version, overwrite, allow_new_classes)
    held_out, split_note = None, None
    if validation is not None:
        held_out = tuple(load_labeled(module, validation, skip_bad_rows, columns))
    elif validation_split:
        items, labels, held_out, split_note = _hold_out(items, labels, validation_split, seed)

    def stage(name):
        return (lambda done, total: progress(name, done, total)) if progress else None

    cache_args = {"cache_dir": cache_dir, "use_cache": use_cache}
    if module.kind == IMAGE:
        feats = extract_image_features(module, items, labels, augment=augment, seed=seed,
                                       progress=stage("features"), **cache_args)
    else:
        feats = extract_text_features(module, items, labels, progress=stage("features"), **cache_args)
    originals = feats.views == 0
    kept = feats.rows(originals)
    x, y, kept_items = kept.features, kept.labels, kept.items
    unlabeled_x, unlabeled_items, unlabeled_info = None, [], None
    if unlabeled is not None:
        unlabeled_x, unlabeled_items, unlabeled_info = _unlabeled_features(
            cache_args, module, unlabeled, kept_items, seed, stage, (columns or (None, None))[0])
    extra = None
    if not originals.all():
        views = feats.rows(~originals)
        extra = (views.features, views.labels)
    module_x, columns_lexical, block = x, None, None
    # A hidden layer over thousands of n-gram columns trains for long (fit-head --head hidden on the
    # quickstart's 200 definitions was stopped after 10 minutes): it keeps to the module's vectors.
    if lexical and module.kind != IMAGE and head != "hidden":
        columns_lexical, block = LexicalColumns.select(kept_items)
        if not len(columns_lexical):  # no bucket shared by two texts
            columns_lexical = None
        else:
            x = stack_columns(x, block)
            if unlabeled_x is not None:
                unlabeled_x = columns_lexical.extend(unlabeled_x, unlabeled_items)
    clf, fit_report, cv = train_head(x, y, head=head, unlabeled=unlabeled_x, abstain_below=abstain_below,
                                     class_weight=class_weight,
                                     items=kept_items, extra=extra, lexical=len(columns_lexical or ()),
                                     use_lexical=lexical, seed=seed, progress=progress)
    if columns_lexical is not None and not clf.lexical_columns:  # cross-validation left them out
        columns_lexical, block = None, None
    fine_tune_steps = 0
    if fine_tune:
        from tfxfer.head.fine_tune import tune_module  # imports Keras, which nothing else here needs

        fine_tune_steps = tune_module(module, clf, kept_items, y, seed, columns_lexical, stage("fine-tuning"))
    unusual = unusual_images(module_x, y, kept_items, seed) if module.kind == IMAGE else None
    notes = [n for n in [*module.notes, *data.notes, split_note,
                         *_data_notes(module, module_x, y, kept_items, columns_lexical, block, unusual)] if n]
    keys = [item_key(i, module.kind == IMAGE) for i in kept_items]  # what identifies each example across versions
    report = {
        "tfxfer_version": __version__,
        "feature_module": {"spec": module.spec, "kind": module.kind, "image_size": module.image_size,
                           "input_range": module.input_range, "output_dim": module.output_dim,
                           **({"op_library": module.op_library} if module.op_library else {}),
                           **({"preprocessor": module.preprocessor} if module.preprocessor else {})},
        **fit_report,
        "data": {**data.summary(), "examples": len(y), "notes": notes,
                 **({"unusual_images": unusual} if unusual is not None else {})},
        "skipped": [{"item": s, "reason": r} for s, r in feats.skipped],
        "augmented_views": augment,
        "abstain_below": abstain_below,
        "fine_tune_steps": fine_tune_steps,
        "training_items": sorted(set(keys)),
    }
    if cv.oof_logits is not None:  # what a later version on the same examples is compared with
        report["out_of_fold"] = {"classes": clf.classes_.tolist(),
                                 **out_of_fold_record(keys, y, clf.classes_, cv.oof_logits, clf.temperature)}
    if columns_lexical is not None:
        report["lexical"] = columns_lexical.summary()
    if unlabeled_info is not None:
        report["unlabeled"] = {**unlabeled_info, **report.pop("unlabeled_cv"),
                               "message": _unlabeled_message(unlabeled_info, fit_report["unlabeled_cv"])}
    fitted = FittedHead(module, clf, report, abstain_below, str(cache_dir) if cache_dir else None, use_cache,
                        training_features=module_x, lexical=columns_lexical)
    if fine_tune_steps:  # what the tuned module makes of the training examples
        fitted.training_features = vectors(fitted.features(kept_items).features, len(columns_lexical or ()))
    if held_out is not None:
        source = str(validation) if validation is not None else "the held-out split"
        report["validation"] = _validation_report(fitted, held_out, source)
    if export_dir is not None:
        previous = [v for v in existing_versions(export_dir / name) if v != version]
        if previous and cv.oof_logits is not None:
            comparison = compare_with_previous(export_dir / name / str(previous[-1]), kept_items, y,
                                               clf.classes_.tolist(), cv.oof_logits, clf.temperature, cv.splits, keys)
            report["previous_version"] = comparison
            if require_improvement and comparison["verdict"] == "worse":
                raise DataError(f"{comparison['message']} Not exported (--require-improvement).")
            if require_improvement and comparison["verdict"] is None:  # asked for a check it did not get: say so
                logger.warning("--require-improvement: no verdict against version %s (the report says why), so "
                               "the new version is exported unchecked.", previous[-1])
        fitted.export(export_dir, name, version, overwrite, allow_new_classes)
    report["seconds"] = round(time.time() - t0, 2)
    return fitted


def _check_arguments(head, validation, validation_split, lexical, class_weight, abstain_below) -> None:
    """Raise `ConfigError` naming the first of `fit_head`'s choices that is not one, before any work."""
    if head not in HEADS:
        raise ConfigError(f"`head` must be one of {sorted(HEADS)}. Received: head={head!r}.")
    if validation is not None and validation_split:
        raise ConfigError("Pass either `validation` or `validation_split`, not both.")
    if validation_split is not None and not 0 < validation_split < 1:
        raise ConfigError(f"`validation_split` must be in (0, 1). Received: validation_split={validation_split}.")
    if lexical not in (True, False, "auto"):
        raise ConfigError(f"`lexical` must be True, False or 'auto' (chosen by cross-validation). "
                          f"Received: lexical={lexical!r}.")
    if class_weight not in ("balanced", None):
        raise ConfigError(f"`class_weight` must be 'balanced' or None (every example weighs the same). "
                          f"Received: class_weight={class_weight!r}.")
    if abstain_below is not None and not 0 < abstain_below < 1:
        raise ConfigError(f"`abstain_below` must be in (0, 1): the probability an answer must reach. "
                          f"Received: abstain_below={abstain_below}.")


def _data_notes(module: FeatureModule, module_x: np.ndarray, y, items, columns_lexical, block,
                unusual) -> list[str | None]:
    """What the report could say about the training examples as the module reads them (rows of
    zeros, unknown words, inputs labeled both ways, copies, unusual images, lexical columns capped):
    one note or `None` each."""
    lexical = columns_lexical is not None
    same = identical_rows(module_x, block)  # a block of no columns (none kept) splits no group
    return [zero_rows_note(module_x, module.kind, lexical),
            unknown_words_note(items, module, module_x, lexical),
            truncated_texts_note(items, module.obj) if module.kind == TEXT else None,
            conflicting_labels_note(module_x, y, items, same, module.kind),
            copies_note(module_x, y, items, same, module.kind),
            unusual_images_note(unusual, len(y)),
            columns_lexical.cap_note() if columns_lexical else None]


def _validation_report(fitted: FittedHead, held_out: tuple, source: str) -> dict:
    """The fitted head's metrics on held-out labeled examples `(items, labels)` from `source`."""
    clf, image = fitted.classifier, fitted.module.kind == IMAGE
    v_feats = fitted.features(*held_out)
    predicted = clf.predict(v_feats.features)
    correct = int((np.asarray(v_feats.labels) == predicted).sum())
    return {
        "examples": len(predicted),
        **evaluation(v_feats.labels, predicted.tolist(), clf.classes_.tolist(), source),
        "accuracy_interval": accuracy_interval(correct, len(predicted)),
        # Duplicates of training examples (pros_cons repeats 'none' hundreds of times) are not held out.
        "seen_in_training": int(in_training(v_feats.items, set(fitted.report["training_items"]), image).sum()),
    }
