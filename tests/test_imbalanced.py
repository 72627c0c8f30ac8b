"""Heads on imbalanced classes: equal class weights, the answers' shift, `probabilities`, `class_weight=None`."""

import numpy as np
import pytest

from tests.conftest import blobs
from tfxfer.head.classifier import HeadClassifier
from tfxfer.head.report import summary_text
from tfxfer.head.search import train_head


def test_probabilities_correct_a_balanced_heads_scores_for_how_rare_a_class_is():
    # 19 to 1, and held-out data as imbalanced: the head (classes weighed equally) finds the rare class,
    # and its scores for it run high; its probabilities say how often those answers are right.
    rng = np.random.default_rng(0)

    def draw(common, rare):
        x = np.concatenate([rng.normal(0, 1, (common, 4)), rng.normal(0, 1, (rare, 4)) + [1.5, 0, 0, 0]])
        return x.astype("float32"), np.array(["common"] * common + ["rare"] * rare)

    (x, y), (xt, yt) = draw(380, 20), draw(19_000, 1_000)
    clf, report, _ = train_head(x, y, with_learning_curve=False, seed=0)
    assert clf.class_bias is not None
    answers, truth = clf.predict(xt), yt == "rare"
    called = answers == "rare"
    scores, probabilities = clf.predict_proba(xt)[:, 1], clf.probabilities(xt)[:, 1]
    assert called.sum() > 500 and 0.1 < truth[called].mean() < 0.4  # many answers, few of them right
    assert scores[called].mean() > truth[called].mean() + 0.2
    assert abs(probabilities[called].mean() - truth[called].mean()) < 0.07
    assert abs(probabilities.mean() - truth.mean()) < 0.02  # and overall they hold the class's share

    def log_loss(p):
        return -np.mean(np.log(np.where(truth, p, 1 - p)))

    assert log_loss(probabilities) < log_loss(scores) - 0.05
    # Decisions stay the balanced head's; the report says what the probabilities do out of fold.
    assert clf.spec()["class_bias"].shape == (2,) and list(clf.predict(x[:5])) == list(clf.classes_[clf.logits(x[:5]).argmax(1)])
    rare = report["calibration"]["probabilities"]["by_class"][1]
    assert rare["answers"] == report["calibration"]["by_class"][1]["answers"]
    assert abs(rare["mean_score"] - rare["precision"]) < 0.1
    assert f"the `probabilities` output corrects for how common each class was in training and gives them " \
           f"{rare['mean_score']:.2f}." in summary_text(report)
    cal = report["calibration"]
    assert (f"Calibration: temperature {cal['temperature']:.2f}; log loss {cal['log_loss_before']:.3f} -> "
            f"{cal['log_loss_after']:.3f}, expected calibration error {cal['ece_before']:.3f}") in summary_text(report)
    assert (f"Probabilities (scores corrected for the training labels' class frequencies): temperature "
            f"{cal['probabilities']['temperature']:.2f}; expected calibration error") in summary_text(report)
    # Abstaining goes by the answer's probability: the rare answers, mostly wrong, are held back.
    _, report, _ = train_head(x, y, abstain_below=0.5, with_learning_curve=False, seed=0)
    abstain = report["calibration"]["abstain"]
    assert abstain["coverage"] < 1 - 0.5 * rare["answers"] / len(y)
    assert abstain["accuracy_when_answering"] > abstain["accuracy_overall"] + 0.05
    # Classes of one size, or a head that weighs examples as they come: probabilities are the scores.
    xb, yb = blobs(n_per_class=20, dim=4, seed=1)
    for data, weight in (((xb, yb), "balanced"), ((x, y), None)):
        head, report, _ = train_head(*data, head="linear", with_learning_curve=False, seed=0) if weight else (
            HeadClassifier(class_weight=None, temperature=1.3).fit(*data), {"calibration": {}}, None)
        np.testing.assert_array_equal(head.probabilities(data[0]), head.predict_proba(data[0]))
        assert head.spec()["prior_temperature"] == head.spec()["temperature"] and "probabilities" not in report["calibration"]


def imbalanced_sample(rng, n_common, n_rare):
    """Two overlapping classes, "common" and "rare", in 4 columns."""
    y = np.array(["common"] * n_common + ["rare"] * n_rare)
    x = rng.normal(size=(len(y), 4))
    x[:, 0] += 1.5 * (y == "rare")
    return x, y


