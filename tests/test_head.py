import dataclasses

import numpy as np
import pytest
import scipy.sparse
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict

from tests.conftest import blobs, needs_shared_data
from tfxfer import config
from tfxfer.data.labeled import load_labeled_text
from tfxfer.data.table import read_table
from tfxfer.errors import ConfigError, DataError
from tfxfer.head.calibration import fit_temperature, log_loss
from tfxfer.head.classifier import HeadClassifier
from tfxfer.head.report import summary_text
from tfxfer.head.search import train_head
from tfxfer.head.selection import cross_validate, make_splits
from tfxfer.head.train import l2_normalize, stratified_sample
from tfxfer.reliability import chance_calibration_error, expected_calibration_error


@pytest.mark.parametrize("cfg", [config.HEAD, config.HIDDEN_HEAD,
                                 config.HeadConfig(normalization="l2+standardize", C=3.0)])
def test_head_learns_separable_classes(cfg):
    x, y = blobs(n_per_class=40)
    clf = HeadClassifier.from_config(cfg).fit(x, y)
    assert clf.classes_.tolist() == ["a", "b", "c"]
    xt, yt = blobs(n_per_class=100, seed=1)
    assert clf.score(xt, yt) >= 0.95
    np.testing.assert_allclose(clf.predict_proba(xt).sum(1), 1, atol=1e-5)


def test_head_is_a_scikit_learn_estimator():
    x, y = blobs(n_per_class=10)
    clf = HeadClassifier(C=3.0, normalization="standardize")
    assert clone(clf).get_params() == clf.get_params() and clone(clf).get_params()["C"] == 3.0
    with pytest.raises(NotFittedError, match="not fitted yet"):
        clf.predict(x)
    predicted = cross_val_predict(clf, x, y, cv=5)
    assert np.mean(predicted == y) >= 0.9
    proba = cross_val_predict(clf, x, y, cv=5, method="predict_proba")
    assert proba.shape == (30, 3)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")  # the array API checks need SCIPY_ARRAY_API
@pytest.mark.parametrize("cfg", [config.HEAD, config.HIDDEN_HEAD])
def test_head_passes_scikit_learns_estimator_checks(cfg):
    from sklearn.utils.estimator_checks import check_estimator

    # Weights equal repeated rows only up to the solver's tolerance, and under "balanced" class
    # weights not at all: repeating rows changes the class counts those weights come from.
    check_estimator(HeadClassifier.from_config(cfg), expected_failed_checks={
        check: "class weights from the counts; equal up to the solver's tolerance" for check in
        ("check_sample_weight_equivalence_on_dense_data", "check_sample_weight_equivalence_on_sparse_data")})


def test_class_weight_may_be_a_dict_of_labels():
    x, y = blobs(n_per_class=20)
    # Tipping the middle class's weight up wins it the rows near its borders.
    even = HeadClassifier(class_weight=None, C=0.1).fit(x, y)
    tipped = HeadClassifier(class_weight={"b": 20.0}, C=0.1).fit(x, y)
    assert np.mean(tipped.predict(x) == "b") > np.mean(even.predict(x) == "b")
    assert not tipped.log_prior_.any()
    with pytest.raises(ConfigError, match=r"`class_weight` must be 'balanced', None or a dict"):
        HeadClassifier(class_weight="equal").fit(x, y)


def test_linear_head_is_trained_to_the_optimum():
    # 64 examples, weak regularisation: a fixed budget of gradient steps stops
    # short here; the head must reach scikit-learn's solution of the same objective.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 20)).astype("float32")
    y = np.where(x[:, :3].sum(1) + 0.5 * rng.normal(size=64) > 0, "pos", "neg")
    clf = HeadClassifier(C=1000.0, class_weight=None).fit(x, y)
    reference = LogisticRegression(C=1000.0, tol=1e-10, max_iter=100000).fit(l2_normalize(x), y)
    np.testing.assert_allclose(clf.predict_proba(x)[:, 1], reference.predict_proba(l2_normalize(x))[:, 1], atol=1e-3)


