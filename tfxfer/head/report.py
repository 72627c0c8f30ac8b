"""The fit report: what was chosen and how well it does, as text, JSON and plots."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from tfxfer import config, metrics, reliability
from tfxfer.head.learning_curve import plot_learning_curve
from tfxfer.metrics import shown_item
from tfxfer.plotting import drawable

# Unusual training images drawn in unusual.png; report.json lists them all.
UNUSUAL_SHOWN = 10
# The plots report.html shows, in this order, with their captions.
PLOTS = (("learning_curve.png", "Learning curve and forecast"), ("confusion_matrix.png", "Confusion matrix"),
         ("reliability.png", "Reliability of the scores"), ("mistakes.png", "Most confident mistakes"),
         ("unusual.png", "Unusual training images"))


def _how_chosen(report: dict) -> str:
    if not report.get("cross_validation"):
        return "the default; cross-validation skipped"
    if report.get("head_asked", "auto") != "auto":
        return f"as asked; scored by {report['validation_scheme']}"
    return f"chosen by cross-validated log loss, {report['validation_scheme']}"


def log_loss_comparison(choice: dict, with_them: str = "with them") -> str:
    """`choice`'s cross-validated log losses with and without what was tried (`log_loss`,
    `log_loss_without`, `gain_se`: the lexical columns' or the unlabeled examples'), as the report says them."""
    return (f"cross-validated log loss {choice['log_loss']:.3f} {with_them}, {choice['log_loss_without']:.3f} "
            f"without (± {choice['gain_se']:.3f})")


def _lexical_line(choice: dict | None) -> str | None:
    """What cross-validation made of a text head's word and n-gram columns (`lexical_choice`)."""
    if not choice:
        return None
    if choice["log_loss"] is None:
        return ("Word and n-gram columns: left out, as there are too few labels to cross-validate them "
                "(--lexical keeps them).")
    losses = log_loss_comparison(choice)
    if choice["used"]:
        return f"Word and n-gram columns: kept: {losses}."
    return (f"Word and n-gram columns: left out: {losses}; they are kept where they lower it by "
            f"{choice['margin']:g} standard errors (--lexical keeps them).")


def _class_weight_hint(cv: dict, probabilities: dict | None) -> str | None:
    """For a head that weighs imbalanced classes equally: what answering by the probabilities (the
    classes as common as in the labels) would score out of fold, when it is more accurate by
    `config.CLASS_WEIGHT_HINT_GAIN` or more; else `None`."""
    if not probabilities or "accuracy" not in probabilities:
        return None
    if probabilities["accuracy"] - cv["accuracy_mean"] < config.CLASS_WEIGHT_HINT_GAIN:
        return None
    return (f"Answering by the probabilities instead (the classes as common as in these labels) would score accuracy "
            f"{probabilities['accuracy']:.3f} out of fold, balanced accuracy {probabilities['balanced_accuracy']:.3f}"
            f" (the head: {cv['accuracy_mean']:.3f}, {cv['metrics']['balanced_accuracy']:.3f}). Where new data is as "
            "imbalanced as these labels and accuracy matters more than finding the rare classes, fit with "
            "--class-weight none.")


