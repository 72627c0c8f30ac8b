"""`embed`: features of a data set written to an .npz for users' own models."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from tfxfer import config
from tfxfer.atomic import atomic_dir, check_writable, output_path, write_atomic
from tfxfer.data.image_files import (
    IMAGE_SUFFIXES,
    absent,
    holds_images,
    is_image_file,
    load_image_list,
)
from tfxfer.data.labeled import load_labeled_text, looks_labeled
from tfxfer.data.labeled_data import LabeledData, looks_like_classes, skipped_lines
from tfxfer.data.memory import holds_labels, labeled_from_memory, values_from_memory
from tfxfer.data.names import PATH_COLUMNS, TEXT_COLUMNS, Columns, left_out
from tfxfer.data.patterns import expand, path_exists
from tfxfer.data.records import is_table, read_values
from tfxfer.data.text import check_not_archive
from tfxfer.data.unlabeled import image_paths, text_items
from tfxfer.errors import DataError, not_found
from tfxfer.features.extract import (
    Features,
    extract_image_features,
    extract_text_features,
)
from tfxfer.features.load import IMAGE, FeatureModule, load_features, warn_if_augmenting_text
from tfxfer.features.notes import one_line, unusual_images, unusual_images_note
from tfxfer.projector import PROJECTOR_MARKS, write_projector

logger = logging.getLogger(__name__)

# Texts are cut to this many characters in the projector's metadata (the .npz keeps them whole).
PROJECTOR_TEXT_CHARS = 200


def check_kind(module: FeatureModule, source: str | Path, module_fixed: bool = False, labeled: bool = False) -> None:
    """Raise `DataError` when image data meets a text module, or the reverse.

    Args:
        module: The feature module (or anything with its `kind` and `spec`: an `ExportedModel`).
        source: The data.
        module_fixed: The module is a given (a fitted model's, or the labeled
            examples' for `--unlabeled`): the error then asks for other data only.
        labeled: The data wanted is labeled (`evaluate`'s), not a pool of inputs.
    """
    files = expand(source)
    if files:  # a pattern: each file it names
        for file in files:
            check_kind(module, file, module_fixed, labeled)
        return
    if absent(source):
        return  # nothing to judge: reading it says it is not there
    check_not_archive(source, "Input data")
    images = holds_images(source)
    if images == (module.kind == IMAGE):
        return
    problem = "holds images, but {} is a text module" if images else "holds text, but {} is an image module"
    if module_fixed and labeled:
        wanted = ("labeled images (a folder with a subfolder per class, or a CSV of paths and labels)"
                  if module.kind == IMAGE else "labeled texts (a CSV/TSV of text and label)")
        fix = f"Pass {wanted} instead"
    elif module_fixed:
        wanted = "images (a folder, or a CSV of paths)" if module.kind == IMAGE else "texts (one per line)"
        fix = f"Pass {wanted} instead"
    elif images:
        fix = "Pass an image feature module, or matching data"
    else:
        fix = "Pass a text feature module, or matching data"
    raise DataError(f"{str(source)!r} {problem.format(repr(module.spec))}. {fix}.")


def load_labeled(module: FeatureModule, source, skip_bad_rows: bool = False, columns: Columns = None) -> LabeledData:
    """Items (image paths or texts) and labels of labeled `source`, checked against the module.

    `source` may be a list of sources or a glob pattern of files: their rows are
    merged (e.g. earlier labels and a filled-in `tfxfer suggest` CSV); or data in memory
    (`memory.labeled_from_memory`: an `(items, labels)` pair, a DataFrame).
    `columns`: `(input, label)` column names of tables (files without them are
    detected as usual).
    """
    memory = labeled_from_memory(source, columns, PATH_COLUMNS if module.kind == IMAGE else TEXT_COLUMNS)
    if memory is not None:
        if module.kind == IMAGE and memory.items and not any(is_image_file(i) for i in memory.items[:100]):
            raise DataError(f"The inputs of an image module are image paths; {memory.items[0]!r} is not a file.")
        return memory.check(skip_bad_rows)
    source = expand(source, "Labeled data") or source  # a pattern's files, merged
    if isinstance(source, (list, tuple)):
        files = [f for s in source for f in (expand(s, "Labeled data") or [s])]
        return LabeledData.merge([load_labeled(module, s, skip_bad_rows, columns) for s in _read_once(files)])
    if Path(source).suffix.lower() in IMAGE_SUFFIXES and is_image_file(source):  # e.g. fit_head(module, glob(...))
        raise DataError(f"{str(source)!r} is an image, without a label. Labeled images are a folder with a subfolder "
                        "per class, a CSV of paths and labels, or a (paths, labels) pair.")
    check_kind(module, source)
    if module.kind == IMAGE:
        return load_image_list(source, skip_bad_rows, columns)
    return load_labeled_text(source, skip_bad_rows, columns)


def _read_once(sources: list) -> list:
    """`sources` without a file given again (`-t a.tsv -t a.tsv`, or a pattern that matches one named too):
    read twice, each example had a copy, and a copy in another fold than its twin flatters cross-validation."""
    seen, kept = set(), []
    for source in sources:
        key = Path(source).resolve() if isinstance(source, (str, Path)) and Path(source).exists() else None
        if key is not None and key in seen:
            logger.warning("%r is given twice: read once.", str(source))
            continue
        seen.add(key)
        kept.append(source)
    return kept


def load_texts(source: str | Path, columns: Columns = None,
               skip_bad_rows: bool = False) -> tuple[list[str], list[str] | None]:
    """Labeled text in any format of `tfxfer.data.labeled`, or texts without labels: plain lines,
    or a table's text column when it has no column of labels (ids and texts are no classes).
    `skip_bad_rows` as for `load_labeled_text`: a labeled table's bad row is no reason to read it unlabeled."""
    path = Path(str(source))
    if is_table(path) and path.is_file():
        try:
            data = load_labeled_text(source, skip_bad_rows=True, columns=columns)
        except DataError:
            data = None
        if data is not None and looks_like_classes(data.labels):
            return _checked(data, skip_bad_rows)
        return read_values(path, (columns or (None, None))[0]), None
    if looks_labeled(source):
        return _checked(load_labeled_text(source, skip_bad_rows=True, columns=columns), skip_bad_rows)
    # As unlabeled data is read: UTF-16 and legacy code pages, compressed files, no byte-order mark.
    return list(text_items(source)), None


def load_images(source: str | Path, columns: Columns = None,
                skip_bad_rows: bool = False) -> tuple[list, list[str] | None]:
    """Labeled images (a class folder, a table of paths and labels), or images without labels: a
    folder of photos without class subfolders (searched recursively), a table of paths alone."""
    path = Path(str(source))
    if path.is_dir() and not any(p.is_dir() and not left_out(p, path) for p in path.iterdir()):
        return list(image_paths(path)), None
    if is_table(path) and path.is_file():
        try:
            data = load_image_list(source, skip_bad_rows=True, columns=columns)
        except DataError as error:  # no labels, as in a table of paths alone? Else the error stands.
            paths = list(image_paths(path, (columns or (None, None))[0]))
            if not any(path_exists(p) for p in paths[:100]):
                raise error from None
            return paths, None
        return _checked(data, skip_bad_rows)
    return _checked(load_image_list(source, skip_bad_rows=True, columns=columns), skip_bad_rows)


def _checked(data: LabeledData, skip_bad_rows: bool) -> tuple[list, list[str]]:
    """`data`'s items and labels; its bad rows raise `DataError` unless `skip_bad_rows`, else a warning."""
    data.check(skip_bad_rows)
    if data.skipped:
        logger.warning("%s of %s rows of %s skipped: %s.", len(data.skipped), data.rows, data.source,
                       "; ".join(skipped_lines(data.skipped)))
    return data.items, data.labels


def _load_each(load, files: list, columns: Columns, skip_bad_rows: bool) -> tuple[list, list[str] | None]:
    """`load` (`load_texts`, `load_images`) of each of `files`, one after the other."""
    parts = [load(file, columns, skip_bad_rows) for file in files]
    if len({labels is None for _, labels in parts}) > 1:
        raise DataError(f"Of the files {files[0]!r}... some hold labels and some do not: pass them apart.")
    items = [item for part_items, _ in parts for item in part_items]
    return items, None if parts[0][1] is None else [label for _, labels in parts for label in labels]


def _from_memory(source, module: FeatureModule, columns: Columns, skip_bad_rows: bool) -> tuple[list, list | None]:
    """Items (texts or image paths) and labels (`None` if none) of data held in memory: labeled as
    `fit_head` takes it (`(items, labels)`, a DataFrame, a dataset), else a list, Series or dataset of items."""
    names = PATH_COLUMNS if module.kind == IMAGE else TEXT_COLUMNS
    if holds_labels(source, columns):
        return _checked(labeled_from_memory(source, columns, names), skip_bad_rows)
    items = values_from_memory(source, (columns or (None, None))[0], names)
    if not items:
        raise DataError("No inputs: the data given holds no texts or image paths.")
    return items, None


def embed(
    source: str | Path,
    features: str | Path,
    out: str | Path,
    *,
    image_size: int | None = None,
    input_range: str | tuple[float, float] | None = "auto",
    preprocessor: str | Path | None = None,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    augment: int = 0,
    overwrite: bool = False,
    columns: Columns = None,
    skip_bad_rows: bool = False,
    projector: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Features:
    """Load `features`, embed `source` (images or texts) and save an `.npz` at `out`.

    `source`: files or folders of texts or images, a pattern of them; in Python also data in memory,
    labeled as `fit_head` takes it or a list, Series or dataset of texts (or image paths).

    `columns`: `(input, label)` column names of a CSV/TSV source, either `None` to detect.
    `skip_bad_rows`: go on without a labeled source's rows that cannot be used (an empty text or
    label), with a warning, instead of raising `DataError`.
    `image_size`, `input_range`, `preprocessor`: as for `load_features`.
    `projector`: also write a TensorBoard Embedding Projector folder there
    (`tfxfer.projector`: labels and items as metadata, photos as thumbnails).

    Returns:
        The `Features` written.
    """
    in_memory = not isinstance(source, (str, Path))  # a notebook's list, DataFrame or dataset
    files = [] if in_memory else expand(source, "Input data") or [source]
    if files == [source] and absent(source):  # before the module's slow load
        raise not_found("Input data", source, "Pass a folder or file of images or texts.")
    out = output_path(out, "out")
    projector = output_path(projector, "projector", "--projector") if projector is not None else None
    check_writable(out, overwrite, directory=False)
    if projector is not None:
        check_writable(projector, overwrite, marks=PROJECTOR_MARKS)
    module = load_features(features, image_size=image_size, input_range=input_range, preprocessor=preprocessor)
    warn_if_augmenting_text(module, augment)
    for note in module.notes:  # as fit-head's report gives them
        logging.getLogger(config.PROGRESS_LOG).info("Note: %s", note)
    if in_memory:
        loaded = _from_memory(source, module, columns, skip_bad_rows)
    else:
        check_kind(module, source)
    if module.kind == IMAGE:
        paths, labels = loaded if in_memory else _load_each(load_images, files, columns, skip_bad_rows)
        result = extract_image_features(
            module, paths, labels, cache_dir=cache_dir, use_cache=use_cache, augment=augment, progress=progress
        )
        originals = result.rows(result.views == 0)  # not the augmented views: they are near-copies
        note = unusual_images_note(unusual_images(originals.features, originals.labels, originals.items),
                                   len(originals.items), "images", "the .npz's items")
        if note:
            logger.warning("%s", note)
    else:
        texts, labels = loaded if in_memory else _load_each(load_texts, files, columns, skip_bad_rows)
        result = extract_text_features(module, texts, labels, cache_dir=cache_dir, use_cache=use_cache,
                                       progress=progress)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, result.save_npz)
    if projector is not None:
        images = module.kind == IMAGE
        metadata = {"label": result.labels} if result.labels is not None else {}
        metadata["item"] = result.items if images else [one_line(t, PROJECTOR_TEXT_CHARS) for t in result.items]
        if result.views.any():
            metadata["view"] = result.views.tolist()
        with atomic_dir(projector, overwrite, marks=PROJECTOR_MARKS) as tmp_dir:
            write_projector(tmp_dir, result.features, metadata, result.items if images else None)
    return result