def test_head_errors_name_the_parameter_and_the_fix():
    with pytest.raises(DataError, match=r"has one class \(a\); a classifier needs at least two"):
        HeadClassifier().fit(np.ones((3, 2)), ["a", "a", "a"])
    # Measurements, not classes: scikit-learn's own error, which names them.
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        HeadClassifier().fit(np.eye(3), [0.5, 1.5, 2.25])
    clf = HeadClassifier().fit(*blobs())
    with pytest.raises(ValueError, match="X has 3 features, but HeadClassifier is expecting 5 features"):
        clf.predict(np.ones((2, 3)))
    with pytest.raises(ConfigError, match=r"`normalization` must be one of .* Received: normalization='max'"):
        HeadClassifier(normalization="max").fit(*blobs())
    with pytest.raises(ConfigError, match="`C` must be positive"):
        HeadClassifier(C=0).fit(*blobs())


def test_normalisations_put_rows_on_one_scale():
    x, _ = blobs(dim=8)
    x = x * np.linspace(1, 50, len(x))[:, None]  # row lengths vary 50x
    for kind in config.NORMALIZATIONS:
        spec = HeadClassifier(normalization=kind).fit(x, ["a"] * 30 + ["b"] * 30).spec()
        z = ((l2_normalize(x) if spec["l2"] else x) - spec["mean"]) / spec["scale"]
        assert np.mean((z**2).sum(1)) == pytest.approx(1.0, rel=0.05), kind


def test_splits_adapt_to_the_data():
    # Tiny sets too: every fold holds out as many examples of each class (leave-one-out
    # would hold out one, leaving the fold short of that class).
    labels = np.array(["a"] * 4 + ["b"] * 4)
    splits, scheme, _ = make_splits(labels.tolist(), 0)
    assert scheme == "stratified 4-fold" and all(sorted(labels[test]) == ["a", "b"] for _, test in splits)
    splits, scheme, note = make_splits(["a"] * 3 + ["b"] * 3, 0)
    assert scheme == "stratified 3-fold" and "no class has more than 3 examples" in note and len(splits) == 3
    assert make_splits(["a"] * 30 + ["b"] * 40, 0)[1] == "stratified 5-fold"
    # A rare class does not cut the folds to its size; a single example is validated as best it can be.
    labels = ["a"] * 30 + ["b"] * 2 + ["c"]
    splits, scheme, note = make_splits(labels, 0)
    assert scheme == "stratified 5-fold" and note.startswith("Class 'c' has a single example: the model of its fold")
    assert sum("c" in {labels[i] for i in train} for train, _ in splits) == 4
    splits, scheme, note = make_splits(["a", "b", "c"], 0)
    assert (splits, scheme) == ([], "none") and "every class has a single example" in note
    splits, scheme, note = make_splits(["a", "a", "b"], 0)  # a fold would train on 'a' alone
    assert (splits, scheme) == ([], "none") and "too few examples (3)" in note


def test_cross_validation_scores_every_candidate_and_keeps_the_best():
    x, y = blobs(n_per_class=10, dim=8)
    cv = cross_validate(x, y, seed=0)
    assert cv.scheme == "stratified 5-fold" and len(cv.fold_scores) == 5
    stages = [c["stage"] for c in cv.candidates]
    assert stages.count("regularisation") == len(config.C_GRID)
    assert stages.count("normalisation") == 2 * len(config.C_GRID)  # more than 20 examples
    first = [c for c in cv.candidates if c["stage"] == "regularisation"]
    best = min(first, key=lambda c: c["log_loss"])
    chosen = HeadClassifier.from_config(cv.best).describe()
    # Another normalisation replaces the best plain head only when it is clearly better.
    assert chosen == best["head"] or next(c for c in cv.candidates if c["head"] == chosen)["log_loss"] < best["log_loss"]
    assert best["accuracy"] >= 0.9 and cv.oof_logits.shape == (30, 3)
    few = cross_validate(x[::2], y[::2], seed=0)  # 15 examples: a small set, no standardisation tried
    assert few.scheme == "stratified 5-fold" and {c["stage"] for c in few.candidates} == {"regularisation"}


