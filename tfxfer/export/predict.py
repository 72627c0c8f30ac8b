"""Use an export as a client would: only the SavedModel, through `serving_default`."""

from __future__ import annotations

import functools
import logging
from collections import Counter
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from tfxfer.data.delimited import write_table
from tfxfer.data.image_files import (
    IMAGE_SUFFIXES,
    is_image_file,
    load_image_list,
    unreadable_reason,
)
from tfxfer.data.images import undecoded_reason
from tfxfer.data.labeled import load_labeled_text
from tfxfer.data.labeled_data import LabeledData
from tfxfer.data.memory import inputs_to_score, labeled_from_memory
from tfxfer.data.names import PATH_COLUMNS, TEXT_COLUMNS
from tfxfer.data.patterns import expand, user_path
from tfxfer.data.unlabeled import in_training
from tfxfer.errors import DataError, counted, listed, op_error_reason
from tfxfer.export.inputs import Inputs, read_inputs
from tfxfer.export.predictions import Predictions
from tfxfer.export.saved_model import (
    FEATURES_OUTPUT,
    FEATURES_SIGNATURE,
    IMAGE_INPUT,
    existing_versions,
    not_an_export,
    read_labels,
    training_items,
)
from tfxfer.features.embed import check_kind
from tfxfer.features.load import load_saved_model
from tfxfer.features.notes import one_line
from tfxfer.layout import read_fit_report
from tfxfer.metrics import (
    accuracy_interval,
    check_labels_known,
    evaluation,
    misclassified,
)
from tfxfer.reliability import (
    MIX_SHIFT_SHOWN,
    chance_calibration_error,
    expected_calibration_error,
    mix_weights,
    scores_by_class,
)

logger = logging.getLogger(__name__)

BATCH = 64
# Inputs scored between writes of `write_predictions`: its rows never all in memory.
WRITE_CHUNK = 10_000


def resolve_export(path: str | Path) -> Path:
    """The SavedModel directory for `EXPORT_DIR`, `EXPORT_DIR/NAME` or `EXPORT_DIR/NAME/VERSION`.

    Without a version the highest is used, as TF Serving does.
    """
    path = Path(user_path(path))
    reason = not_an_export(path)
    if reason:
        raise DataError(reason)
    if (path / "saved_model.pb").is_file():
        return path
    if existing_versions(path):
        return path / str(existing_versions(path)[-1])
    names = [p for p in path.iterdir() if p.is_dir() and existing_versions(p)] if path.is_dir() else []
    if len(names) == 1:
        return names[0] / str(existing_versions(names[0])[-1])
    if names:
        raise DataError(
            f"{str(path)!r} holds several models ({', '.join(sorted(p.name for p in names))}); pass "
            f"{path}/NAME or {path}/NAME/VERSION."
        )
    raise DataError(f"No exported model at {str(path)!r}. Pass the --out directory of `tfxfer fit-head`.")


def _progressed(progress: Callable[[int, int], None], offset: int, total: int, done: int, _: int) -> None:
    progress(offset + done, total)


