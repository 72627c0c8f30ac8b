"""The fit report's text and the metrics it is made of: figures against the simplest answers,
confusion matrices and per-class tables that fit a terminal, scores that run high."""

import numpy as np
import pytest

from tests.conftest import blobs
from tfxfer.head.report import summary_text
from tfxfer.head.search import train_head
from tfxfer.metrics import class_metrics, confusion_text, metrics_table, plot_confusion_matrix
from tfxfer.reliability import (
    calibration_bins,
    expected_calibration_error,
    mix_weights,
    scores_by_class,
    scores_run_high,
)


def test_report_compares_with_always_answering_the_commonest_label():
    x, _ = blobs(n_per_class=30, dim=8, seed=4)
    y = np.where(np.random.default_rng(1).random(len(x)) < 0.7, "common", "rare")  # unrelated to x
    _, report, _ = train_head(x, y, with_learning_curve=False, seed=0)
    cv = report["cross_validation"]
    assert cv["majority_class"] == "common" and cv["majority_accuracy"] == np.mean(y == "common")
    assert cv["accuracy_mean"] <= cv["majority_accuracy"]
    assert "Always answering 'common'" in summary_text(report) and "The head does no better" in summary_text(report)
    x, y = blobs(n_per_class=30, dim=8, seed=4)  # learnable: no warning
    _, report, _ = train_head(x, y, with_learning_curve=False, seed=0)
    assert report["cross_validation"]["majority_class"] is None
    assert "Guessing would score 0.333" in summary_text(report) and "no better" not in summary_text(report)
    assert "run high" not in summary_text(report)
    # 19 to 1: the head finds the rare class, so it is less accurate than always answering the common one,
    # and better; the report compares in balanced accuracy and says why.
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (190, 4)), rng.normal(0, 1, (10, 4)) + [1.5, 0, 0, 0]]).astype("float32")
    y = np.array(["common"] * 190 + ["rare"] * 10)
    _, report, _ = train_head(x, y, with_learning_curve=False, seed=0)
    cv, text = report["cross_validation"], summary_text(report)
    recalls = [m["recall"] for m in cv["metrics"]["per_class"].values()]
    assert cv["metrics"]["balanced_accuracy"] == pytest.approx(np.mean(recalls)) and np.mean(recalls) > 0.6
    assert cv["accuracy_mean"] < cv["majority_accuracy"] == 0.95
    assert f"balanced accuracy {np.mean(recalls):.3f})" in text
    assert ("Always answering 'common' would score 0.950 but find no 'rare': balanced accuracy (the mean recall "
            f"of the classes) 0.500, against {np.mean(recalls):.3f} here. The head weighs the classes equally") in text
    assert "no better" not in text
    # The rare class's answers score far above the share of them that are right: said, with why.
    rare = report["calibration"]["by_class"][report["labels"].index("rare")]
    assert rare["mean_score"] > rare["precision"] + 0.15 and rare["answers"] >= 10
    assert (f"Note: Scores for 'rare' run high out of fold: the {rare['answers']} examples called 'rare' "
            f"score {rare['mean_score']:.2f} for it on average, and {rare['precision']:.0%} of them are 'rare'. "
            "Weighing the classes equally") in text


def test_report_says_when_the_labels_are_too_few_to_tell_the_head_from_guessing():
    # Labels unrelated to the features: on 12 examples the report may not blame the feature module, as
    # accuracies from about 0.2 to 0.8 are all 12 labels can tell; on 300 it can.
    def fit(n_per_class, seed):
        x, _ = blobs(n_per_class=n_per_class, dim=8, seed=seed)
        y = np.random.default_rng(seed).permutation(np.repeat(["a", "b", "c"], n_per_class))
        _, report, _ = train_head(x, y, with_learning_curve=False, seed=0)
        return report["cross_validation"], summary_text(report)

    cv, text = fit(4, seed=5)
    low, high = cv["accuracy_interval"]
    assert cv["accuracy_mean"] <= 1 / 3 < high and low < cv["accuracy_mean"]
    assert (f"The head does no better on these 12 labels, but they are too few to tell (the cross-validated "
            f"accuracy's 95% interval is {low:.3f} - {high:.3f}): label more examples") in text
    # The accuracy line gives the same interval, as evaluate and the serve page do, the fold spread beside it.
    assert (f"Cross-validated accuracy: {cv['accuracy_mean']:.3f}, 95% interval {low:.3f} - {high:.3f} on 12 labels "
            f"(± {cv['accuracy_std']:.3f} between folds; macro F1") in text
    cv, text = fit(100, seed=5)
    assert cv["accuracy_mean"] <= 1 / 3 and cv["accuracy_interval"][1] < 0.4
    assert "The head does no better: these labels or this feature module do not separate" in text
    # A real but faint signal on 12 labels: better than guessing, and said to be unsure.
    x, y = blobs(n_per_class=4, dim=8, seed=1, spread=3.0)
    _, report, _ = train_head(x, y, with_learning_curve=False, seed=0)
    cv = report["cross_validation"]
    assert cv["accuracy_mean"] > 1 / 3 >= cv["accuracy_interval"][0]
    assert "The head does better, but 12 labels are too few to be sure" in summary_text(report)