def test_many_examples_compare_candidates_on_a_sample_and_the_choice_on_all(monkeypatch):
    monkeypatch.setattr(config, "SEARCH_SAMPLE", 60)
    x, y = blobs(n_per_class=60, dim=8, spread=1.5)
    cv = cross_validate(x, y, seed=0)
    stages = [c["stage"] for c in cv.candidates]
    assert stages.count("regularisation, on the sample") == len(config.C_GRID)
    assert stages.count("normalisation, on the sample") == 2 * len(config.C_GRID)
    final = [c for c in cv.candidates if c["stage"] == "all examples"]
    sampled = min((c for c in cv.candidates if c["stage"].endswith("on the sample")), key=lambda c: c["log_loss"])
    # The sample's choice, and the same head at the next larger C, each on all 180 examples.
    assert final[0]["head"] == sampled["head"] and len(final) == 2 and "C=" in final[1]["head"]
    assert HeadClassifier.from_config(cv.best).describe() in {c["head"] for c in final}
    assert cv.oof_logits.shape == (180, 3) and sorted(np.concatenate([t for _, t in cv.splits])) == list(range(180))
    assert log_loss(cv.oof_logits, np.searchsorted(["a", "b", "c"], y)) == min(c["log_loss"] for c in final)
    assert "sample of 60 of the 180 examples" in cv.note and np.mean(cv.fold_scores) > 0.8
    # Just past the sample's size, the whole search costs less than the sample's and two more fits.
    monkeypatch.setattr(config, "SEARCH_SAMPLE", 90)
    assert "sample" not in cross_validate(x, y, seed=0).note
    monkeypatch.setattr(config, "SEARCH_SAMPLE", 60)
    # One head asked for, nothing to choose: cross-validated on all the examples alone.
    asked = cross_validate(x, y, (config.HEAD,), seed=0)
    assert [c["stage"] for c in asked.candidates] == ["asked"] and "sample" not in asked.note


def test_a_sample_keeps_every_class_in_its_share_and_its_folds():
    index = np.repeat([0, 1, 2], [900, 97, 3])
    rows = stratified_sample(index, 100, seed=0, least=5)
    assert np.bincount(index[rows]).tolist() == [90, 10, 3] and len(set(rows.tolist())) == len(rows)


def test_plain_logistic_regression_is_always_a_candidate():
    x, y = blobs(n_per_class=10, dim=8)
    names = [c["head"] for c in cross_validate(x, y, seed=0).candidates]
    assert "linear, unit-length rows, C=1" in names


def test_shuffled_labels_score_at_chance():
    # Negative control: with labels unrelated to the features, nothing is learned.
    x, y = blobs(n_per_class=40, dim=8, seed=2)
    y = np.random.default_rng(0).permutation(y)
    clf, report, _ = train_head(x, y, with_learning_curve=False, seed=0)
    assert abs(report["cross_validation"]["accuracy_mean"] - 1 / 3) < 0.12
    xt, yt = blobs(n_per_class=200, dim=8, seed=3)
    assert abs(clf.score(xt, yt) - 1 / 3) < 0.12


def test_temperature_calibrates_overconfident_scores():
    rng = np.random.default_rng(0)
    index = rng.integers(0, 2, 2000)
    margin = np.where(index == 1, 1.0, -1.0) + rng.normal(0, 1.5, 2000)  # right ~75% of the time
    # The true log-odds are 2 * margin / 1.5**2; these logits are 4x too sure.
    logits = np.stack([-margin, margin], 1) * (1 / 1.5**2) * 4
    t = fit_temperature(logits, index)
    assert 3 < t < 5.5
    assert log_loss(logits / t, index) < log_loss(logits, index)
    proba = lambda z: np.exp(z) / np.exp(z).sum(1, keepdims=True)  # noqa: E731
    correct = logits.argmax(1) == index
    assert expected_calibration_error(proba(logits / t), correct) < 0.03 < expected_calibration_error(proba(logits), correct)


def test_chance_calibration_error_is_what_calibrated_scores_show():
    # Outcomes drawn from the scores themselves: calibrated by construction, yet their binned
    # error is not 0, and it shrinks as the examples grow (about 1 / sqrt(n)).
    rng = np.random.default_rng(0)
    figures = {}
    for n in (100, 2500):
        top = rng.uniform(0.5, 1.0, n)
        scores = np.stack([top, 1 - top], 1)
        measured = np.mean([expected_calibration_error(scores, rng.random(n) < top) for _ in range(100)])
        figures[n] = chance_calibration_error(scores)
        assert figures[n] == pytest.approx(measured, rel=0.1)
        assert figures[n] == chance_calibration_error(scores)  # seeded
    assert figures[2500] < figures[100] / 3
    assert chance_calibration_error(np.zeros((0, 2))) == 0.0


