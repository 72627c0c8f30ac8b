import numpy as np

from tfxfer import config
from tfxfer.head.classifier import HeadClassifier
from tfxfer.head.learning_curve import _message, curve_points, example_weights, forecast, learning_curve
from tfxfer.head.selection import make_splits, out_of_fold_logits


def simulated_curve(accuracy, sizes, n, repeats=5, seed=0):
    """A learning curve whose examples are right with probability accuracy(m)."""
    rng = np.random.default_rng(seed)
    correct = np.stack([rng.random((repeats, n)) < accuracy(m) for m in sizes])
    return {"sizes": list(sizes), "correct": correct}


def test_forecast_follows_a_rising_curve_with_a_range_that_holds_the_truth():
    accuracy = lambda m: 0.9 - 0.4 * m**-0.5  # noqa: E731
    index = np.repeat([0, 1], 300)
    curve = simulated_curve(accuracy, [1, 2, 4, 8, 16, 32, 64, 128, 240], len(index))
    estimate = forecast(curve, index, per_class_now=300, current_accuracy=accuracy(300), seed=0)
    assert not estimate["too_wide"]
    by_size = {f["per_class"]: f for f in estimate["forecast"]}
    assert set(by_size) == {600, 1200}
    f4 = by_size[1200]
    assert f4["low"] <= accuracy(1200) <= f4["high"]
    assert abs(f4["median"] - accuracy(1200)) < 0.02
    assert f4["high"] - f4["low"] < 0.15
    assert "Expected accuracy (80% range)" in estimate["message"]
    assert "with 300 labels per class." in estimate["message"]


def test_unequal_classes_are_forecast_in_their_mix():
    index = np.repeat([0, 1], [15, 25])
    curve = simulated_curve(lambda m: 0.9 - 0.4 * m**-0.5, [1, 2, 4, 8, 16], len(index))
    estimate = forecast(curve, index, per_class_now=20, current_accuracy=0.8, seed=0)
    assert "with 40 labels." in estimate["message"] and "median" not in estimate["message"]
    assert [f["per_class"] for f in estimate["forecast"]] == [40, 80] and not estimate["balanced"]
    assert "with 160 labels in the same class mix accuracy could be" in estimate["message"]  # 4x, too wide here
    assert "Label about 40 more in the same mix" in estimate["message"]


def test_imbalanced_classes_can_be_forecast_in_balanced_accuracy():
    # 90 common examples always right, 10 rare ones right from 8 labels on: accuracy hardly moves,
    # balanced accuracy (each class weighing the same) shows the rare class being learned.
    index = np.repeat([0, 1], [90, 10])
    sizes = [1, 2, 4, 8, 16]
    correct = np.stack([np.tile(np.r_[np.ones(90, bool), np.full(10, m >= 8)], (3, 1)) for m in sizes])
    curve = {"sizes": sizes, "correct": correct}
    weights = example_weights(index, "balanced_accuracy")
    assert np.isclose(weights.sum(), 1) and np.isclose(weights[index == 1].sum(), 0.5)
    assert [p["accuracy"] for p in curve_points(curve)] == [0.9, 0.9, 0.9, 1.0, 1.0]
    np.testing.assert_allclose([p["accuracy"] for p in curve_points(curve, weights)], [0.5, 0.5, 0.5, 1.0, 1.0])
    estimate = forecast(curve, index, per_class_now=50, current_accuracy=1.0, seed=0, metric="balanced_accuracy")
    assert estimate["metric"] == "balanced_accuracy"
    assert estimate["message"].startswith("Cross-validated balanced accuracy 100% with 100 labels")
    assert "Balanced accuracy is near the top" in estimate["message"]


def test_labels_needed_is_quoted_only_when_the_range_is_narrow():
    accuracy = lambda m: 0.95 - 0.5 * m**-0.5  # noqa: E731  (+3 points at about 67 per class)
    sizes = [1, 2, 4, 8, 16, 30]
    many = np.repeat([0, 1], 3000)
    estimate = forecast(simulated_curve(accuracy, sizes, len(many)), many, per_class_now=30,
                        current_accuracy=accuracy(30), seed=0)
    need = estimate["per_class_needed"]
    assert need["low"] <= 67 <= need["high"] <= 4 * need["low"]
    assert f"takes about {need['median']} labels per class (80% range {need['low']} to" in estimate["message"]
    few = np.repeat([0, 1], 30)
    estimate = forecast(simulated_curve(accuracy, sizes, len(few)), few, per_class_now=30,
                        current_accuracy=accuracy(30), seed=0)
    assert "could take anywhere from" in estimate["message"] and "takes about" not in estimate["message"]
    # A range that starts at the labels there are (the quickstart's "from 40" with 40 per class) says so.
    clipped = {**estimate, "per_class_needed": {"low": 30, "median": 119, "high": None}}
    assert "anywhere from a few more to more than 3,000 labels per class." in _message(clipped, balanced=True)


