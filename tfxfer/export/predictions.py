"""`Predictions`: what an export answered for a batch of inputs, and the table `predict --out` and
`evaluate --out` write of it."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from tfxfer.export.inputs import Inputs


@dataclasses.dataclass
class Predictions:
    """Scores of the inputs that could be read, and the inputs that could not.

    Attributes:
        positions: Where each scored input was in the inputs given.
        scores: float32 `[len(positions), classes]`, in the order of the model's labels.
        skipped: `(input, reason)` for inputs that could not be read or decoded.
        probabilities: The export's `probabilities` output, as `scores`
            (`scores` for an export made before it).
        classes: The export's `classes` output, `[len(positions)]` labels:
            the top score's, or the reject label of an export that abstains.
    """

    positions: list[int]
    scores: np.ndarray
    skipped: list[tuple[str, str]]
    probabilities: np.ndarray | None = None
    classes: list[str] | None = None

    def __post_init__(self):
        if self.probabilities is None:
            self.probabilities = self.scores

    @property
    def corrected(self) -> bool:
        """Whether `probabilities` differ from `scores` (a balanced head on imbalanced labels)."""
        return self.probabilities is not self.scores and not np.allclose(self.probabilities, self.scores,
                                                                         atol=1e-6)

    def answered(self) -> tuple[np.ndarray, np.ndarray]:
        """Each input's answer (the top score's column) and the probability that it is right."""
        answers = self.scores.argmax(1)
        return answers, self.probabilities[np.arange(len(answers)), answers]

    def labeled(self, labels: Sequence[str]) -> list[tuple[str, float]]:
        """`(label, probability)` of each scored input: the export's `classes` (the reject label where it
        abstains) and the probability that the top score's label is right."""
        answers, probability = self.answered()
        said = self.classes if self.classes is not None else [labels[int(a)] for a in answers]
        return [(label, float(p)) for label, p in zip(said, probability)]

    def rows(self, items: Sequence[str], labels: Sequence[str], truth: Sequence[str] | None = None,
             given: Inputs | None = None) -> list[list]:
        """A table of the scored inputs, a header and then a row each.

        Args:
            items: The inputs given (`positions` index them).
            labels: The model's labels, in the order of its score columns.
            truth: The known label of each input given, for `evaluate`: then a
                `true_label` column and `right` (the top score's label is it).
                Defaults to none.
            given: `items` as read from tables (`Inputs`, its `cells` indexed as
                `items`): their other columns come first. Defaults to none.

        Returns:
            Rows of [the tables' other columns,] `input`, [`true_label`,] `label`
            (the export's `classes`), [`right`,] `probability` (that `label` is
            right) and one `score_<class>` column per class.
        """
        scores = [f"score_{label}" for label in labels]
        kept = given.columns if given else []
        rows = [[*kept, "input", "label", "probability", *scores] if truth is None else
                [*kept, "input", "true_label", "label", "right", "probability", *scores]]
        for position, (label, p), row, answer in zip(self.positions, self.labeled(labels), self.scores,
                                                     self.scores.argmax(1)):
            said = ([items[position], label] if truth is None else
                    [items[position], truth[position], label, truth[position] == labels[answer]])
            rows.append([*(given.cells[position] if given else ()), *said, round(p, 4),
                         *(round(float(v), 4) for v in row)])
        return rows