def test_search_reports_calibration_and_abstention():
    x, y = blobs(n_per_class=60, dim=6, seed=4, spread=2.0)
    clf, report, _ = train_head(x, y, abstain_below=0.9, seed=0, with_learning_curve=False)
    cal = report["calibration"]
    assert cal["temperature"] == pytest.approx(clf.temperature, rel=1e-3)
    assert cal["log_loss_after"] <= cal["log_loss_before"] + 0.005 and cal["ece_after"] < 0.1
    assert cal["predictions"] == len(y) and 0 < cal["ece_chance"] < 0.1
    assert (f"calibrated scores would show about {cal['ece_chance']:.3f} by chance on {len(y)} predictions)"
            in summary_text(report))
    abstain = cal["abstain"]
    assert 0 < abstain["coverage"] < 1 and abstain["accuracy_when_answering"] >= abstain["accuracy_overall"]


def test_small_sets_calibrate_on_repeated_cross_validation():
    # A few dozen out-of-fold predictions from one split are too few to fit a
    # temperature on: small sets stack those of config.CALIBRATION_REPEATS splits.
    x, y = blobs(n_per_class=6, dim=6, seed=5, spread=2.0)
    clf, report, cv = train_head(x, y, seed=0, with_learning_curve=False)
    cal = report["calibration"]
    assert cal["repeats"] == config.CALIBRATION_REPEATS == 3
    assert sum(b["count"] for b in cal["bins_after"]) == 3 * len(y)
    assert sum(c["answers"] for c in cal["by_class"]) == len(y)  # per class: the one cross-validation reported
    index = np.searchsorted(clf.classes_, y)
    assert clf.temperature != pytest.approx(fit_temperature(cv.oof_logits, index), rel=1e-3)
    assert "(out-of-fold, 3 cross-validations; calibrated scores would show about" in summary_text(report)
    assert cal["predictions"] == 3 * len(y)
    x, y = blobs(n_per_class=40, dim=6, seed=5, spread=2.0)  # 120 examples: one is enough
    _, report, cv = train_head(x, y, seed=0, with_learning_curve=False)
    assert report["calibration"]["repeats"] == 1 and sum(b["count"] for b in report["calibration"]["bins_after"]) == 120


def test_unlabeled_examples_help_where_labels_are_few():
    # The class signal is one direction of 50; 10 labels each overfit the noise,
    # while 1,500 unlabeled rows show the two clusters to label spreading.
    rng = np.random.default_rng(0)

    def sample(n):
        c = rng.integers(0, 2, n)
        x = rng.normal(0, 1, (n, 50))
        x[:, 0] += np.where(c, 2.0, -2.0)
        return x.astype("float32"), np.where(c, "up", "down")

    x, y = sample(1500)
    xt, yt = sample(2000)
    labeled = np.concatenate([np.flatnonzero(y == c)[:10] for c in ("up", "down")])
    plain, _, _ = train_head(x[labeled], y[labeled], with_learning_curve=False, seed=0)
    semi, report, _ = train_head(x[labeled], y[labeled], unlabeled=x, with_learning_curve=False, seed=0)
    assert report["unlabeled_cv"]["used"] and semi.pseudo_labeled_ > 0
    gain, se = report["unlabeled_cv"]["accuracy_gain"], report["unlabeled_cv"]["accuracy_gain_se"]
    assert 0 < se < 0.2 and gain > 0  # 20 paired out-of-fold answers
    choice = report["unlabeled_cv"]["log_loss_choice"]  # what decided, for the report's message
    assert choice["log_loss_without"] - choice["log_loss"] > choice["margin"] * choice["gain_se"] > 0
    assert semi.score(xt, yt) > plain.score(xt, yt) + 0.01