def test_class_weight_none_trades_the_rare_class_for_accuracy_on_imbalanced_data():
    from sklearn.metrics import balanced_accuracy_score

    rng = np.random.default_rng(1)
    x, y = imbalanced_sample(rng, 400, 40)
    test_x, test_y = imbalanced_sample(rng, 4000, 400)  # new data as imbalanced as the labels
    balanced, report_b, _ = train_head(x, y, with_learning_curve=False)
    plain, report_p, _ = train_head(x, y, class_weight=None, with_learning_curve=False)
    assert report_p["head_config"]["class_weight"] is None and "decision_bias" not in report_p
    assert report_b["head_config"]["class_weight"] == "balanced"
    accuracy = [np.mean(h.predict(test_x) == test_y) for h in (balanced, plain)]
    recall = [balanced_accuracy_score(test_y, h.predict(test_x)) for h in (balanced, plain)]
    assert accuracy[1] > accuracy[0] + 0.05 and recall[0] > recall[1] + 0.05, (accuracy, recall)
    assert report_p["cross_validation"]["accuracy_mean"] > report_b["cross_validation"]["accuracy_mean"]
    # Answering by the balanced head's probabilities, out of fold, foretells the unweighted head's
    # accuracy, and the report offers the choice with it.
    by_probabilities = report_b["calibration"]["probabilities"]
    assert abs(by_probabilities["accuracy"] - report_p["cross_validation"]["accuracy_mean"]) < 0.03
    text = summary_text(report_b)
    assert f"would score accuracy {by_probabilities['accuracy']:.3f} out of fold" in text
    assert text.count("fit with --class-weight none") == 1 and "--class-weight" not in summary_text(report_p)


def test_imbalanced_answers_are_shifted_until_they_weigh_classes_equally():
    from sklearn.metrics import balanced_accuracy_score

    rng = np.random.default_rng(0)
    # A column of its own per training example, as a rare word or name is to a lexical head: the
    # class-weighted head fits the 20 rare examples by them, and held-out rare ones go to "common".
    x, y = imbalanced_sample(rng, 400, 20)
    x = np.concatenate([x, np.eye(len(y))], axis=1)
    test_x, test_y = imbalanced_sample(rng, 2000, 2000)
    test_x = np.concatenate([test_x, np.zeros((len(test_x), len(y)))], axis=1)
    clf, report, cv = train_head(x, y, lexical=len(y))
    assert clf.decision_bias["rare"] > 1.0 and clf.decision_bias["common"] == -clf.decision_bias["rare"]
    assert report["decision_bias"] == clf.decision_bias
    assert f"{clf.decision_bias['rare']:+.2f} in the logits, toward 'rare'" in summary_text(report)
    unshifted = HeadClassifier.from_config(cv.best).fit(x, y)
    before = balanced_accuracy_score(test_y, unshifted.predict(test_x))
    after = balanced_accuracy_score(test_y, clf.predict(test_x))
    assert before < 0.65 and after > before + 0.1, (before, after)
    np.testing.assert_allclose(clf.logits(test_x[:5]), unshifted.logits(test_x[:5]) + np.array([-1.0, 1.0]) * clf.decision_bias["rare"],
                               atol=1e-4)  # in the logits (the exported layer's bias), not only in predict
    # The report's cross-validated figures and its learning curve are those of the shifted answers:
    # the curve's last point (every fold's whole training part) is the cross-validated figure.
    assert report["cross_validation"]["metrics"]["balanced_accuracy"] > 0.65
    assert report["learning_curve"][-1]["accuracy"] == pytest.approx(
        report["cross_validation"]["metrics"]["balanced_accuracy"], abs=0.01)
    # Balanced labels are left alone.
    balanced, _, _ = train_head(*imbalanced_sample(rng, 40, 40), with_learning_curve=False)
    assert balanced.decision_bias is None


def test_no_shift_is_reported_where_none_moves_an_answer():
    # 6 + 6 photos far apart and a third class of one: out-of-fold logits hundreds apart, which no
    # bias within bounds moves. The report had said "Answers shifted ... the largest, +0.00".
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(2, 64)) * 3
    x = np.concatenate([centres[0] + rng.normal(size=(6, 64)) * 0.3, centres[1] + rng.normal(size=(7, 64)) * 0.3])
    clf, report, _ = train_head(x, np.array(["ants"] * 6 + ["bees"] * 6 + ["wasps"]), with_learning_curve=False,
                                seed=0)
    assert clf.decision_bias is None and "decision_bias" not in report
    assert "Answers shifted" not in summary_text(report) and "Cross-validated accuracy" in summary_text(report)
