"""`FittedHead`: a feature module with a trained head, as `fit_head` returns it: predict, evaluate,
suggest what to label next, export for TF Serving."""

from __future__ import annotations

import dataclasses
import html
from pathlib import Path
from typing import Sequence

import numpy as np

from tfxfer import config
from tfxfer.atomic import (
    atomic_dir,
    locked,
    new_dirs_removed_on_failure,
    output_path,
    removed_on_failure,
)
from tfxfer.data.memory import inputs_to_score
from tfxfer.errors import DataError, counted, listed
from tfxfer.export.saved_model import (
    check_export_dir,
    check_model_name,
    choose_version,
    save_serving_model,
    score_order,
)
from tfxfer.export.serving import write_serving_files
from tfxfer.features.embed import load_labeled
from tfxfer.features.extract import (
    Features,
    extract_image_features,
    extract_text_features,
)
from tfxfer.features.lexical import LexicalColumns
from tfxfer.features.load import IMAGE, FeatureModule
from tfxfer.head import report as reporting
from tfxfer.head.classifier import HeadClassifier
from tfxfer.layout import report_dir
from tfxfer.metrics import evaluation
from tfxfer.suggest import rank_given_pool, save_training_features


@dataclasses.dataclass
class FittedHead:
    """A feature module with a trained head: predict, evaluate, export.

    Attributes:
        module: The `FeatureModule`.
        classifier: The fitted, calibrated `HeadClassifier`.
        report: The fit report (a dict; see the README).
        abstain_below: The export answers `config.REJECT_LABEL` where the
            answer's probability is below this (`None`: never).
        training_features: float `[n, dim]` feature vectors of the training
            examples (`suggest` skips what they already cover), the module's only.
        lexical: The lexical columns of a text head (`tfxfer.features.lexical`),
            computed from the texts after the module's vectors; `None`: none.
        export_path: The version directory of the last `export`; `None` before.
        serving_readme: The README the last `export` wrote beside its models:
            `README.md`, or `README.tfxfer.md` beside a README of the user's.
    """

    module: FeatureModule
    classifier: HeadClassifier
    report: dict
    abstain_below: float | None = None
    cache_dir: str | None = None
    use_cache: bool = True
    export_path: Path | None = None
    serving_readme: Path | None = None
    training_features: np.ndarray | None = None
    lexical: LexicalColumns | None = None

    @property
    def labels(self) -> list[str]:
        return self.classifier.classes_.tolist()

    def __reduce__(self):
        # joblib.dump(head) is how scikit-learn users save a model; here it failed on a lambda deep inside.
        raise TypeError("A FittedHead holds a loaded TensorFlow feature module and cannot be pickled. Save it "
                        "with head.export(DIR) (a SavedModel with its report) and load it with "
                        "tfxfer.ExportedModel(DIR); the head alone, head.classifier, is a scikit-learn estimator "
                        "that pickles.")

    def __repr__(self) -> str:
        # What a notebook shows of a cell's last value: one line, not the report and arrays the fields hold.
        cv = self.report.get("cross_validation") or {}
        fit = f"; cross-validated accuracy {cv['accuracy_mean']:.3f}" if "accuracy_mean" in cv else ""
        where = f"exported to {str(self.export_path)!r}" if self.export_path else "not exported"
        return (f"FittedHead({self.module.kind} module {str(self.module.spec)!r}; "
                f"{listed(self.labels, 'class', 'classes')}; "
                f"{counted(sum((self.report.get('class_counts') or {}).values()), 'label')}{fit}; {where})")

    def _repr_html_(self) -> str:
        """The report, as fit-head prints it, where a notebook shows the head."""
        return f"<pre>{html.escape(repr(self))}\n\n{html.escape(reporting.summary_text(self.report))}</pre>"

    def features(self, items: Sequence[str], labels=None) -> Features:
        """What the head classifies: feature vectors of texts (and their lexical columns, then as
        SciPy sparse rows), or of image files."""
        if self.module.kind == IMAGE:
            return extract_image_features(self.module, items, labels, cache_dir=self.cache_dir, use_cache=self.use_cache)
        feats = extract_text_features(self.module, items, labels, cache_dir=self.cache_dir, use_cache=self.use_cache)
        if self.lexical is None:
            return feats
        return dataclasses.replace(feats, features=self.lexical.extend(feats.features, items))

    def predict(self, items: Sequence[str]) -> list[tuple[str, float]]:
        """`(label, probability)` for each text or image path, as the export answers: the top score's
        label (`config.REJECT_LABEL` where its probability is below `abstain_below`) and the chance
        that label is right (the export's `probabilities`).

        `items`: a list (array, Series...) of texts or image paths, or one (a list of one answer)."""
        items = inputs_to_score(items)
        if not items:
            return []
        feats = self.features(items)
        if len(feats.items) != len(items):
            raise DataError(f"Cannot read {', '.join(s for s, _ in feats.skipped)}.")
        answers = self.classifier.logits(feats.features).argmax(1)
        chances = self.classifier.probabilities(feats.features)[np.arange(len(answers)), answers]
        unsure = chances < self.abstain_below if self.abstain_below is not None else np.zeros(len(answers), bool)
        return [(config.REJECT_LABEL if no else self.labels[i], float(p)) for i, p, no in zip(answers, chances, unsure)]

    def evaluate(self, data, columns: tuple[str | None, str | None] | None = None) -> dict:
        """Accuracy, per-class metrics and confusion matrix on labeled `data` (`columns` as in `fit_head`)."""
        items, labels = load_labeled(self.module, data, columns=columns)
        feats = self.features(items, labels)
        return evaluation(feats.labels, self.classifier.predict(feats.features).tolist(), self.labels, str(data))

    def suggest(self, pool, n: int = config.SUGGEST_N, strategy: str = config.SUGGEST_STRATEGY, seed: int = 0,
                column: str | None = None):
        """The `n` examples of `pool` (a list of texts or image paths, or a file or
        folder of them; `column` of a CSV/TSV) whose labels should help most: see `tfxfer.suggest`.

        Returns:
            `tfxfer.suggest.Suggestions`.
        """
        def embed(batch):
            feats = self.features(batch)
            return feats.features, feats.items, len(feats.skipped)

        training = set(self.report.get("training_items", []))
        return rank_given_pool(pool, self.module, column, n, embed, self.classifier.predict_proba, training,
                               self.labels, strategy=strategy, labeled_features=self.training_features,
                               class_counts=self.report.get("class_counts"), lexical=len(self.lexical or ()),
                               seed=seed)

    def export(self, export_dir, name: str = config.EXPORT_NAME, version: int | None = None, overwrite: bool = False,
               allow_new_classes: bool = False) -> Path:
        """Write `export_dir/name/version` (TF Serving layout), `models.config`, a README and the report.

        With `allow_new_classes`, classes the previous version lacks are added
        after its score columns, which keep their positions.

        Returns:
            The version directory.
        """
        export_dir = output_path(export_dir, "export_dir")
        check_model_name(name)
        check_export_dir(export_dir)
        base = export_dir / name
        # One writer at a time: the version is chosen and claimed under the lock. A failure leaves none
        # of the folders made on the way to NAME/reports/, the deepest one shared by every version.
        with new_dirs_removed_on_failure(report_dir(base / "0").parent), locked(base, "another fit-head run"):
            version = choose_version(base, self.labels, version, overwrite, allow_new_classes)
            order = score_order(base, self.labels, version)
            spec = _in_order(self.classifier.spec(), self.labels, order)
            path = save_serving_model(self.module, spec, order, base, version, abstain_below=self.abstain_below,
                                      lexical=self.lexical)
            with removed_on_failure(path):  # a version without its report is no export
                with atomic_dir(report_dir(base / str(version)), overwrite=True) as tmp:
                    reporting.write_report({**self.report, "export": str(path)}, tmp)
                    if self.training_features is not None:
                        save_training_features(self.training_features, tmp)
                self.serving_readme = write_serving_files(export_dir)
        self.export_path = path
        return path


def _in_order(spec: dict, labels: list[str], order: list[str]) -> dict:
    """`spec` with the output columns of its last layer (and its class bias) put in `order`."""
    if order == list(labels):
        return spec
    columns = [labels.index(c) for c in order]
    *hidden, (kernel, bias) = spec["layers"]
    return {**spec, "layers": [*hidden, (kernel[:, columns], bias[columns])],
            "class_bias": np.asarray(spec["class_bias"])[columns]}