@pytest.mark.parametrize("standard_errors, used", [(0.7, False), (1.3, True)])
def test_pseudo_labels_need_a_gain_of_one_standard_error(monkeypatch, standard_errors, used):
    # Stop 46: on a draw of 8 labeled names per class, pseudo-labels that cut the out-of-fold
    # log loss by 0.55 standard errors cost 22 points held out. Each candidate's per-example
    # losses are set here, so the rule alone decides.
    x, y = blobs(n_per_class=8, dim=4, seed=0)
    n, classes = len(y), len(set(y.tolist()))
    rng = np.random.default_rng(0)
    plain = rng.uniform(0.3, 1.0, n)
    noise = rng.normal(0, 1, n)
    cut = 0.08 * (noise - noise.mean()) / noise.std(ddof=1) + standard_errors * 0.08 / np.sqrt(n)

    def trial(self, cfg, use_unlabeled, stage):
        losses = plain - cut if use_unlabeled and cfg.pseudo_labels else plain
        result = {"head": stage, "stage": stage, "unlabeled": use_unlabeled, "accuracy": 0.5,
                  "log_loss": float(losses.mean()), "config": self.own(cfg), "logits": np.zeros((n, classes)),
                  "losses": losses, "fold_accuracy": []}
        self.results.append(result)
        return result

    monkeypatch.setattr("tfxfer.head.selection._Search.trial", trial)
    cv = cross_validate(x, y, unlabeled=x)
    assert cv.use_unlabeled is used and (cv.best.pseudo_labels > 0) is used
    choice = cv.unlabeled_log_loss  # the figures the report gives for the decision
    assert choice["log_loss_without"] - choice["log_loss"] == pytest.approx(cut.mean())
    assert (choice["log_loss_without"] - choice["log_loss"] > choice["gain_se"]) is used


def _two_clusters(pool, labeled):
    """`(head, labeled rows, their class indices, pool rows, the pool's classes)`: rows of 4 features
    in one tight cluster per class, `pool` and `labeled` of each, for a head with pseudo-labels."""
    rng = np.random.default_rng(0)

    def rows(classes):
        return (rng.normal(0, 0.3, (len(classes), 4)) + 3 * np.eye(4)[classes]).astype(np.float32)

    truth = np.repeat([0, 1], pool)
    zu = rows(truth)
    index = np.repeat([0, 1], labeled)
    clf = HeadClassifier(pseudo_labels=1.0)
    clf.classes_ = np.array(["a", "b"])
    return clf, rows(index), index, zu, truth


def test_pseudo_labels_only_where_the_head_on_the_labels_agrees():
    # Two clean clusters: label spreading gets every pool row right, so the
    # rows left out are exactly those whose head guess says otherwise.
    clf, z, index, zu, truth = _two_clusters(100, 5)
    rows, labels, weights = clf._pseudo_labels(z, index, zu, truth)
    assert len(rows) == 200 and np.array_equal(np.sort(labels), truth)
    guess = truth.copy()
    guess[:30] = 1  # the head disagrees on 30 rows of class 0
    rows, labels, weights = clf._pseudo_labels(z, index, zu, guess)
    assert len(rows) == 170 and not np.isin(zu[:30, 0], rows[:, 0]).any()
    assert np.isclose(weights[labels == 0].sum(), weights[labels == 1].sum())  # classes weigh equally


def test_a_few_pseudo_labels_never_weigh_more_than_labels():
    # Stop 46, names at 8 per class: of 5,000 names 26 got a pseudo-label, 3 of one class, and
    # weighing as much as the 16 labels they tipped the head (0.663 -> 0.448 held out).
    clf, z, index, zu, truth = _two_clusters([200, 3], 8)  # the pool holds 3 rows of class 1
    rows, labels, weights = clf._pseudo_labels(z, index, zu, truth)
    assert np.bincount(labels).tolist() == [200, 3]
    assert weights.max() == pytest.approx(1.0)  # each of the 3 as much as a label, no more
    assert weights[labels == 0].sum() == pytest.approx(weights[labels == 1].sum()) == pytest.approx(3.0)
    rows, labels, weights = clf._pseudo_labels(z, index, zu[:100], truth[:100])  # one class: up to the labels' weight
    assert len(rows) == 100 and weights.sum() == pytest.approx(16.0)


