"""The head's use of unlabeled examples: label spreading, pseudo-labels, and the rule that keeps them."""

import numpy as np
import pytest
import scipy.sparse

from tests.conftest import blobs
from tfxfer import config
from tfxfer.head.classifier import HeadClassifier
from tfxfer.head.search import train_head
from tfxfer.head.selection import cross_validate
from tfxfer.head.train import l2_normalize


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


@pytest.mark.parametrize("sparse", [False, True])
def test_the_neighbour_graph_is_scikit_learns(sparse):
    # Built in parts (the unlabeled rows' own neighbours remembered), it must be the graph
    # LabelSpreading(kernel="knn") builds: each row's k nearest, itself first.
    from sklearn.neighbors import NearestNeighbors

    from tfxfer.head.spreading import neighbour_graph

    rng = np.random.default_rng(3)
    for n, m, k in [(30, 400, 10), (3, 40, 10), (12, 4, 10), (1, 5, 5), (2, 1, 2)]:
        z, zu = rng.normal(size=(n, 20)).astype("float32"), rng.normal(size=(m, 20)).astype("float32")
        lexical = 12 if sparse else 0
        if sparse:  # a text head's rows: sentence vectors, then sparse lexical columns
            z[:, 8:] *= z[:, 8:] > 1
            zu[:, 8:] *= zu[:, 8:] > 1
            z, zu = scipy.sparse.csr_matrix(z), scipy.sparse.csr_matrix(zu)
        x = scipy.sparse.vstack([z, zu], format="csr") if sparse else np.vstack([z, zu])
        nn = NearestNeighbors(n_neighbors=k).fit(x)
        expected = nn.kneighbors_graph(nn._fit_X, k, mode="connectivity")
        graph = neighbour_graph(z, zu, k, lexical)
        assert graph.shape == expected.shape and (graph != expected).nnz == 0, (n, m, k)


def test_the_unlabeled_rows_neighbours_are_found_once(monkeypatch):
    # Every fold of the search and every subsample of the learning curve spreads over the same
    # unlabeled rows: their distances to each other (5,000 texts: 2 s a fit) are computed once.
    from tfxfer.head import spreading

    measured = []
    monkeypatch.setattr(spreading, "_neighbours", type(spreading._neighbours)())
    monkeypatch.setattr(spreading, "distances", lambda a, b, lexical=0, f=spreading.distances:
                        measured.append((a.shape[0], b.shape[0])) or f(a, b, lexical))
    _, z, index, zu, _ = _two_clusters(100, 50)  # 100 labeled rows, 200 unlabeled
    z, zu = l2_normalize(z), l2_normalize(zu)
    for rows in (slice(0, 60), slice(40, 100)):  # two folds' labels
        spreading.spread(z[rows], index[rows], zu)
    assert measured.count((200, 200)) == 1  # the unlabeled rows to each other
    assert measured.count((60, 200)) == 2 and measured.count((60, 60)) == 2  # the labeled rows, each fold


def test_distances_of_text_rows_are_euclidean():
    # A text head's rows are dense sentence vectors beside sparse lexical columns, measured apart.
    from sklearn.metrics.pairwise import euclidean_distances

    from tfxfer.head.spreading import distances

    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(5, 30)).astype("float32"), rng.normal(size=(7, 30)).astype("float32")
    a[:, 10:] *= a[:, 10:] > 1.5
    b[:, 10:] *= b[:, 10:] > 1.5
    sparse = distances(scipy.sparse.csr_matrix(a), scipy.sparse.csr_matrix(b), lexical=20)
    np.testing.assert_allclose(sparse, euclidean_distances(a, b), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(distances(a, b), euclidean_distances(a, b), rtol=1e-6)