def test_a_flattened_curve_is_extended_from_its_end_not_its_start():
    # Steep at first, then flat: one power law through all of it overshoots the plateau.
    accuracy = lambda m: 0.6 + 0.29 * (1 - np.exp(-m / 64))  # noqa: E731
    index = np.repeat([0, 1], 5000)
    sizes = [2**i for i in range(13)]
    curve = simulated_curve(accuracy, sizes, len(index), repeats=2)
    estimate = forecast(curve, index, per_class_now=5000, current_accuracy=accuracy(5000), seed=0)
    f4 = estimate["forecast"][-1]
    assert abs(f4["median"] - 0.89) < 0.005 and "out of reach" in estimate["message"]
    # A range within one whole percent is given in tenths: 45,875 pros_cons labels read "95%-95%".
    narrow = {**estimate, "forecast": [{"per_class": 10000, "low": 0.9512, "median": 0.9531, "high": 0.9548},
                                       {"per_class": 20000, "low": 0.9521, "median": 0.9556, "high": 0.9604}]}
    assert "10,000 per class: 95.1%-95.5% (median 95.3%); 20,000 per class: 95%-96% (median 96%)." in \
        _message(narrow, balanced=True)


def test_a_perfect_score_on_few_examples_is_not_read_as_certainty():
    # 8 of 8 right at every size: the bootstrap alone has no spread at all,
    # yet a model right 80% of the time scores 8 of 8 one time in six.
    index = np.repeat([0, 1], 4)
    curve = simulated_curve(lambda m: 1.0, [1, 2, 3], len(index))
    estimate = forecast(curve, index, per_class_now=4, current_accuracy=1.0, seed=0)
    f4 = estimate["forecast"][-1]
    assert f4["per_class"] == 16 and f4["high"] == 1.0
    assert f4["low"] < 0.88
    # The range is clipped at 100%, and would read as narrow (86% - 100%): judged unclipped, it is not.
    assert estimate["too_wide"] and "Too few labels to extrapolate: with 16 per class accuracy could be " \
        f"anywhere from {100 * f4['low']:.0f}% to 100%. Label 4 more per class" in estimate["message"]


def test_a_curve_below_chance_is_not_extrapolated_below_it():
    # 12 labels of two classes, cross-validated at 33%: noise on features that carry nothing.
    # More labels bring such a head to chance, not under it.
    index = np.repeat([0, 1], 6)
    curve = simulated_curve(lambda m: 0.45 - 0.1 * np.log2(m), [1, 2, 4], len(index))
    estimate = forecast(curve, index, per_class_now=6, current_accuracy=0.33, seed=0)
    for f in estimate["forecast"]:
        assert 0.5 == f["low"] <= f["median"] and f["high"] > 0.5
    assert "could be anywhere from 50% to" in estimate["message"]
    # With enough labels to quote the range, "+3 points" counts from chance too, so the message
    # does not call out of reach what its own forecast passes.
    many = np.repeat([0, 1], 300)
    flat = simulated_curve(lambda m: 0.40, [1, 2, 4, 8, 16, 32, 64, 128, 240], len(many))
    estimate = forecast(flat, many, per_class_now=300, current_accuracy=0.40, seed=0)
    assert np.isclose(estimate["target_accuracy"], 0.53) and "out of reach" in estimate["message"]
    assert all(f["median"] < estimate["target_accuracy"] for f in estimate["forecast"])


def test_one_size_is_too_few_to_extrapolate():
    index = np.repeat([0, 1], 2)
    curve = simulated_curve(lambda m: 0.7, [1], len(index))
    estimate = forecast(curve, index, per_class_now=2, current_accuracy=0.75, seed=0)
    assert estimate["too_wide"] and estimate["forecast"] == []
    assert estimate["current_accuracy"] == 0.75 and "label 2 more per class" in estimate["message"]


def test_an_imbalanced_curve_keeps_the_mix_and_ends_at_the_whole_training_part():
    rng = np.random.default_rng(0)
    index = np.repeat([0, 1, 2], [40, 20, 3])
    x = rng.normal(size=(63, 4)) + 2 * np.eye(4)[index]
    splits, _, _ = make_splits(index.tolist(), 0)
    clf = HeadClassifier(C=1.0, normalization="l2")
    calls = []
    curve = learning_curve(x, index, splits, clf, seed=0, repeats=2, progress=lambda *a: calls.append(a))
    assert calls == [(done, 10) for done in range(1, 11)]  # 5 sizes, 2 subsamples of each
    # The rare class caps proportional subsamples at 13 (2 of its 3 in a fold); the whole
    # training part sits where its median class is, 16 of 20.
    assert curve["sizes"] == [1, 2, 4, 8, 16]
    out_of_fold = out_of_fold_logits(clf, x, index, splits).argmax(1) == index
    assert np.array_equal(curve["correct"][-1, 0], out_of_fold)
    assert curve["correct"][0].mean() < curve["correct"][-1].mean()