def test_label_spreading_is_fitted_once_for_the_same_rows_and_labels(monkeypatch):
    # The search tries each share of pseudo-labels on each fold: one spreading serves them all.
    from tfxfer.head import spreading

    fits = []
    monkeypatch.setattr(spreading, "_memory", type(spreading._memory)())  # nothing from other tests
    monkeypatch.setattr(spreading.LabelSpreading, "fit", lambda self, x, y, fit=spreading.LabelSpreading.fit:
                        fits.append(len(y)) or fit(self, x, y))
    _, z, index, zu, truth = _two_clusters(100, 5)
    shares = []
    for share in (0.3, 1.0):
        clf = HeadClassifier(pseudo_labels=share, seed=7).fit(z, np.array(["a", "b"])[index], unlabeled=zu)
        shares.append(clf.pseudo_labeled_)
    assert fits == [210] and shares == [60, 200]
    z, zu = l2_normalize(z), l2_normalize(zu)  # as the head normalised them: the spreading it fitted
    classes, distributions = spreading.spread(z, index, zu)
    assert not distributions.flags.writeable and np.array_equal(classes[distributions.argmax(1)], truth)
    assert fits == [210]
    spreading.spread(z, 1 - index, zu)  # other labels: spread again
    spreading.spread(scipy.sparse.csr_matrix(z), index, scipy.sparse.csr_matrix(zu))  # a text head's sparse rows
    assert fits == [210, 210, 210]


def test_many_labels_seed_the_spreading_with_a_stratified_sample(monkeypatch):
    # The graph grows with the square of its rows: 20,867 labels beside 5,000 unlabeled texts kept
    # fit-head in it for minutes. A sample of the labels spreads as well.
    from tfxfer.head import spreading

    fits = []
    monkeypatch.setattr(spreading, "_memory", type(spreading._memory)())
    monkeypatch.setattr(config, "SPREADING_MAX_LABELED", 40)
    monkeypatch.setattr(spreading.LabelSpreading, "fit", lambda self, x, y, fit=spreading.LabelSpreading.fit:
                        fits.append((x.shape[0], int((y == 0).sum()), int((y == 1).sum()))) or fit(self, x, y))
    _, z, index, zu, truth = _two_clusters(100, 50)  # 100 labeled rows, 200 unlabeled
    classes, distributions = spreading.spread(l2_normalize(z), index, l2_normalize(zu))
    assert fits == [(240, 20, 20)] and distributions.shape == (200, 2)
    assert np.array_equal(classes[distributions.argmax(1)], truth)
    spreading.spread(l2_normalize(z), index, l2_normalize(zu))  # remembered, sampled or not
    assert len(fits) == 1


def test_labeled_text_formats(tmp_path):
    (tmp_path / "a.csv").write_text('label,text\npos,"great, really"\nneg,bad\n')
    assert tuple(read_table(tmp_path / "a.csv")) == (["great, really", "bad"], ["pos", "neg"])
    (tmp_path / "c.txt").write_text("__label__pos loved it\n__label__neg hated it\n")
    assert tuple(load_labeled_text(tmp_path / "c.txt")) == (["loved it", "hated it"], ["pos", "neg"])
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "spam.txt").write_text("buy now\nfree money\n")
    (tmp_path / "d" / "ham.txt").write_text("see you at lunch\n")
    assert tuple(load_labeled_text(tmp_path / "d")) == (["see you at lunch", "buy now", "free money"],
                                                        ["ham", "spam", "spam"])
    with pytest.raises(DataError, match="not found"):
        load_labeled_text(tmp_path / "missing.csv")


@needs_shared_data
def test_nltk_corpora_with_labels():
    texts, labels = load_labeled_text("nltk:sentence_polarity")  # categorized
    assert len(texts) == 10662 and sorted(set(labels)) == ["neg", "pos"]
    texts, labels = load_labeled_text("nltk:nps_chat")  # posts by dialogue act
    assert len(texts) == 10567 and len(set(labels)) == 15 and labels.count("Statement") == 3185
    assert (texts[1], labels[1]) == (":P", "Emotion")
    # pros_cons's 8 empty sentences are no examples: left out, and said so.
    data = load_labeled_text("nltk:pros_cons")
    assert (data.rows, len(data.items)) == (45875, 45867) and all(t.strip() for t in data.items)
    assert data.notes == ["8 empty texts of the corpus left out."] and data.labels.count("Pros") == 22936
    texts, labels = load_labeled_text("nltk:names")  # a word list in two files
    assert (len(texts), labels.count("female"), labels.count("male")) == (7944, 5001, 2943)
    assert (texts[0], labels[0]) == ("Abagael", "female")
    # Aspect-scored review sentences, by the sign of their scores ("picture[+2]"); it read as unlabeled.
    texts, labels = load_labeled_text("nltk:product_reviews_1")
    assert (len(texts), labels.count("pos"), labels.count("neg")) == (1719, 1081, 638)  # one empty left out
    with pytest.raises(DataError, match="no labels tfxfer can read.*CSV with text and label columns"):
        load_labeled_text("nltk:webtext")  # plain text by source: a label the user should choose


