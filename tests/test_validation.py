"""Held-out and cross-validated figures: --validation DATA, --validation-split, classes seen once."""

import numpy as np
import pytest

from tests.conftest import labeled_topic_rows
from tfxfer.errors import DataError
from tfxfer.fitting import fit_head
from tfxfer.head.report import summary_text


def test_validation_split_keeps_classes_seen_once_in_training(text_module, labeled_tsv, tmp_path):
    # A random sample of chat posts has classes seen once: no split can test them, but the rest can be.
    labeled = tmp_path / "labeled.tsv"
    labeled.write_text(labeled_tsv.read_text() + "the owl and a cart\tbirds\n")
    fitted = fit_head(text_module, labeled, head="linear", validation_split=0.25)
    validation = fitted.report["validation"]
    assert validation["examples"] == 6 and not validation["per_class"].get("birds", {}).get("support")
    assert "birds" in fitted.report["class_counts"]
    assert ("1 class with one example ('birds') stays in training: the held-out report does not test it."
            in fitted.report["data"]["notes"])
    with pytest.raises(DataError, match=r"Cannot hold out 4% stratified: .*Change --validation-split, or pass "
                                        r"held-out examples with --validation DATA"):
        fit_head(text_module, labeled, head="linear", validation_split=0.04)


def test_validation_data_that_repeats_training_examples_is_said_to(text_module, labeled_tsv, tmp_path):
    rows = labeled_tsv.read_text().splitlines()
    validation = tmp_path / "validation.tsv"
    validation.write_text("\n".join(rows[:4] + ["the sheep and the bus\tanimals"]) + "\n")  # 3 seen, 2 new
    report = fit_head(text_module, labeled_tsv, validation=validation, head="linear").report
    assert report["validation"]["seen_in_training"] == 3
    assert "(4 examples; 95% interval" in summary_text(report) and "3 of them also training examples)" in \
        summary_text(report)
    assert "balanced accuracy" not in summary_text(report).split("Held-out")[1].splitlines()[0]
    # 3 to 1: the mean recall of the classes too, as for cross-validation.
    validation.write_text("text\tlabel\nthe cat\tanimals\nthe dog\tanimals\nthe cow\tanimals\nthe dog\tvehicles\n")
    report = fit_head(text_module, labeled_tsv, validation=validation, head="linear").report
    assert "Held-out validation accuracy: 0.750, balanced accuracy 0.500 (4 examples;" in summary_text(report)


def test_a_class_with_a_single_example_does_not_stop_validation(text_module, tmp_path):
    # A random sample of imbalanced data often holds a class seen once; the rest still gets a report.
    path = tmp_path / "train.tsv"
    rows = labeled_topic_rows() + [("the cow and the bus", "mixed")]
    path.write_text("text\tlabel\n" + "".join(f"{t}\t{l}\n" for t, l in rows))
    report = fit_head(text_module, path).report
    assert report["validation_scheme"] == "stratified 5-fold" and report["cross_validation"]["accuracy_mean"] > 0.9
    assert "Class 'mixed' has a single example" in summary_text(report)
    needed = report["labels_needed"]
    assert needed["current_per_class"] == 12 and needed["labels_now"] == 25 and not needed["balanced"]
    # 12, 12 and 1: imbalanced under a head that weighs classes equally, so the curve and its forecast
    # are in balanced accuracy, where the class seen once counts as much as the others.
    assert needed["metric"] == "balanced_accuracy"
    assert "Cross-validated balanced accuracy 67% with 25 labels." in needed["message"]
    assert np.isclose(report["learning_curve"][-1]["accuracy"], report["cross_validation"]["metrics"]["balanced_accuracy"])