class ExportedModel:
    """A loaded export: `predict` raw inputs, `evaluate` labeled data (`tfxfer.ExportedModel`).

    Args:
        path: fit-head's `--out`, `OUT/NAME` or `OUT/NAME/VERSION`; the highest version where
            it holds several.

    Attributes:
        path: The version directory loaded.
        kind: `"text"` or `"image"`: what its `serving_default` takes.
        labels: The class names, in score order.
        spec: `path`, as text.

    Raises:
        DataError: No export there, or a SavedModel that is not a classifier.
    """

    def __init__(self, path: str | Path):
        self.path = resolve_export(path)
        loaded = load_saved_model(self.path)
        if "serving_default" not in loaded.signatures:
            raise DataError(f"{str(self.path)!r} has no serving_default signature; is it a tfxfer export?")
        self._signature = loaded.signatures["serving_default"]
        self._features = loaded.signatures.get(FEATURES_SIGNATURE)  # tfxfer's exports have it
        if "scores" not in self._signature.structured_outputs:
            raise DataError(f"{str(self.path)!r} is not a classifier: its serving_default has no scores output.")
        (self.input_name,) = self._signature.structured_input_signature[1]
        self.kind = "image" if self.input_name == IMAGE_INPUT else "text"
        self.labels = read_labels(self.path)
        self.spec = str(self.path)  # as a feature module's: data checks name it

    def __reduce__(self):
        raise TypeError(f"An ExportedModel is a loaded SavedModel and cannot be pickled: keep its path "
                        f"({str(self.path)!r}) and load it again with tfxfer.ExportedModel(path).")

    def __repr__(self) -> str:
        return f"ExportedModel({str(self.path)!r}; {self.kind}; {listed(self.labels, 'class', 'classes')})"

    def read_inputs(self, inputs: Sequence[str], column: str | None = None) -> Inputs:
        """What `predict` was given, read for this model (`inputs.read_inputs`): texts, image paths
        and folders, files listing them, and tables with the other columns of their rows."""
        return read_inputs(inputs, self.kind, column)

    def _call(self, inputs: list) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """The `scores`, `probabilities` (`scores` for an export made before them) and `classes` outputs."""
        outputs = self._signature(**{self.input_name: tf.constant(inputs)})
        scores = outputs["scores"].numpy()
        probabilities = outputs["probabilities"].numpy() if "probabilities" in outputs else scores
        return scores, probabilities, [c.decode("utf-8") for c in outputs["classes"].numpy()]

    def _warn_of_paths(self, items: Sequence[str]) -> None:
        images = [i for i in items if Path(i).suffix.lower() in IMAGE_SUFFIXES and is_image_file(i)]
        if images:
            logger.warning("%s %s (%s); this model takes text and scores the path as a text.",
                           counted(len(images), "input"),
                           "looks like an image path" if len(images) == 1 else "look like image paths", images[0])

    def _read(self, items: Sequence[str], positions: range, skipped: list) -> tuple[list[int], list]:
        """The inputs at `positions` as the model takes them; image files that cannot be read go to `skipped`."""
        if self.kind == "text":
            return list(positions), [items[p] for p in positions]
        kept, data = [], []
        for position in positions:  # a batch at a time: a folder of photos need not fit in memory
            try:
                data.append(Path(items[position]).read_bytes())
                kept.append(position)
            except OSError as e:
                skipped.append((items[position], unreadable_reason(items[position], e)))
        return kept, data

    @functools.cached_property
    def _empty_text_scores(self) -> np.ndarray:
        """The scores of an empty text: those of every text without a word (or n-gram) the model knows."""
        return self._call([""])[0][0]

    @functools.cached_property
    def _empty_text_features(self) -> np.ndarray:
        """The features of an empty text: those of every text without a word (or n-gram) the model knows."""
        return self._text_features([""])[0]

    def _text_features(self, texts: list[str]) -> np.ndarray:
        return np.concatenate([self._features(**{self.input_name: tf.constant(texts[i:i + BATCH])})[FEATURES_OUTPUT]
                               .numpy() for i in range(0, len(texts), BATCH)])

    def without_known_words(self, result: Predictions, items: Sequence[str]) -> list[int]:
        """The `positions` of `result` (of a text model, on `items`) whose texts hold no word the model
        knows: their scores are an empty text's, a guess without evidence."""
        if self.kind != "text" or not result.positions:
            return []
        same = np.isclose(result.scores, self._empty_text_scores, rtol=0, atol=1e-6).all(1)
        alike = [p for p, one in zip(result.positions, same) if one]
        if not alike or self._features is None:
            return alike
        # Scores can match by chance (one of 10,662 movie reviews, to 7e-7): the features tell.
        features = self._text_features([items[p] for p in alike])
        return [p for p, row in zip(alike, features) if np.array_equal(row, self._empty_text_features)]

    def warn_of_unknown_words(self, items: Sequence[str], positions: Sequence[int]) -> None:
        """Log the inputs at `positions` (`without_known_words`'), with a few of them."""
        if positions:
            n = len(positions)
            shown = ", ".join(repr(one_line(items[p], 40)) for p in positions[:3]) + ("..." if n > 3 else "")
            logger.warning("%s %s no word the model knows (%s): %s the scores of an empty text, a guess without "
                           "evidence.", counted(n, "input"), "holds" if n == 1 else "hold", shown,
                           "it gets" if n == 1 else "they get")

    def run(self, items: Sequence[str], progress: Callable[[int, int], None] | None = None,
            warn_unknown_words: bool = True) -> Predictions:
        """Scores of each text or image path; undecodable images are skipped with the reason.

        Args:
            items: Texts or image paths.
            progress: `progress(done, total)`, called after each batch of `BATCH` inputs when there are more.
            warn_unknown_words: Log the texts without a word the model knows (`without_known_words`).
        """
        items = inputs_to_score(items)
        if self.kind == "text":
            self._warn_of_paths(items)
        scored, chunks, skipped = [], [], []
        for start in range(0, len(items), BATCH):
            positions, batch = self._read(items, range(start, min(start + BATCH, len(items))), skipped)
            try:
                if batch:
                    chunks.append(self._call(batch))
                    scored += positions
            except tf.errors.InvalidArgumentError:
                for position, one in zip(positions, batch):  # find the inputs the model cannot read
                    try:
                        chunks.append(self._call([one]))
                        scored.append(position)
                    except tf.errors.InvalidArgumentError as e:
                        skipped.append((items[position], undecoded_reason(items[position], op_error_reason(e.message))))
            if progress and len(items) > BATCH:  # one batch is over before a bar could say so
                progress(min(start + BATCH, len(items)), len(items))
        for item, reason in skipped:
            logger.warning("Skipped %s: %s", item, reason)
        if not chunks:
            return Predictions(scored, np.zeros((0, len(self.labels)), np.float32), skipped, classes=[])
        scores, probabilities, classes = zip(*chunks)
        result = Predictions(scored, np.concatenate(scores), skipped, np.concatenate(probabilities),
                             [label for batch in classes for label in batch])
        if warn_unknown_words:
            self.warn_of_unknown_words(items, self.without_known_words(result, items))
        return result

    def write_predictions(self, items: Sequence[str] | Inputs, out: str | Path,
                          progress: Callable[[int, int], None] | None = None) -> tuple[int, list[tuple[str, str]]]:
        """Score `items` and write a row each to `out` (`Predictions.rows`: CSV, or a workbook for
        `.xlsx`), `WRITE_CHUNK` inputs at a time, so that a file of millions of inputs is written as
        it is scored instead of held in memory. Written atomically: nothing is left if it fails.

        Args:
            items: Texts or image paths; or `Inputs` (`read_inputs`), whose tables'
                other columns are written first.
            out: The file to write.
            progress: `progress(done, total)`, as `run`'s.

        Returns:
            `(rows written, skipped)`: `skipped` as `Predictions.skipped`.

        Raises:
            DataError: None of `items` could be read.
        """
        skipped: list[tuple[str, str]] = []
        unknown: list[int] = []
        written = 0
        given = items if isinstance(items, Inputs) and items.columns else None
        items = items.items if isinstance(items, Inputs) else inputs_to_score(items)

        def rows():
            nonlocal written
            for start in range(0, len(items), WRITE_CHUNK):
                part = items[start:start + WRITE_CHUNK]
                result = self.run(part, progress and functools.partial(_progressed, progress, start, len(items)),
                                  warn_unknown_words=False)  # once, for all the parts
                skipped.extend(result.skipped)
                unknown.extend(start + p for p in self.without_known_words(result, part))
                if progress and len(items) > BATCH:  # `run` says nothing of a last part of one batch
                    progress(start + len(part), len(items))
                cells = given and Inputs(part, given.columns, given.cells[start:start + WRITE_CHUNK])
                table = result.rows(part, self.labels, given=cells)
                yield from table[1:] if start else table
                written += len(result.positions)
            if not written:
                raise DataError(f"None of the {len(items):,} inputs could be read.")

        write_table(out, rows())
        self.warn_of_unknown_words(items, unknown)
        return written, skipped

    def run_all(self, items: Sequence[str]) -> Predictions:
        """`run`, where every input must be readable."""
        result = self.run(items)
        if result.skipped:
            item, reason = result.skipped[0]
            raise DataError(f"Cannot read {item!r}: {reason}.")
        return result

    def scores(self, items: Sequence[str]) -> np.ndarray:
        """float32 `[len(items), classes]` scores, in the order of `labels`; every input must be readable."""
        return self.run_all(items).scores

    def predict(self, items: Sequence[str]) -> list[tuple[str, float]]:
        """`(label, probability)` of each text or image path: the answer (the reject label where the export
        abstains), and the chance that the top score's label is right."""
        return self.run_all(items).labeled(self.labels)

    def evaluate(self, data, skip_bad_rows: bool = False, columns: tuple[str | None, str | None] | None = None,
                 progress: Callable[[int, int], None] | None = None) -> dict:
        """Accuracy, per-class metrics and confusion matrix on labeled `data`.

        Inputs that cannot be read are skipped and listed under `skipped`.
        `columns`: `(input, label)` column names of a CSV/TSV, either `None` to detect.
        `progress`: as `run`'s.

        Returns:
            `evaluation`'s metrics, and `accuracy_interval` (95%, Wilson),
            `majority_class` and `majority_accuracy` (always answering the
            most common label of `data`), `calibration` (the expected
            calibration error of the scores on `data`, and their mean top
            score; `probabilities`, the same of the export's probabilities
            where they differ; `training_mix`, see `_training_mix`),
            `misclassified` (the most confident mistakes),
            `seen_in_training` (examples the model was trained on),
            `accuracy_unseen` (on the others, when some were) and `abstain`
            (`_abstained`; `None` unless the export abstains on some).
        """
        items, labels = self.labeled(data, skip_bad_rows, columns)
        return self.evaluate_items(items, labels, str(data), progress)[0]

    def labeled(self, data, skip_bad_rows: bool = False, columns: tuple[str | None, str | None] | None = None,
                keep_columns: bool = False) -> LabeledData:
        """Labeled `data` (any form `fit_head` takes) read for this model's kind (unpacks as `items,
        labels`); with a table's other columns if `keep_columns`."""
        memory = labeled_from_memory(data, columns, PATH_COLUMNS if self.kind == "image" else TEXT_COLUMNS)
        if memory is not None:
            return memory.check(skip_bad_rows)
        load = load_image_list if self.kind == "image" else load_labeled_text
        sources = expand(data, "Labeled data") or [data]
        for source in sources:  # photos for a text model read as rows of "not a text file", one by one
            check_kind(self, source, module_fixed=True, labeled=True)
        return LabeledData.merge([load(source, skip_bad_rows, columns, keep_columns) for source in sources])

    def _calibration(self, result: Predictions, truth: list[str], correct: np.ndarray,
                     class_counts: dict[str, int]) -> dict:
        """`evaluate`'s `calibration`; `class_counts` are the training labels' (the fit report's)."""
        index = [self.labels.index(t) if t in self.labels else -1 for t in truth]
        out = {"expected_calibration_error": expected_calibration_error(result.scores, correct),
               "chance_calibration_error": chance_calibration_error(result.scores),
               "by_class": scores_by_class(result.scores, index),
               "mean_top_score": float(result.scores.max(1).mean())}
        if result.corrected:
            top = result.probabilities.argmax(1)
            out["probabilities"] = {
                "expected_calibration_error": expected_calibration_error(
                    result.probabilities, top == np.asarray(index)),
                "by_class": scores_by_class(result.probabilities, index, result.scores.argmax(1)),
            }
        mix = self._training_mix(result, truth, np.asarray(index), class_counts)
        if mix:
            out["training_mix"] = mix
        return out

    def _training_mix(self, result: Predictions, truth: list[str], index: np.ndarray,
                      counts: dict[str, int]) -> dict | None:
        """The calibration error with the examples weighted to the training labels' class mix, where
        the training classes come in this data in another mix by `MIX_SHIFT_SHOWN` or more: scores can
        know only the labels' mix (names labeled 50 / 50 and scored on a population 63% female look 0.05
        worse calibrated than they are). Of the `probabilities`, which follow the labels' mix, where
        the export has them. `counts`: the training labels' class counts. `None` where fewer than two
        training classes are in the data."""
        here = Counter(t for t in truth if counts.get(t))
        if len(here) < 2:
            return None
        trained = {c: counts[c] / sum(counts[k] for k in here) for c in here}
        shift = {c: here[c] / here.total() - trained[c] for c in here}
        widest = max(sorted(shift), key=lambda c: abs(shift[c]))
        if abs(shift[widest]) < MIX_SHIFT_SHOWN:
            return None
        scores = result.probabilities if result.corrected else result.scores
        return {"expected_calibration_error": expected_calibration_error(
                    scores, scores.argmax(1) == index, sample_weight=mix_weights(truth, trained)),
                "of": "probabilities" if result.corrected else "scores",
                "training_shares": trained, "largest_shift": {"class": widest, "points": 100 * shift[widest]}}

    def evaluate_items(self, items: Sequence[str], labels: Sequence[str], data: str,
                       progress: Callable[[int, int], None] | None = None) -> tuple[dict, Predictions]:
        """`evaluate` on inputs and labels already read from `data` (named in messages); and the predictions."""
        check_labels_known(labels, self.labels, data)  # before scoring them all
        result = self.run(items, progress)
        if not result.positions:
            raise DataError(f"None of the {len(items)} inputs of {data!r} could be read.")
        predicted = [self.labels[i] for i in result.scores.argmax(1)]
        truth = [labels[p] for p in result.positions]
        correct = np.asarray(truth) == np.asarray(predicted)
        majority, count = Counter(truth).most_common(1)[0]
        report = read_fit_report(self.path)
        seen = in_training([items[p] for p in result.positions], training_items(report), self.kind == "image")
        if seen.all():
            logger.warning("Every example of %s was in the training data of %s: this is a training accuracy, "
                           "not an estimate for new data.", data, self.path)
        elif seen.any():
            logger.warning("%s of the %s examples of %s %s in the training data of %s; on the other %s, accuracy "
                           "%.3f (the figures below count all %s).", f"{seen.sum():,}", f"{len(seen):,}", data,
                           "was" if seen.sum() == 1 else "were", self.path, f"{(~seen).sum():,}",
                           correct[~seen].mean(), f"{len(seen):,}")
        return {"model": str(self.path), "examples": len(result.positions),
                "skipped": [{"item": i, "reason": r} for i, r in result.skipped],
                **evaluation(truth, predicted, self.labels, data),
                "accuracy_interval": accuracy_interval(correct.sum(), len(correct)),
                "majority_class": majority, "majority_accuracy": count / len(truth),
                "calibration": self._calibration(result, truth, correct, report.get("class_counts") or {}),
                "misclassified": misclassified([items[p] for p in result.positions], truth, predicted,
                                               result.answered()[1]),
                "seen_in_training": int(seen.sum()),
                "accuracy_unseen": float(correct[~seen].mean()) if seen.any() and not seen.all() else None,
                "abstain": self._abstained(result, correct)}, result

    def _abstained(self, result: Predictions, correct: np.ndarray) -> dict | None:
        """Where the export answers its reject label (`--abstain-below`): how often, and the accuracy of the
        answers it gives; `None` for an export that never abstains here. `evaluate`'s other figures count
        every example at its top score."""
        unsure = np.array([c not in self.labels for c in result.classes or []], bool)
        if not unsure.any():
            return None
        kept = ~unsure
        return {"label": result.classes[int(np.argmax(unsure))], "count": int(unsure.sum()),
                "coverage": float(kept.mean()),
                "accuracy_when_answering": float(correct[kept].mean()) if kept.any() else None}