def test_head_config_defaults_are_the_classifiers():  # one source of defaults
    assert HeadClassifier().get_params() == {**dataclasses.asdict(config.HEAD), "temperature": 1.0,
                                          "prior_temperature": None, "class_bias": None, "decision_bias": None,
                                          "warm_start": False}


@pytest.mark.parametrize("lexical", [0, 30], ids=["dense", "lexical"])
def test_warm_starts_along_c_reach_the_same_heads_in_fewer_steps(lexical):
    from tfxfer.head.selection import make_splits, out_of_fold_logits

    rng = np.random.default_rng(0)
    y = np.repeat(["a", "b", "c"], 40)
    x = rng.normal(size=(120, 8)) + np.eye(8)[np.searchsorted(["a", "b", "c"], y)]
    if lexical:  # sparse made-up n-gram counts, unit rows: the Newton-CG path
        counts = rng.poisson(0.2, size=(120, lexical)) * (1 + np.eye(lexical)[np.searchsorted(["a", "b", "c"], y)])
        x = np.concatenate([x, counts / np.maximum(np.linalg.norm(counts, axis=1, keepdims=True), 1)], axis=1)
    splits, _, _ = make_splits(y.tolist(), 0)
    warm, warm_steps, cold_steps = [], 0, 0
    for c in config.C_GRID[2:]:
        clf = HeadClassifier(C=c, lexical_columns=lexical)
        cold = out_of_fold_logits(clf, x, y, splits)
        np.testing.assert_allclose(out_of_fold_logits(clf, x, y, splits, warm=warm), cold, atol=0.05)
        assert all(f.C == c and f.warm_start for f in warm)
        warm_steps += sum(f.n_iter_ for f in warm)
        cold_steps += sum(clone(clf).fit(x[train], y[train]).n_iter_ for train, _ in splits)
    assert warm_steps < 0.9 * cold_steps, (warm_steps, cold_steps)


def test_lexical_columns_no_training_row_uses_get_zero_weights_and_the_same_head():
    # n-grams chosen from all texts are absent from a fold or a small subsample: left out of the
    # solver, the head is the one over every column, and a warm start on more rows (more columns) works.
    rng = np.random.default_rng(0)
    y = np.tile(["a", "b", "c"], 20)
    x = rng.normal(size=(60, 5)) + np.eye(5)[np.searchsorted(["a", "b", "c"], y)]
    counts = rng.poisson(0.4, size=(60, 30)) * (1 + np.eye(30)[np.arange(60) % 3])
    counts[:30, 20:] = 0  # the first half of the rows never use the last 10 columns
    lexical = counts / np.maximum(np.linalg.norm(counts, axis=1, keepdims=True), 1)
    features = scipy.sparse.csr_matrix(np.concatenate([x / np.linalg.norm(x, axis=1, keepdims=True), lexical], 1))
    first = np.arange(30)
    head = HeadClassifier(C=10.0, lexical_columns=30, warm_start=True).fit(features[first], y[first])
    kernel = head.spec_["layers"][0][0]
    assert kernel.shape == (35, 3) and not kernel[25:].any() and kernel[:25].any()
    plain = LogisticRegression(C=10.0, tol=1e-8, max_iter=1000).fit(features[first], y[first])
    np.testing.assert_allclose(head.logits(features) - head.logits(features).mean(1, keepdims=True),
                               plain.decision_function(features), atol=2e-3)
    head.fit(features, y)  # warm, from the solution over 25 columns, on rows that use all 35
    cold = HeadClassifier(C=10.0, lexical_columns=30).fit(features, y)
    assert head.spec_["layers"][0][0][25:].any()
    np.testing.assert_allclose(head.logits(features), cold.logits(features), atol=0.02)


