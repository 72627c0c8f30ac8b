import dataclasses

import numpy as np
import pytest
import scipy.sparse
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict

from tests.conftest import blobs
from tfxfer import config
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
def test_head_passes_scikit_learns_estimator_checks(cfg, monkeypatch):
    from sklearn.utils.estimator_checks import check_estimator

    # The checks are of the estimator's interface, on easy data: a hidden layer's early-stopped training,
    # up to 1,000 steps a fit, made them the suite's slowest test (48 s in a slow hour).
    monkeypatch.setattr(config, "HIDDEN_MAX_STEPS", 150)

    # Weights equal repeated rows up to the solver's tolerance in float32, not to the check's 1e-7
    # (test_sample_weights_count_as_repeated_rows).
    check_estimator(HeadClassifier.from_config(cfg), expected_failed_checks={
        check: "equal up to the solver's tolerance in float32" for check in
        ("check_sample_weight_equivalence_on_dense_data", "check_sample_weight_equivalence_on_sparse_data")})


@pytest.mark.parametrize("class_weight", ["balanced", None, {"a": 3.0}])
def test_sample_weights_count_as_repeated_rows(class_weight):
    # As in scikit-learn, a weight of 2 is the row twice: "balanced" counts each class by its
    # rows' weights (it counted rows, and weighed the classes of repeated rows differently).
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 5)).astype("float32")
    y = np.where(x[:, 0] + 0.5 * rng.normal(size=60) > 0.6, "a", "b")
    weight = rng.integers(0, 4, size=60)
    weighted = HeadClassifier(class_weight=class_weight).fit(x, y, sample_weight=weight)
    repeated = HeadClassifier(class_weight=class_weight).fit(np.repeat(x, weight, 0), np.repeat(y, weight))
    np.testing.assert_allclose(weighted.predict_proba(x), repeated.predict_proba(x), atol=2e-4)
    np.testing.assert_allclose(weighted.log_prior_, repeated.log_prior_, atol=1e-6)


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