def test_report_text_shows_texts_on_one_line_and_aligns_the_confusion_matrix():
    long_text = "first line of a document\n" + "word " * 100
    path = "/photos/a folder with spaces/" + "x" * 120 + ".jpg"
    wrong = [{"item": long_text, "true": "news", "predicted": "religion", "probability": 0.9}]
    base = {"head": "linear", "validation_note": "", "misclassified": wrong}
    shown = summary_text({**base, "feature_module": {"kind": "text"}}).splitlines()[-1]
    assert shown.startswith("  news -> religion (0.90): first line of a document word word")
    assert shown.endswith("…") and len(shown) < 140  # report.json keeps the whole text
    image = summary_text({**base, "feature_module": {"kind": "image"}, "misclassified": [{**wrong[0], "item": path}]})
    assert image.endswith(path)  # paths are never cut
    table = confusion_text([[26, 0], [1, 20]], ["hobbies", "news"]).splitlines()
    ends = {line.index(word) + len(word) for line, word in zip(table, ("news", "0", "20"))}
    assert len(ends) == 1, table  # the last column lines up under its header


def test_a_confusion_matrix_too_wide_for_a_terminal_numbers_its_columns():
    classes = ["adventure", "belles_lettres", "editorial", "fiction", "government", "hobbies", "humor", "learned",
               "lore", "mystery", "news", "religion", "reviews", "romance", "science_fiction"]  # brown's genres
    matrix = np.eye(15, dtype=int) * 7
    matrix[14, 0] = 123
    text = confusion_text(matrix, classes).splitlines()
    assert max(map(len, text)) <= 120, text  # with the names as headers: 256 characters
    assert text[0].split()[-2:] == ["14", "15"]
    assert text[15].split() == ["15", "science_fiction", "123"] + ["0"] * 13 + ["7"]
    assert {len(line) for line in text} == {len(text[0])}  # the columns line up


def test_many_classes_get_their_most_confused_pairs_and_a_bounded_plot(tmp_path):
    from PIL import Image

    classes = [f"intent_{i:03d}" for i in range(100)]
    matrix = np.eye(100, dtype=int) * 5
    matrix[3, 7], matrix[50, 2] = 4, 2
    text = confusion_text(matrix, classes).splitlines()
    assert text[1:] == ["  intent_003 -> intent_007: 4", "  intent_050 -> intent_002: 2"]
    assert "100 classes" in text[0]
    plot_confusion_matrix(matrix, classes, tmp_path / "cm.png")
    assert max(Image.open(tmp_path / "cm.png").size) <= 16 * 120  # was 7,440 pixels square, 13 s and 2 GB


def test_a_terminal_gets_the_classes_with_the_lowest_f1_and_the_report_all_of_them():
    # 150 intents printed 150 rows before the confusion pairs; the files keep every class.
    from tfxfer.metrics import metrics_table

    classes = [f"intent_{i:03d}" for i in range(150)]
    truth = [c for c in classes for _ in range(4)]
    predicted = [c if k or i >= 25 else classes[-1] for i, c in enumerate(classes) for k in range(4)]
    metrics = class_metrics(truth, predicted, classes)
    short = metrics_table(metrics, 20, "report.html").splitlines()
    assert short[0] == "The 20 of 150 classes with the lowest F1 (report.html lists all):"
    assert [line.split()[0] for line in short[2:]] == [classes[-1]] + classes[:19]  # F1 0.24, then 0.86
    assert len(metrics_table(metrics).splitlines()) == 151 == len(metrics_table(metrics, 150).splitlines())
    hopeless = class_metrics(truth, [classes[0]] * len(truth), classes)
    assert metrics_table(hopeless, 20, "report.html").splitlines()[0].endswith("lists all; 149 score 0):")
    rng = np.random.default_rng(0)
    y = np.repeat([f"c{i:02d}" for i in range(25)], 3)
    _, report, _ = train_head(rng.normal(size=(75, 8)).astype("float32"), y, with_learning_curve=False)
    assert "The 20 of 25 classes with the lowest F1" in summary_text(report, classes_shown=20)
    assert all(f"\nc{i:02d} " in summary_text(report) for i in range(25))  # report.txt and report.html