@pytest.mark.parametrize("cfg", [config.HeadConfig(C=3.0), config.HeadConfig(normalization="standardize"),
                                 config.HeadConfig(normalization="l2+standardize", pseudo_labels=0.5)],
                         ids=["l2", "standardize", "pseudo-labels"])
def test_lexical_columns_as_sparse_rows_give_the_head_of_dense_ones(cfg):
    # Many labeled texts keep every n-gram column only as sparse rows (README: "Many labels").
    rng = np.random.default_rng(0)
    y = np.repeat(["a", "b"], 30)
    x = rng.normal(size=(60, 6)) + np.eye(6)[np.searchsorted(["a", "b"], y)]
    counts = rng.poisson(0.3, size=(90, 40)) * (1 + np.eye(40)[np.arange(90) % 2])
    lexical = counts / np.maximum(np.linalg.norm(counts, axis=1, keepdims=True), 1)
    dense = np.concatenate([x, lexical[:60]], axis=1).astype(np.float32)
    unlabeled = np.concatenate([rng.normal(size=(30, 6)), lexical[60:]], axis=1).astype(np.float32)
    heads = [HeadClassifier.from_config(cfg, lexical_columns=40).fit(f(dense), y, unlabeled=f(unlabeled))
             for f in (np.asarray, scipy.sparse.csr_matrix)]
    assert heads[0].pseudo_labeled_ == heads[1].pseudo_labeled_
    assert (0 < heads[0].pseudo_labeled_ <= 15) if cfg.pseudo_labels else heads[0].pseudo_labeled_ == 0
    np.testing.assert_allclose(heads[1].logits(scipy.sparse.csr_matrix(dense)), heads[0].logits(dense), atol=1e-4)
    np.testing.assert_allclose(heads[1].logits(dense), heads[0].logits(dense), atol=1e-4)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_large_folds_are_fitted_on_all_cores_with_the_results_of_one(monkeypatch, sparse):
    import threading

    from tfxfer.head import classifier
    from tfxfer.head.selection import make_splits, out_of_fold_logits

    rng = np.random.default_rng(0)
    y = np.repeat(["a", "b", "c"], 40)
    x = rng.normal(size=(120, 8)) + np.eye(8)[np.searchsorted(["a", "b", "c"], y)]
    if sparse:  # lexical columns: counted in nonzeros (config.PARALLEL_FOLDS_MIN_NONZEROS)
        x = scipy.sparse.hstack([x, scipy.sparse.random(120, 30, density=0.1, random_state=0)], format="csr")
    splits, _, _ = make_splits(y.tolist(), 0)
    clf = HeadClassifier(C=1.0, lexical_columns=30 if sparse else 0)
    serial = out_of_fold_logits(clf, x, y, splits)
    threads = set()
    fit = HeadClassifier.fit
    monkeypatch.setattr(HeadClassifier, "fit", lambda self, *a, **k: threads.add(threading.get_ident()) or fit(self, *a, **k))
    monkeypatch.setattr(config, "PARALLEL_FOLDS_MIN_NONZEROS" if sparse else "PARALLEL_FOLDS_MIN_EXAMPLES", 10)
    monkeypatch.setattr(classifier.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    np.testing.assert_array_equal(out_of_fold_logits(clf, x, y, splits), serial)
    assert len(threads) == 2 and threading.get_ident() not in threads


def test_sparse_folds_go_on_all_cores_by_their_nonzeros_not_their_rows(monkeypatch):
    # 500 long documents (5,000 nonzeros a row) ran on one core, as 500 short sentences (200) must.
    import threading

    from tfxfer.head import classifier

    monkeypatch.setattr(classifier.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    here = threading.get_ident()

    def threads(features):
        return set(classifier.map_folds(lambda i: threading.get_ident(), [(0,), (1,)], 400, features))

    def rows(per_row):
        return scipy.sparse.random(500, 20_000, density=per_row / 20_000, format="csr", random_state=0)

    assert threads(rows(200)) == {here}
    assert here not in threads(rows(5_000))
    assert threads(np.zeros((500, 20_000), np.float32)) == {here}  # dense: by rows (10,000)
