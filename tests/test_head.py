import numpy as np
import pytest

from tests.conftest import needs_shared_data
from tfxfer import config
from tfxfer.data.labeled import load_labeled_text, read_table
from tfxfer.errors import DataError
from tfxfer.head.classifier import HeadClassifier, NotFittedError
from tfxfer.head.report import labels_needed
from tfxfer.head.selection import cross_validate, make_splits


def blobs(n_per_class=20, dim=5, seed=0):
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(0, 1, (n_per_class, dim)) + 3 * np.eye(dim)[c] for c in range(3)])
    y = [c for c in "abc" for _ in range(n_per_class)]
    return x.astype("float32"), y


@pytest.mark.parametrize("cfg", [config.HEAD, config.HEAD_CANDIDATES[-1]])
def test_head_learns_separable_classes(cfg):
    x, y = blobs()
    clf = HeadClassifier(cfg).fit(x, y)
    assert clf.classes_ == ["a", "b", "c"]
    xt, yt = blobs(seed=1)
    assert clf.score(xt, yt) >= 0.95
    proba = clf.predict_proba(xt)
    np.testing.assert_allclose(proba.sum(1), 1, atol=1e-5)
    # The Keras model carries the trained weights: it predicts what the trainer learned.
    np.testing.assert_allclose(np.asarray(clf.model_(xt)), proba, atol=1e-6)


def test_head_errors_name_the_fix():
    with pytest.raises(NotFittedError, match="Call `fit"):
        HeadClassifier().predict(np.zeros((1, 3)))
    with pytest.raises(DataError, match="single class"):
        HeadClassifier().fit(np.zeros((3, 2)), ["a", "a", "a"])


def test_splits_adapt_to_the_data():
    assert make_splits(["a"] * 8 + ["b"] * 8, 0)[1] == "leave-one-out"
    splits, scheme, note = make_splits(["a"] * 30 + ["b"] * 3, 0)
    assert scheme == "stratified 3-fold" and "class 'b' has 3 examples" in note and len(splits) == 3
    assert make_splits(["a"] * 30 + ["b"] * 40, 0)[1] == "stratified 5-fold"
    splits, scheme, note = make_splits(["a"] * 30 + ["b"], 0)
    assert (splits, scheme) == ([], "none") and "single example" in note


def test_cross_validation_scores_every_candidate_and_keeps_the_best():
    x, y = blobs(n_per_class=10, dim=8)
    cv = cross_validate(x, y, seed=0)
    assert cv.scheme == "stratified 5-fold" and len(cv.fold_scores) == 5
    losses = [ll for *_, ll in cv.candidates]
    assert len(losses) == len(config.HEAD_CANDIDATES)
    best = losses.index(min(losses))
    assert HeadClassifier(cv.best).describe() == cv.candidates[best][0]
    assert np.mean(cv.fold_scores) == cv.candidates[best][1] >= 0.9
    # Well separated blobs: the least regularised linear head is the most confident.
    assert losses[config.HEAD_CANDIDATES.index(config.HeadConfig(l2=1e-3))] < losses[0]
    assert np.mean(np.array(cv.oof_predictions) == np.array(y)) == pytest.approx(np.mean(cv.fold_scores), abs=0.05)


def test_labels_needed_extrapolates_a_rising_curve():
    curve = [{"per_class": m, "accuracy": 0.95 - 0.5 * m ** -0.5} for m in (1, 2, 4, 8, 16)]
    estimate = labels_needed(curve)
    # acc(m) = 0.95 - 0.5 m^-0.5 reaches acc(16) + 0.03 = 0.855 at m = (0.5 / 0.095)^2 = 27.7
    assert estimate["per_class_needed"] == 28
    assert "12 more labels per class" in estimate["message"]
    flat = [{"per_class": m, "accuracy": 0.8} for m in (1, 2, 4, 8)]
    assert labels_needed(flat)["per_class_needed"] is None


def test_labeled_text_formats(tmp_path):
    (tmp_path / "a.csv").write_text('label,text\npos,"great, really"\nneg,bad\n')
    assert read_table(tmp_path / "a.csv") == (["great, really", "bad"], ["pos", "neg"])
    (tmp_path / "b.tsv").write_text("good film\tpos\nawful\tneg\nfine\tpos\n")
    assert read_table(tmp_path / "b.tsv") == (["good film", "awful", "fine"], ["pos", "neg", "pos"])
    (tmp_path / "c.txt").write_text("__label__pos loved it\n__label__neg hated it\n")
    assert load_labeled_text(tmp_path / "c.txt") == (["loved it", "hated it"], ["pos", "neg"])
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "spam.txt").write_text("buy now\nfree money\n")
    (tmp_path / "d" / "ham.txt").write_text("see you at lunch\n")
    assert load_labeled_text(tmp_path / "d") == (["see you at lunch", "buy now", "free money"], ["ham", "spam", "spam"])
    with pytest.raises(DataError, match="not found"):
        load_labeled_text(tmp_path / "missing.csv")


@needs_shared_data
def test_nltk_categorized_corpus():
    texts, labels = load_labeled_text("nltk:sentence_polarity")
    assert len(texts) == 10662 and sorted(set(labels)) == ["neg", "pos"]