def test_metrics_use_scikit_learn_tables():
    m = class_metrics(["a", "a", "b", "b"], ["a", "b", "b", "b"], ["a", "b"])
    assert m["accuracy"] == 0.75 and m["confusion_matrix"] == [[1, 1], [0, 2]]
    assert m["per_class"]["a"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)
    assert m["balanced_accuracy"] == pytest.approx((0.5 + 1.0) / 2)
    # Evaluated on data without one of the model's classes, never answered: no F1 to average, a
    # dash in the table; answered without being in the data, its precision is 0.
    m = class_metrics(["a", "a", "b"], ["a", "a", "b"], ["a", "b", "wasps"])
    assert m["macro_f1"] == 1.0 and metrics_table(m).splitlines()[-1].split() == ["wasps", "-", "-", "-", "0"]
    m = class_metrics(["a", "a", "b"], ["a", "wasps", "b"], ["a", "b", "wasps"])
    assert m["macro_f1"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert metrics_table(m).splitlines()[-1].split()[1] == "0.000"


def test_calibration_error_can_weigh_a_held_out_set_to_the_labeled_mix():
    # A head that learned nothing from balanced labels answers "a" at 0.5 everywhere; the held-out
    # part is 63% "a". Scored as it comes the scores look 0.13 off; weighted to the labeled mix
    # (equal classes) they are right: the gap is the population's prior, not the head's.
    truth = np.array(["a"] * 63 + ["b"] * 37)
    p = np.full((100, 2), 0.5)
    correct = truth == "a"
    assert expected_calibration_error(p, correct) == pytest.approx(0.13)
    weight = np.where(truth == "a", 0.5 / 0.63, 0.5 / 0.37)
    assert expected_calibration_error(p, correct, sample_weight=weight) == pytest.approx(0.0, abs=1e-12)
    (only,) = calibration_bins(p, correct, sample_weight=weight)
    assert only["count"] == 100 and only["weight"] == pytest.approx(100) and only["accuracy"] == pytest.approx(0.5)
    assert "weight" not in calibration_bins(p, correct)[0]
    assert np.allclose(mix_weights(truth, {"a": 0.5, "b": 0.5}), weight)
    # Shares of classes absent from the data are left out; a class the mix lacks weighs nothing.
    w = mix_weights(["a", "a", "a", "c"], {"a": 0.25, "b": 0.75})
    assert w.tolist() == [4 / 3, 4 / 3, 4 / 3, 0.0]


def test_scores_of_a_class_that_run_high_are_named_on_any_data():
    # 12 examples called "b" score 0.8 for it, 3 of them are "b"; "a"'s answers are honest.
    scores = np.array([[0.2, 0.8]] * 12 + [[0.9, 0.1]] * 20)
    truth = np.array([1] * 3 + [0] * 9 + [0] * 18 + [-1] * 2)  # -1: a label the model does not know
    by_class = scores_by_class(scores, truth)
    assert by_class[1] == {"answers": 12, "mean_score": pytest.approx(0.8), "precision": 0.25}
    assert by_class[0] == {"answers": 20, "mean_score": pytest.approx(0.9), "precision": 0.9}
    assert scores_run_high(["a", "b"], by_class, "on this data") == (
        "Scores for 'b' run high on this data: the 12 examples called 'b' score 0.80 for it on average, "
        "and 25% of them are 'b'.")
    assert scores_run_high(["a", "b"], by_class[:1] + [{**by_class[1], "answers": 9}], "on this data") is None
    # With an export's probabilities over the same answers, the note gives theirs.
    corrected = scores_by_class(np.array([[0.7, 0.3]] * 12 + [[0.9, 0.1]] * 20), truth, scores.argmax(1))
    assert corrected[1] == {"answers": 12, "mean_score": pytest.approx(0.3), "precision": 0.25}
    assert scores_run_high(["a", "b"], by_class, "on this data", probabilities=corrected).endswith(
        "and 25% of them are 'b'. The `probabilities` output, corrected for how common each class was in "
        "training, gives them 0.30.")