def summary_text(report: dict, classes_shown: int | None = None) -> str:
    """A human summary of a fit report.

    Args:
        report: `FittedHead.report`.
        classes_shown: Past this many classes the per-class table keeps those
            with the lowest F1 (a terminal's summary; report.txt and
            report.html list all). Defaults to `None`: every class.
    """
    lexical = report.get("lexical") or {}
    idf = ", weighted by idf" if lexical.get("weights") == "idf" else ""
    pairs = ", with word pairs" if lexical.get("word_bigrams") else ""
    blocks = ", words and n-grams scaled apart" if lexical.get("blocks") == 2 else ""
    lines = [f"Head: {report['head']}{idf}{pairs}{blocks}  ({_how_chosen(report)})"]
    module = report.get("feature_module") or {}
    if "output_dim" in module:  # which features, as the export will compute them
        shape = f"{module['output_dim']}-d {module['kind']} features"
        if module.get("image_size"):
            low, high = module.get("input_range") or (0, 1)
            shape += f" of {module['image_size'][0]}x{module['image_size'][1]} images, pixels in [{low:g}, {high:g}]"
        chained = f", texts made into token ids by {module['preprocessor']}" if module.get("preprocessor") else ""
        lines.append(f"Features: {module['spec']} ({shape}{chained})")
    if report.get("fine_tune_steps"):
        lines.append(f"Fine-tuned: the module and the head trained together for {report['fine_tune_steps']:,} steps "
                     "after cross-validation. The cross-validated figures below are of the head before it; "
                     "--validation DATA (or --validation-split) measures the tuned model.")
    if lexical_line := _lexical_line(report.get("lexical_choice")):
        lines.append(lexical_line)
    data = report.get("data") or {}
    if data.get("columns"):  # found by name, perhaps by a word of it: worth seeing
        lines.append(f"Data: {data.get('examples', data.get('read', 0)):,} examples of {data['source']}, inputs from "
                     f"{data['columns'][0]!r}, labels from {data['columns'][1]!r}")
    for note in data.get("notes", []):
        lines.append(f"Note: {note}")
    if report.get("cross_validation") and report.get("validation_note", "") != report.get("validation_scheme"):
        lines.append(f"Note: {report['validation_note']}")
    unlabeled = report.get("unlabeled")
    if unlabeled:
        lines.append(f"Unlabeled examples: {unlabeled['message']}")
    cv = report.get("cross_validation")
    if cv:
        balanced = (f", balanced accuracy {cv['metrics']['balanced_accuracy']:.3f}"
                    if metrics.is_imbalanced(cv["metrics"]) else "")
        # The interval, as `evaluate` and the serve page give it: how far another sample of as many
        # labels could land. The fold spread (scikit-learn's cross_val_score std) stays beside it.
        interval, labeled = cv.get("accuracy_interval"), sum(report["class_counts"].values())
        within = f", 95% interval {interval[0]:.3f} - {interval[1]:.3f} on {labeled:,} labels" if interval else ""
        lines.append(f"Cross-validated accuracy: {cv['accuracy_mean']:.3f}{within} (± {cv['accuracy_std']:.3f} between"
                     f" folds; macro F1 {cv['metrics']['macro_f1']:.3f}{balanced})")
        if "majority_accuracy" in cv:
            lines.append(metrics.against_majority(cv["metrics"], cv["majority_class"], cv["majority_accuracy"],
                                                  (report.get("head_config") or {}).get("class_weight") == "balanced",
                                                  cv.get("accuracy_interval")))
        if report.get("decision_bias"):
            up = max(report["decision_bias"].items(), key=lambda kv: kv[1])
            lines.append("Answers shifted so that they weigh the classes equally out of fold (a bias per class fitted "
                         f"on the out-of-fold predictions; the largest, {up[1]:+.2f} in the logits, toward {up[0]!r}).")
        lines += _calibration_lines(report, cv)
        lines += ["", metrics.metrics_table(cv["metrics"], classes_shown, "report.html"), "",
                  metrics.confusion_text(cv["metrics"]["confusion_matrix"], report["labels"])]
    else:
        lines.append(report["validation_note"])
    if report.get("validation"):
        lines.append("\n" + _validation_line(report["validation"]))
    if report.get("previous_version"):
        lines.append("\n" + report["previous_version"]["message"])
    if report.get("labels_needed"):
        lines.append("\n" + report["labels_needed"]["message"])
    wrong = report.get("misclassified") or []
    if wrong:
        kind = (report.get("feature_module") or {}).get("kind")
        lines.append(f"\nMisclassified (out-of-fold), {len(wrong)} most confident:")
        for w in wrong:
            lines.append(f"  {w['true']} -> {w['predicted']} ({w['probability']:.2f}): {shown_item(w['item'], kind)}")
    return "\n".join(lines)


