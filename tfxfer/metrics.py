"""Metrics and plots of predictions, shared by `tfxfer.head` and `tfxfer.export`.

Tables and confusion matrices come from scikit-learn; whether the scores are
calibrated is `tfxfer.reliability`'s.
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tfxfer.data.labeled_data import imbalanced, looks_like_classes, spelling_key
from tfxfer.errors import DataError, counted
from tfxfer.features.notes import one_line
from tfxfer.plotting import drawable, pyplot, save_figure
from tfxfer.reliability import scores_run_high

logger = logging.getLogger(__name__)

# Classes up to which a confusion matrix is printed whole and its cells are numbered.
TEXT_MATRIX_CLASSES = 20
# Widest text table, in characters: a wider confusion matrix numbers its columns.
TEXT_WIDTH = 120
MISCLASSIFIED_SHOWN = 20
# Texts in summaries are cut to one line of this length; JSON keeps them whole.
TEXT_SHOWN_CHARS = 100


def class_metrics(labels: Sequence[str], predicted: Sequence[str], classes: Sequence[str]) -> dict:
    """Accuracy, macro F1, per-class precision/recall/F1/support and the confusion matrix.

    Args:
        labels: True labels, `n` strings.
        predicted: Predicted labels, `n` strings.
        classes: The classes, in the order of the matrix rows and columns.

    Returns:
        A JSON-able dict: `accuracy`, `balanced_accuracy` (the mean recall of
        the classes present, scikit-learn's meaning), `macro_f1`, `per_class`
        (class -> `precision`, `recall`, `f1`, `support`) and
        `confusion_matrix` (rows: true class, columns: predicted class).
    """
    # Imported here: `predict` uses this module without tables, and scikit-learn's
    # import would be ~0.7 s of its start on 2 cores.
    from sklearn.metrics import classification_report, confusion_matrix

    classes = list(classes)
    table = classification_report(labels, predicted, labels=classes, output_dict=True, zero_division=0)
    # A class neither in the data nor answered has no F1 (scikit-learn counts it 0): an evaluation
    # set without the model's rarest class would lower the macro F1 of a model that made no mistake.
    answered = set(np.asarray(predicted).tolist())
    scored = [c for c in classes if table[c]["support"] or c in answered]
    return {
        "accuracy": float(np.mean(np.asarray(labels) == np.asarray(predicted))),
        "balanced_accuracy": float(np.mean([table[c]["recall"] for c in classes if table[c]["support"]])),
        "macro_f1": float(np.mean([table[c]["f1-score"] for c in scored])) if scored else 0.0,
        "per_class": {
            c: {"precision": float(table[c]["precision"]), "recall": float(table[c]["recall"]),
                "f1": float(table[c]["f1-score"]), "support": int(table[c]["support"])}
            for c in classes
        },
        "confusion_matrix": confusion_matrix(labels, predicted, labels=classes).tolist(),
    }


def accuracy_interval(correct: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of an accuracy of `correct` out of `n`: what another sample of
    the same size could have shown (0.90 on 300 examples: 0.86 - 0.93)."""
    from scipy.stats import binomtest

    interval = binomtest(int(correct), int(n)).proportion_ci(level, method="wilson")
    return float(interval.low), float(interval.high)


def misclassified(items, labels, predicted, probabilities, shown: int = MISCLASSIFIED_SHOWN) -> list[dict]:
    """The `shown` most confident mistakes, whole items (paths are never cut)."""
    wrong = [
        {"item": str(item), "true": t, "predicted": p, "probability": round(float(q), 4)}
        for item, t, p, q in zip(items, labels, predicted, probabilities)
        if t != p
    ]
    return sorted(wrong, key=lambda w: -w["probability"])[:shown]


def shown_item(item: str, kind: str) -> str:
    """A text on one line, cut to `TEXT_SHOWN_CHARS`; image paths whole."""
    return one_line(item, TEXT_SHOWN_CHARS) if kind == "text" else item


def check_labels_known(labels: Sequence[str], classes: Sequence[str], source: str) -> list[str]:
    """The labels of `source` that are no class of the model, sorted; `DataError` if none is one (the
    names must differ), checked before any input is scored."""
    unknown = sorted(set(labels) - set(classes))
    if unknown and not set(labels) & set(classes):
        shown = ", ".join(unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        ids = "" if looks_like_classes(labels) else (
            " Most of its labels are seen once: a column of ids or texts read as the labels? Name the column of "
            "labels with --label-column (columns=(None, NAME) in Python).")
        raise DataError(f"No label of {source!r} ({shown}) is a class of the model ({', '.join(classes)}): "
                        f"do the label names match?{_respelled(unknown, classes)}{ids}")
    return unknown


def evaluation(labels: Sequence[str], predicted: Sequence[str], classes: Sequence[str], source: str) -> dict:
    """`class_metrics` of a model on labeled data, with `classes` (the model's, then unknown ones).

    Labels the model was not trained on (a class too rare to be in its
    training sample) count as missed, with a warning: they are real misses on
    real data. If no label is a class of the model the names must differ, an error.
    """
    unknown = check_labels_known(labels, classes, source)
    if unknown:
        n = sum(label in unknown for label in labels)
        logger.warning("%s of %s %s the model was not trained on (%s): %s as missed.%s", counted(n, "row"), source,
                       "has a label" if n == 1 else "have labels", ", ".join(unknown),
                       "it counts" if n == 1 else "they count", _respelled(unknown, classes))
    classes = list(classes) + unknown
    return {"classes": classes, "unknown_labels": unknown, **class_metrics(labels, predicted, classes)}


def _respelled(unknown: Sequence[str], classes: Sequence[str]) -> str:
    """A sentence naming the `unknown` labels that are a class of the model spelled another way, if any."""
    spelled = {spelling_key(c): c for c in classes}
    alike = [(label, spelled[spelling_key(label)]) for label in unknown if spelling_key(label) in spelled]
    if not alike:
        return ""
    shown = ", ".join(f"{label!r} for {c!r}" for label, c in alike[:3]) + (", ..." if len(alike) > 3 else "")
    return (f" {counted(len(alike), 'label')} {'differs' if len(alike) == 1 else 'differ'} from the model's classes "
            f"only in case, spacing or number format ({shown}): spell {'it' if len(alike) == 1 else 'them'} as the "
            "model does.")


def metrics_table(metrics: dict, shown: int | None = None, all_in: str = "") -> str:
    """The per-class table of `class_metrics`, as text.

    Args:
        metrics: From `class_metrics`.
        shown: Past this many classes, only the `shown` with the lowest F1 (the
            ones to look at, or label more of), after a line that says so and
            where the whole table is (`all_in`). Defaults to `None`: every class.
        all_in: Where every class is, e.g. `"report.html"`.
    """
    rows = list(metrics["per_class"].items())
    lines = []
    if shown is not None and len(rows) > shown:
        zero = sum(m["f1"] == 0 for _, m in rows)
        rows = sorted(rows, key=lambda row: (row[1]["f1"], -row[1]["support"]))[:shown]
        none = f"; {zero} score 0" if zero > shown else ""
        lines.append(f"The {shown} of {len(metrics['per_class'])} classes with the lowest F1 ({all_in} lists all{none}):")
    lines.append(f"{'class':<20}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}")
    answered = dict(zip(metrics["per_class"], np.sum(metrics["confusion_matrix"], axis=0).tolist()))
    for c, m in rows:
        if not (m["support"] or answered.get(c)):  # not in the data, never answered: nothing to score
            lines.append(f"{c[:19]:<20}{'-':>10}{'-':>10}{'-':>10}{0:>9}")
            continue
        lines.append(f"{c[:19]:<20}{m['precision']:>10.3f}{m['recall']:>10.3f}{m['f1']:>10.3f}{m['support']:>9}")
    return "\n".join(lines)


def confusion_text(matrix, classes: Sequence[str]) -> str:
    """A confusion matrix as a text table (rows: true, columns: predicted).

    Columns are headed by the class names while the table fits `TEXT_WIDTH`
    characters, and by the classes' row numbers past that (15 names of 15
    characters make a 256-character line, which every terminal wraps). Past
    `TEXT_MATRIX_CLASSES` classes the most confused pairs are listed instead
    (the whole matrix is in the PNG and JSON).
    """
    if len(classes) > TEXT_MATRIX_CLASSES:
        return most_confused_text(matrix, classes)
    corner = "true \\ predicted"
    names = [c[:19] for c in classes]
    first = max(len(corner), *map(len, names)) + 1
    width = max(8, *(len(c) + 1 for c in names))
    if first + width * len(classes) > TEXT_WIDTH:
        names = [f"{i:>{len(str(len(classes)))}} {c}" for i, c in enumerate(names, 1)]
        first = max(len(corner), *map(len, names)) + 1
        width = max(len(str(len(classes))), *(len(str(v)) for row in matrix for v in row)) + 2
        header = [str(i) for i in range(1, len(classes) + 1)]
    else:
        header = names
    lines = [corner.ljust(first) + "".join(c.rjust(width) for c in header)]
    for name, row in zip(names, matrix):
        lines.append(name.ljust(first) + "".join(str(v).rjust(width) for v in row))
    return "\n".join(lines)


def most_confused_text(matrix, classes: Sequence[str], shown: int = TEXT_MATRIX_CLASSES) -> str:
    """The `shown` largest off-diagonal cells of a confusion matrix, as lines `true -> predicted: count`."""
    m = np.asarray(matrix)
    off = [(int(m[i, j]), classes[i], classes[j]) for i in range(len(m)) for j in range(len(m)) if i != j and m[i, j]]
    off.sort(key=lambda c: -c[0])
    lines = [f"Most confused pairs (of {len(classes)} classes; the confusion matrix PNG and the JSON hold them all):"]
    lines += [f"  {t} -> {p}: {n}" for n, t, p in off[:shown]] or ["  none"]
    return "\n".join(lines)


def is_imbalanced(metrics: dict) -> bool:
    """Whether the largest class of `class_metrics` is `config.IMBALANCE_RATIO` times the smallest or more."""
    return imbalanced(m["support"] for m in metrics["per_class"].values())


def against_majority(metrics: dict, majority_class: str, majority_accuracy: float,
                     balanced_head: bool | None = None, interval: tuple[float, float] | None = None) -> str:
    """What always answering the commonest label scores, beside the model's `class_metrics`.

    With imbalanced classes the comparison is in balanced accuracy, where
    answering one class scores 1/k: a model that finds the rare classes can
    be less accurate than always answering the common one, and better.

    Args:
        metrics: The model's `class_metrics`.
        majority_class: The commonest label (unused when the classes are the same size).
        majority_accuracy: The share of the commonest label.
        balanced_head: For a fit report, whether the head weighs classes
            equally: the text then says when the head does no better, and why
            it can be less accurate than the floor. Defaults to `None` (an evaluation).
        interval: For a fit report, the 95% interval of the out-of-fold accuracy
            (`accuracy_interval`): whether the labels can tell the head from the floor.
    """
    present = [c for c, m in metrics["per_class"].items() if m["support"]]
    if len(present) == 1:  # a test file of one class: "the classes are the same size" would mislead
        text = (f"Every example is labeled {present[0]!r}: the accuracy is that class's recall alone, and "
                "always answering it would score 1.000. Add examples of the other classes to compare.")
        better = False
    elif len({metrics["per_class"][c]["support"] for c in present}) == 1:
        text = f"Guessing would score {majority_accuracy:.3f} (the classes are the same size)."
        better = metrics["accuracy"] > majority_accuracy
    elif not is_imbalanced(metrics):
        text = f"Always answering {majority_class!r} would score {majority_accuracy:.3f}."
        better = metrics["accuracy"] > majority_accuracy
    else:
        others = [c for c in present if c != majority_class]
        missed = repr(others[0]) if len(others) == 1 else "other class"
        text = (f"Always answering {majority_class!r} would score {majority_accuracy:.3f} but find no {missed}: "
                f"balanced accuracy (the mean recall of the classes) {1 / len(present):.3f}, against "
                f"{metrics['balanced_accuracy']:.3f} here.")
        better = metrics["balanced_accuracy"] > 1 / len(present)
        if balanced_head and better and metrics["accuracy"] <= majority_accuracy:
            rarer = repr(others[0]) if len(others) == 1 else "the rarer classes"
            text += (f" The head weighs the classes equally (class_weight='balanced'), trading accuracy on "
                     f"{majority_class!r} for recall of {rarer}.")
    if balanced_head is not None:
        # Wilson's interval is of plain accuracy; for balanced accuracy (imbalanced classes) only the point is judged.
        plain = interval if interval is not None and not is_imbalanced(metrics) else None
        text += _verdict(sum(m["support"] for m in metrics["per_class"].values()), majority_accuracy, better, plain)
    return text


def _verdict(n: int, floor: float, better: bool, interval: tuple[float, float] | None) -> str:
    """Whether a fit's out-of-fold accuracy on `n` labels, with its 95% `interval` (`None`: not
    judged), tells the head from the floor: 40 labels at 0.475 against guessing's 0.500 (interval
    0.33 - 0.63) say nothing about the feature module (product_reviews_1: that head's balanced
    accuracy held out was 0.68)."""
    low, high = interval or (0.0, 1.0)
    span = f"the cross-validated accuracy's 95% interval is {low:.3f} - {high:.3f}"
    # "Too few to tell" only where the interval leaves room for a head worth having: 300 labels at
    # 0.32 against a third (interval 0.27 - 0.38) rule that out as surely as a user needs.
    if not better and interval and high >= floor + 0.1:
        return (f" The head does no better on these {n:,} labels, but they are too few to tell ({span}): label more"
                " examples before judging the feature module.")
    if not better:
        return (" The head does no better: these labels or this feature module do not separate the classes yet."
                " Label more examples, or try another --features module.")
    if interval and low <= floor:
        return f" The head does better, but {n:,} labels are too few to be sure ({span})."
    return ""


def evaluation_text(result: dict, kind: str) -> str:
    """A human summary of `ExportedModel.evaluate`'s result (`kind`: "text" or "image"), for a terminal:
    past `TEXT_MATRIX_CLASSES` classes, those with the lowest F1 (`--json` and `--out` have all)."""
    skipped = f"; {len(result['skipped'])} skipped" if result["skipped"] else ""
    low, high = result["accuracy_interval"]
    lines = [(f"{result['model']}: accuracy {result['accuracy']:.3f} on {result['examples']:,} examples (95% "
              f"interval {low:.3f} - {high:.3f}{skipped})"),
             against_majority(result, result["majority_class"], result["majority_accuracy"])]
    calibration = result["calibration"]
    chance = calibration.get("chance_calibration_error")
    lines.append(f"Calibration: expected calibration error {calibration['expected_calibration_error']:.3f} (mean top "
                 f"score {calibration['mean_top_score']:.3f} against accuracy {result['accuracy']:.3f}"
                 + (f"; calibrated scores would show about {chance:.3f} by chance on {result['examples']:,} examples"
                    if chance is not None else "") + ")")
    abstain = result.get("abstain")
    if abstain:
        acc = abstain["accuracy_when_answering"]
        lines.append(f"Abstains ({abstain['label']!r}) on {counted(abstain['count'], 'example')}: answers "
                     f"{abstain['coverage']:.0%}, " + (f"{acc:.1%} of them right" if acc is not None else "none")
                     + f" (the figures here count every example at its top score: {result['accuracy']:.1%})")
    corrected = calibration.get("probabilities")
    if corrected:
        lines.append(f"Probabilities (corrected for the training labels' class frequencies): expected calibration "
                     f"error {corrected['expected_calibration_error']:.3f}")
    mix = calibration.get("training_mix")
    if mix:
        shift = mix["largest_shift"]
        lines.append(f"At the training labels' class mix ({shift['class']!r} is {abs(shift['points']):.0f} points "
                     f"{'more' if shift['points'] > 0 else 'less'} common here): expected calibration error "
                     f"{mix['expected_calibration_error']:.3f} of the {mix['of']}. Scores know only the mix "
                     "they were trained on.")
    high = scores_run_high(result["classes"], calibration.get("by_class") or [], "on this data",
                           probabilities=corrected["by_class"] if corrected else None)
    if high:
        lines.append(f"Note: {high}")
    lines += ["", metrics_table(result, TEXT_MATRIX_CLASSES, "--json"), "",
              confusion_text(result["confusion_matrix"], result["classes"])]
    wrong = result["misclassified"]
    if wrong:
        lines.append(f"\nMisclassified, {len(wrong)} most confident:")
        lines += [f"  {w['true']} -> {w['predicted']} ({w['probability']:.2f}): {shown_item(w['item'], kind)}"
                  for w in wrong]
    return "\n".join(lines)


def plot_confusion_matrix(matrix, classes: Sequence[str], path: str | Path, title: str = "Confusion matrix") -> None:
    """Draw a confusion matrix (scikit-learn's `ConfusionMatrixDisplay`) to a PNG.

    Past `TEXT_MATRIX_CLASSES` classes the cells are colour only and the
    figure stops growing at 16 inches: 100 classes drawn at full size took
    13 s and 2 GB for a 7,440-pixel image no one could read.
    """
    from sklearn.metrics import ConfusionMatrixDisplay

    plt = pyplot()
    many = len(classes) > TEXT_MATRIX_CLASSES
    size = min(16, max(4.5, 0.6 * len(classes) + 2))
    fig, ax = plt.subplots(figsize=(size, size))
    shown = ConfusionMatrixDisplay(np.asarray(matrix), display_labels=drawable(classes)).plot(
        ax=ax, cmap="Blues", colorbar=False, xticks_rotation=90 if many else 45, include_values=not many
    )
    if many:
        fig.colorbar(shown.im_, ax=ax, shrink=0.5, label="examples")
        ax.tick_params(labelsize=max(3, min(9, 400 / len(classes))))
    ax.set_title(title)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)


def plot_mistakes(wrong: list[dict], path: str | Path, title: str = "Most confident mistakes",
                  side: int = 160) -> bool:
    """A contact sheet of mistaken images (`misclassified`'s rows): each photo, its label and the answer.

    Returns:
        Whether a sheet was drawn (not when no image could be read).
    """
    return plot_image_sheet(
        [(w["item"], "{} -> {} ({:.2f})".format(*drawable([w["true"], w["predicted"]]), w["probability"]))
         for w in wrong], path, title, side)


def plot_image_sheet(images: list[tuple[str, str]], path: str | Path, title: str, side: int = 160) -> bool:
    """A contact sheet: each image of `images`, `(path, caption)` pairs, under its caption, 5 to a row.

    Returns:
        Whether a sheet was drawn (not when no image could be read).
    """
    import tensorflow as tf

    from tfxfer.data.images import decode_image

    shown = []
    for item, caption in images:
        try:
            shown.append((decode_image(tf.io.read_file(item), (side, side)).numpy(), caption))
        except (tf.errors.OpError, ValueError):  # moved or unreadable since: the sheet shows the others
            continue
    if not shown:
        return False
    plt = pyplot()
    columns = min(5, len(shown))
    rows = -(-len(shown) // columns)
    # Wrapped to the sheet's width: one photo's column holds about 28 characters of the title.
    title = textwrap.fill(title, 28 * columns)
    fig, axes = plt.subplots(rows, columns, squeeze=False,
                             figsize=(2.3 * columns, 2.6 * rows + 0.25 * (title.count("\n") + 2)))
    for ax in axes.flat:
        ax.axis("off")
    for ax, (image, caption) in zip(axes.flat, shown):
        ax.imshow(image)
        ax.set_title(caption, fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    return True