def test_the_whole_training_part_is_fitted_once_per_fold_not_per_repeat(monkeypatch):
    # With 183,000 labels the last size is every fold's whole training part: its repeats were 4 identical
    # refits of 146,000 examples per fold, 24 s of fit-head's 178.
    rng = np.random.default_rng(0)
    index = np.repeat([0, 1], 20)
    x = rng.normal(size=(40, 4)) + 2 * np.eye(4)[index]
    splits, _, _ = make_splits(index.tolist(), 0)
    sizes_fitted = []
    fit = HeadClassifier.fit
    monkeypatch.setattr(HeadClassifier, "fit", lambda self, x, y, **kw: sizes_fitted.append(len(y)) or fit(self, x, y, **kw))
    curve = learning_curve(x, index, splits, HeadClassifier(C=1.0, normalization="l2"), seed=0, repeats=3)
    assert curve["sizes"][-1] == 16 and sizes_fitted.count(32) == len(splits)  # 16 per class: each fold's 32
    assert len(sizes_fitted) == (len(curve["sizes"]) - 1) * 3 * len(splits) + len(splits)
    assert (curve["correct"][-1] == curve["correct"][-1, 0]).all()


def test_the_whole_training_part_is_read_from_the_search_not_fitted_again(monkeypatch):
    rng = np.random.default_rng(0)
    index = np.repeat([0, 1], 20)
    x = rng.normal(size=(40, 4)) + 2 * np.eye(4)[index]
    splits, _, _ = make_splits(index.tolist(), 0)
    clf = HeadClassifier(C=1.0, normalization="l2")
    searched = out_of_fold_logits(clf, x, index, splits)
    plain = learning_curve(x, index, splits, clf, seed=0, repeats=2)
    sizes_fitted = []
    fit = HeadClassifier.fit
    monkeypatch.setattr(HeadClassifier, "fit", lambda self, x, y, **kw: sizes_fitted.append(len(y)) or fit(self, x, y, **kw))
    curve = learning_curve(x, index, splits, clf, seed=0, repeats=2, whole=searched)
    assert 32 not in sizes_fitted and len(sizes_fitted) == (len(curve["sizes"]) - 1) * 2 * len(splits)
    assert np.array_equal(curve["correct"], plain["correct"])
    # What it reads is the search's answers: turned around there (two classes), they are here.
    flipped = learning_curve(x, index, splits, clf, seed=0, repeats=2, whole=-searched)
    assert np.array_equal(flipped["correct"][-1], ~plain["correct"][-1])
    assert np.array_equal(flipped["correct"][:-1], plain["correct"][:-1])


def test_large_subsamples_are_drawn_once(monkeypatch):
    # Another draw of thousands of examples moves a point by a hundredth of a point; drawing each
    # five times was a quarter of fit-head's time on 45,875 labels.
    monkeypatch.setattr(config, "CURVE_SINGLE_DRAW_FROM", 8)
    rng = np.random.default_rng(0)
    index = np.repeat([0, 1], 20)
    x = rng.normal(size=(40, 4)) + 2 * np.eye(4)[index]
    splits, _, _ = make_splits(index.tolist(), 0)
    sizes_fitted, calls = [], []
    fit = HeadClassifier.fit
    monkeypatch.setattr(HeadClassifier, "fit", lambda self, x, y, **kw: sizes_fitted.append(len(y)) or fit(self, x, y, **kw))
    curve = learning_curve(x, index, splits, HeadClassifier(C=1.0, normalization="l2"), seed=0, repeats=3,
                           progress=lambda *a: calls.append(a))
    # 1 and 2 per class (2 and 4 examples) three times; 4, 8 and 16 per class once.
    assert curve["sizes"] == [1, 2, 4, 8, 16] and curve["draws"] == [3, 3, 1, 1, 1]
    assert sorted(set(sizes_fitted)) == [2, 4, 8, 16, 32] and sizes_fitted.count(8) == len(splits)
    assert calls[-1] == (9, 9) and len(calls) == 9
    assert all((curve["correct"][s] == curve["correct"][s, 0]).all() for s in (2, 3, 4))
    points = curve_points(curve)
    assert [p["repeats"] for p in points] == [3, 3, 1, 1, 1] and points[2]["std"] == 0.0
    assert points[0]["accuracy"] == curve["correct"][0].mean()