def _calibration_lines(report: dict, cv: dict) -> list[str]:
    """The summary's lines on how sure the scores are: calibration, corrected probabilities, abstaining."""
    calibration = report.get("calibration")
    if not calibration:
        return []
    lines = []
    # The temperature minimises the log loss; the binned top-label error can rise by chance.
    chance = calibration.get("ece_chance")
    lines.append(f"Calibration: temperature {calibration['temperature']:.2f}; log loss "
                 f"{calibration['log_loss_before']:.3f} -> {calibration['log_loss_after']:.3f}, expected "
                 f"calibration error {calibration['ece_before']:.3f} -> {calibration['ece_after']:.3f} (out-of-fold"
                 + (f", {calibration['repeats']} cross-validations" if calibration.get("repeats", 1) > 1 else "")
                 + (f"; calibrated scores would show about {chance:.3f} by chance on "
                    f"{calibration['predictions']:,} predictions" if chance is not None else "")
                 + ")")
    corrected = calibration.get("probabilities")
    if corrected:
        lines.append(f"Probabilities (scores corrected for the training labels' class frequencies): "
                     f"temperature {corrected['temperature']:.2f}; expected calibration "
                     f"error {corrected['ece']:.3f} (out-of-fold)")
    balanced_head = (metrics.is_imbalanced(cv["metrics"])
                     and (report.get("head_config") or {}).get("class_weight") == "balanced")
    hint = balanced_head and _class_weight_hint(cv, corrected)
    if hint:
        lines.append(hint)
    high = reliability.scores_run_high(report["labels"], calibration.get("by_class") or [], "out of fold",
                                       balanced_head, corrected["by_class"] if corrected else None)
    if high:
        lines.append(f"Note: {high}")
    abstain = calibration.get("abstain")
    if abstain:
        acc = abstain["accuracy_when_answering"]
        lines.append(
            f"Abstaining below {abstain['threshold']:.2f}: answers {abstain['coverage']:.0%} of examples, "
            + (f"{acc:.1%} of them right" if acc is not None else "none of them")
            + f" (against {abstain['accuracy_overall']:.1%} when answering all; cross-validated)"
        )
    return lines


def _validation_line(v: dict) -> str:
    """The summary's line on held-out validation (`report["validation"]`)."""
    interval = "; 95% interval {:.3f} - {:.3f}".format(*v["accuracy_interval"]) if "accuracy_interval" in v else ""
    if v.get("seen_in_training"):
        interval += f"; {v['seen_in_training']} of them also training examples"
    balanced = (f", balanced accuracy {v['balanced_accuracy']:.3f}"
                if v.get("per_class") and metrics.is_imbalanced(v) else "")
    return f"Held-out validation accuracy: {v['accuracy']:.3f}{balanced} ({v['examples']:,} examples{interval})"


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def report_html(text: str, title: str, plots: list[str]) -> str:
    """One page to open in a browser or pass around: the text report and the plots beside it (`plots`:
    file names in the same folder)."""
    figures = "".join(f'<figure><img src="{name}" alt="{html.escape(caption)}"><figcaption>{html.escape(caption)}'
                      "</figcaption></figure>\n" for name, caption in PLOTS if name in plots)
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>\n'
            "<style>body{font-family:sans-serif;margin:2em;max-width:80em}pre{font-size:13px;white-space:pre-wrap}"
            "img{max-width:100%;border:1px solid #ddd}figure{margin:2em 0}</style></head>\n"
            f"<body><h1>{html.escape(title)}</h1>\n<pre>{html.escape(text)}</pre>\n{figures}</body></html>\n")


def write_report(report: dict, directory: Path) -> None:
    """Write `report.json`, `report.txt`, the PNG plots and `report.html` (all of them on one page)
    into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "report.json").write_text(json.dumps(_jsonable(report), indent=2, ensure_ascii=False),
                                           encoding="utf-8")
    text = summary_text(report)
    (directory / "report.txt").write_text(text + "\n", encoding="utf-8")
    if report.get("learning_curve"):
        plot_learning_curve(report["learning_curve"], report.get("labels_needed") or {},
                            directory / "learning_curve.png")
    cv = report.get("cross_validation")
    if cv:
        metrics.plot_confusion_matrix(cv["metrics"]["confusion_matrix"], report["labels"],
                                      directory / "confusion_matrix.png", "Confusion matrix (cross-validated)")
    calibration = report.get("calibration")
    if calibration:
        reliability.plot_reliability(calibration["bins_before"], calibration["bins_after"],
                                     directory / "reliability.png", "Reliability (cross-validated)")
    if (report.get("feature_module") or {}).get("kind") == "image" and report.get("misclassified"):
        metrics.plot_mistakes(report["misclassified"], directory / "mistakes.png",
                              "Most confident mistakes (cross-validated): label -> answer")
    unusual = (report.get("data") or {}).get("unusual_images")
    if unusual:
        metrics.plot_image_sheet(
            [(u["item"], "{} ({:.2f})".format(*drawable([u["label"]]), u["nearest_similarity"]))
             for u in unusual[:UNUSUAL_SHOWN]],
            directory / "unusual.png", "Training images unlike every other: label (similarity to the nearest)")
    export = Path(report["export"]) if report.get("export") else None
    title = f"{export.parent.name}, version {export.name}: fit report" if export else "Fit report"
    plots = [name for name, _ in PLOTS if (directory / name).is_file()]
    (directory / "report.html").write_text(report_html(text, title, plots), encoding="utf-8")
