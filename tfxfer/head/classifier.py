"""`HeadClassifier`: a softmax classifier on frozen feature vectors, a scikit-learn estimator."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from tfxfer import config
from tfxfer.errors import ConfigError, DataError, LabelsError
from tfxfer.head.calibration import prior_shift, softmax
from tfxfer.head.spreading import spread
from tfxfer.head.train import forward, normalize, normalizer, stack_rows, train_hidden

logger = logging.getLogger(__name__)

H = config.HEAD
_nesting = threading.local()


def map_folds(fn: Callable, folds: Sequence, examples: int, features=None) -> list:
    """`[fn(*fold) for fold in folds]`, the folds fitted on all cores when they are large enough to pay.

    Each fold is fitted alone, so the results are those of one core. Threads,
    not processes: the features are shared, and numpy and scipy release the
    GIL on large arrays; small folds stay on one thread, where it would not.
    `examples` (the rows the folds are cut from, or a subsample's) is the size that decides
    (`config.PARALLEL_FOLDS_MIN_EXAMPLES`); for SciPy sparse `features` (a text
    head's lexical columns) it is their nonzeros, `examples` rows' worth
    (`PARALLEL_FOLDS_MIN_NONZEROS`): a long document holds 50 times a sentence's.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    workers = min(len(folds), cores)
    if scipy.sparse.issparse(features):
        large = examples * features.nnz / max(features.shape[0], 1) >= config.PARALLEL_FOLDS_MIN_NONZEROS
    else:
        large = examples >= config.PARALLEL_FOLDS_MIN_EXAMPLES
    if not large or workers < 2:
        return [fn(*fold) for fold in folds]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda fold: fn(*fold), folds))


@contextlib.contextmanager
def one_blas_thread():
    """Run the block with BLAS and OpenMP on one thread (re-entrant).

    Heads are small dense problems: split over threads they run up to 20x
    slower, as the threads wait for each other and for TensorFlow's.
    """
    if getattr(_nesting, "depth", 0):
        yield
        return
    _nesting.depth = 1
    try:
        with threadpool_limits(1):
            yield
    finally:
        _nesting.depth = 0


def _scatter_columns(coef: np.ndarray, used: np.ndarray, width: int) -> np.ndarray:
    """`coef` `[k, len(used)]` of the columns `used`, widened to `[k, width]` with zeros elsewhere."""
    full = np.zeros((coef.shape[0], width), coef.dtype)
    full[:, used] = coef
    return full


def _warm_columns(lr: LogisticRegression, before: np.ndarray, now: np.ndarray, width: int) -> None:
    """Point a warm-started solver's previous solution (over the columns `before`) at the columns
    `now`, as the solution over all `width` columns would be: a refit on more rows may use more."""
    coef = getattr(lr, "coef_", None)
    if coef is not None and lr.warm_start and not np.array_equal(before, now):
        lr.coef_ = _scatter_columns(coef, before, width)[:, now]


class HeadClassifier(ClassifierMixin, BaseEstimator):
    """Softmax classifier (linear, or one hidden layer) on feature vectors.

    Features are normalised first (`normalization`; the statistics are part
    of the model, and of its export). A linear head is multinomial logistic
    regression solved by L-BFGS (scikit-learn's `LogisticRegression`) to
    `config.HEAD_TOLERANCE` (with lexical columns: `LEXICAL_HEAD_SOLVER`, to
    `LEXICAL_HEAD_TOLERANCE`);
    a hidden head is trained by Adam with early stopping on a held-out fifth
    of the rows, then refitted on all of them for the number of steps that
    fifth chose.

    Args:
        normalization, C, hidden_units, dropout, class_weight, pseudo_labels,
        lexical_columns, seed: As `config.HeadConfig`; the defaults are `config.HEAD`'s.
            `class_weight` may also be a dict `{label: weight}`, as scikit-learn's
            (labels left out weigh 1); its scores then follow the weights
            (`log_prior_` stays zeros).
        decision_bias: `{label: bias}` added to the logits (the last layer's
            bias) after fitting, for answers that weigh classes equally
            (`calibration.fit_decision_bias`, set by the search on imbalanced
            labels); labels it leaves out get 0. Defaults to `None`.
        warm_start: A linear head's `fit` starts from the solution of its
            previous `fit` (as scikit-learn's), in place of zeros: the search
            fits each fold along the C grid this way. The same rows and
            columns are expected. Defaults to `False`.
        temperature: Scores are `softmax(logits / temperature)`; fitted on
            out-of-fold predictions by `tfxfer.head.calibration`. Defaults to `1.0`.
        prior_temperature, class_bias: `probabilities` are `softmax(logits /
            prior_temperature + class_bias)`; fitted on out-of-fold
            predictions by `calibration.fit_bias_temperature` where
            `log_prior_` is not zeros. `None`: `temperature` and `log_prior_`.

    Attributes:
        classes_: The labels, sorted: the column order of `predict_proba`.
        spec_: The fitted head as arrays (see `spec`).
        log_prior_: float `[len(classes_)]`, `calibration.prior_shift` of the
            training labels: zeros unless `class_weight="balanced"` and the
            classes are imbalanced.
        n_iter_: Solver iterations (linear) or Adam steps (hidden).
        pseudo_labeled_: Unlabeled rows added with pseudo-labels in `fit`.

    Example:

    >>> clf = HeadClassifier(C=3.0).fit(features, labels)
    >>> clf.predict_proba(features[:2])    # float [2, len(clf.classes_)]
    """

    def __init__(
        self, normalization: str = H.normalization, C: float = H.C, hidden_units: int = H.hidden_units,
        dropout: float = H.dropout, class_weight: str | dict | None = H.class_weight,
        pseudo_labels: float = H.pseudo_labels, temperature: float = 1.0, prior_temperature: float | None = None,
        class_bias: Sequence[float] | None = None, lexical_columns: int = H.lexical_columns, seed: int = H.seed,
        decision_bias: dict | None = None, warm_start: bool = False,
    ):
        self.normalization = normalization
        self.C = C
        self.hidden_units = hidden_units
        self.dropout = dropout
        self.class_weight = class_weight
        self.pseudo_labels = pseudo_labels
        self.temperature = temperature
        self.prior_temperature = prior_temperature
        self.class_bias = class_bias
        self.lexical_columns = lexical_columns
        self.seed = seed
        self.decision_bias = decision_bias
        self.warm_start = warm_start

    @classmethod
    def from_config(cls, cfg: config.HeadConfig, **overrides) -> "HeadClassifier":
        params = {f: getattr(cfg, f) for f in cfg.__dataclass_fields__}
        return cls(**{**params, **overrides})

    def _validate_params(self):
        if self.normalization not in config.NORMALIZATIONS:
            raise ConfigError(f"`normalization` must be one of {config.NORMALIZATIONS}. "
                              f"Received: normalization={self.normalization!r}.")
        if not self.C > 0:
            raise ConfigError(f"`C` must be positive (smaller: stronger regularisation). Received: C={self.C}.")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"`dropout` must be in [0, 1). Received: dropout={self.dropout}.")
        if self.hidden_units < 0:
            raise ConfigError(f"`hidden_units` must be >= 0 (0: linear). Received: hidden_units={self.hidden_units}.")
        if not isinstance(self.class_weight, dict) and self.class_weight not in ("balanced", None):
            raise ConfigError("`class_weight` must be 'balanced', None or a dict {label: weight}. Received: "
                              f"class_weight={self.class_weight!r}.")
        if not 0 <= self.pseudo_labels <= 1:
            raise ConfigError(f"`pseudo_labels` must be a fraction in [0, 1]. Received: pseudo_labels={self.pseudo_labels}.")
        if not self.temperature > 0:
            raise ConfigError(f"`temperature` must be positive. Received: temperature={self.temperature}.")
        if self.prior_temperature is not None and not self.prior_temperature > 0:
            raise ConfigError("`prior_temperature` must be positive, or None for `temperature`. Received: "
                              f"prior_temperature={self.prior_temperature}.")

    def fit(self, X, y, sample_weight=None, *, unlabeled=None) -> "HeadClassifier":
        """Train on float `[n, dim]` features and `n` labels. Returns self.

        Args:
            X: The features: NumPy, or SciPy sparse (a text head's lexical
                columns; the others are made dense).
            y: The labels (strings or any hashable).
            sample_weight: Optional `[n]` weights, multiplied with the class weights.
            unlabeled: Optional float `[m, dim]` features of unlabeled
                examples: they join the normalisation statistics and, with
                `pseudo_labels > 0`, the training set with pseudo-labels
                from label spreading.
        """
        with one_blas_thread():
            return self._fit(X, y, sample_weight, unlabeled)

    def _fit(self, X, y, sample_weight, unlabeled) -> "HeadClassifier":
        self._validate_params()
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=np.float32, y_numeric=False)
        with warnings.catch_warnings():  # many classes of few examples: fit-head judges them (looks_like_classes)
            warnings.filterwarnings("ignore", message="The number of unique classes is greater than 50%")
            check_classification_targets(y)  # labels that are measurements (floats) name the mistake
        self.classes_ = np.array(sorted(set(y.tolist())))
        if len(self.classes_) < 2:
            raise LabelsError(
                f"Training data has one class ({self.classes_[0] if len(self.classes_) else 'none'}); "
                "a classifier needs at least two. Add examples of another class."
            )
        if unlabeled is not None:
            unlabeled = check_array(unlabeled, accept_sparse="csr", dtype=np.float32)
            if unlabeled.shape[1] != X.shape[1]:
                raise DataError(f"Unlabeled features have {unlabeled.shape[1]} columns, labeled ones {X.shape[1]}.")
        stats_rows = X if unlabeled is None or not unlabeled.shape[0] else stack_rows(X, unlabeled)
        if not 0 <= self.lexical_columns < X.shape[1]:
            raise ConfigError(f"`lexical_columns` must be in [0, {X.shape[1]}): the features have {X.shape[1]} "
                              f"columns. Received: lexical_columns={self.lexical_columns}.")
        l2, mean, scale = normalizer(stats_rows, self.normalization, self.lexical_columns)
        index = np.searchsorted(self.classes_, y)
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, np.float64)
            if sample_weight.shape != index.shape or (sample_weight < 0).any() or not sample_weight.sum() > 0:
                raise ConfigError(f"`sample_weight` must be {len(index)} weights (one per row), none negative and "
                                  f"not all zero. Received: sample_weight of shape {sample_weight.shape}, "
                                  f"sum {sample_weight.sum():g}.")
        self.log_prior_ = prior_shift(index, self.class_weight, len(self.classes_), sample_weight).astype(np.float32)
        weight = self.class_weights(index, sample_weight)
        z = normalize(X, l2, mean, scale, self.lexical_columns)
        self.pseudo_labeled_ = 0
        layers = self._with_decision_bias(self._fit_layers(z, index, weight))
        if self.pseudo_labels > 0 and unlabeled is not None and unlabeled.shape[0]:
            zu = normalize(unlabeled, l2, mean, scale, self.lexical_columns)
            pz, pi, pw = self._pseudo_labels(z, index, zu, forward(zu, layers).argmax(1))
            if pz.shape[0]:
                self.pseudo_labeled_ = pz.shape[0]
                layers = self._with_decision_bias(self._fit_layers(stack_rows(z, pz), np.concatenate([index, pi]),
                                                                   np.concatenate([weight, pw])))
        self.spec_ = {"l2": l2, "mean": mean, "scale": scale, "lexical": self.lexical_columns, "layers": layers}
        return self

    def class_weights(self, index: np.ndarray, sample_weight: np.ndarray | None = None) -> np.ndarray:
        """Float64 `[n]` weights of rows of class indices `index` (into `classes_`) under `class_weight`,
        times `sample_weight` (`[n]`, default ones): labels a dict leaves out weigh 1.

        "balanced" counts each class by its rows' sample weights, as scikit-learn does: a weight of 2
        is the row twice.
        """
        rows = np.ones(len(index)) if sample_weight is None else np.asarray(sample_weight, np.float64)
        weight = self.class_weight
        if not weight:
            return rows
        if isinstance(weight, dict):  # keyed by label; `index` holds class indices
            return np.array([float(weight.get(label, 1.0)) for label in self.classes_.tolist()])[index] * rows
        # "balanced": n / (classes * class total), with totals of weights (scikit-learn's rule; its
        # compute_class_weight takes sample weights only from 1.7). A class whose rows all weigh 0 adds nothing.
        totals = np.bincount(index, weights=rows, minlength=len(self.classes_))
        present = totals > 0
        per_class = np.ones(len(self.classes_))
        per_class[present] = totals.sum() / (present.sum() * totals[present])
        return per_class[index] * rows

    def _with_decision_bias(self, layers):
        if not self.decision_bias:
            return layers
        kernel, bias = layers[-1]
        shift = np.array([self.decision_bias.get(c, 0.0) for c in self.classes_.tolist()], np.float32)
        return [*layers[:-1], (kernel, bias + shift)]

    def _fit_layers(self, z, index, weight) -> list[tuple[np.ndarray, np.ndarray]]:
        if self.hidden_units:
            return self._fit_hidden(z, index, weight)
        lr = getattr(self, "_solver", None) if self.warm_start else None
        if lr is None:
            lr = LogisticRegression(tol=config.HEAD_TOLERANCE, max_iter=config.HEAD_MAX_ITER)
            if self.lexical_columns:
                lr.set_params(tol=config.LEXICAL_HEAD_TOLERANCE, solver=config.LEXICAL_HEAD_SOLVER)
        lr.set_params(C=self.C, warm_start=self.warm_start)
        if self.warm_start:  # the next fit starts from this one's solution
            self._solver = lr
        width, used = z.shape[1], None
        if self.lexical_columns:  # mostly zeros: the gradient's cost follows the nonzeros
            z = scipy.sparse.csr_matrix(z)
            # A column no training row uses (n-grams of other texts: another fold's, or those a
            # learning-curve subsample left out) gets weight 0 under the L2 penalty, so the solver
            # leaves it out, for the same solution: a 1-per-class subsample of 150 classes uses
            # half the columns and fits 3x faster.
            used = np.flatnonzero(z.getnnz(axis=0)) if z.nnz else np.arange(width)
            z = z[:, used]
            _warm_columns(lr, getattr(self, "_used", used), used, width)
            self._used = used
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            lr.fit(z, index, sample_weight=weight)
        if any(issubclass(w.category, ConvergenceWarning) for w in caught):
            # Typical of separable classes at large C, where the loss keeps falling
            # along one direction: the predictions no longer change.
            logger.info("%s stopped after %d iterations before reaching tolerance %g (C=%g).",
                        lr.solver, config.HEAD_MAX_ITER, lr.tol, self.C)
        self.n_iter_ = int(np.max(lr.n_iter_))
        coef, intercept = lr.coef_.astype(np.float32), lr.intercept_.astype(np.float32)
        if used is not None:
            coef = _scatter_columns(coef, used, width)
        if coef.shape[0] == 1:  # binary: sigmoid(s) == softmax([-s/2, s/2])[1]
            coef, intercept = np.concatenate([-coef / 2, coef / 2]), np.concatenate([-intercept / 2, intercept / 2])
        return [(coef.T.copy(), intercept)]

    def _fit_hidden(self, z, index, weight):
        n_classes = len(self.classes_)
        z = z.toarray() if scipy.sparse.issparse(z) else z
        kwargs = dict(hidden_units=self.hidden_units, C=self.C, dropout=self.dropout, seed=self.seed,
                      learning_rate=config.HIDDEN_LEARNING_RATE)
        steps = config.HIDDEN_MAX_STEPS
        counts = np.bincount(index, minlength=n_classes)
        held_out = max(round(0.2 * len(index)), n_classes)
        if counts.min() >= 2 and len(index) - held_out >= n_classes:
            # Early stopping: the step count a held-out fifth prefers, then a refit on all rows.
            train, held = train_test_split(np.arange(len(index)), test_size=held_out, stratify=index,
                                           random_state=self.seed)
            _, steps = train_hidden(z[train], index[train], weight[train], n_classes, steps=steps,
                                    validation=(z[held], index[held], weight[held]), **kwargs)
            steps = max(steps, 1)
        layers, _ = train_hidden(z, index, weight, n_classes, steps=steps, **kwargs)
        self.n_iter_ = steps
        return layers

    def _pseudo_labels(self, z, index, zu, head_guess):
        """Pseudo-labels for the unlabeled rows: label spreading, then the most confident share of each class.

        The labels flow over a k-nearest-neighbour graph of all rows
        (scikit-learn's `LabelSpreading`), so they follow the clusters of the
        feature space; a row is kept only where that agrees with the head
        fitted on the labels alone (`head_guess`, class indices `[m]`). Where
        the pool's classes are mixed far from the labels' (webtext: 91% two
        classes, balanced labels), spreading alone carried the large classes'
        rows into the small ones, and the head learnt them wrong. Weighing the
        spreading by the head's probabilities instead of asking them to agree
        gained on pros_cons but cost two rows of the benchmark more than half a
        point (README, `--unlabeled`).
        The rows kept weigh at most as much, together, as the labeled ones, no
        row more than a label, and their classes equally: many unlabeled rows
        must not drown a few labels, nor a few kept rows outweigh them, nor one
        class the others.
        """
        classes, distribution = spread(z, index, zu, self.lexical_columns)
        guess = distribution.argmax(1)
        usable = np.isfinite(distribution).all(1) & (distribution.sum(1) > 0) & (classes[guess] == head_guess)
        confidence = np.where(usable, distribution.max(1), -1.0)
        chosen = []
        for c in np.unique(guess[usable]):
            rows = np.flatnonzero((guess == c) & usable)
            keep = int(np.ceil(self.pseudo_labels * len(rows)))
            chosen.append(rows[np.argsort(-confidence[rows], kind="stable")[:keep]])
        if not chosen:
            return zu[:0], index[:0], np.zeros(0)
        chosen = np.concatenate(chosen)
        # Where a few dozen rows of thousands are kept (names: mostly blank vectors), weighing as much
        # as the labels let them tip the head (scripts/README.md, stop 46).
        per_class = np.bincount(guess[chosen])
        total = min(z.shape[0] / np.count_nonzero(per_class), per_class[per_class > 0].min())
        return zu[chosen], classes[guess[chosen]], total / per_class[guess[chosen]]

    def spec(self) -> dict:
        """The fitted head as arrays, for `tfxfer.head.train.head_logits` and the export.

        Returns:
            `l2` (bool), `mean` and `scale` (float32 `[dim]`), `layers`
            (`[(kernel [in, out], bias [out]), ...]`, ReLU between layers),
            `temperature`, and `prior_temperature` and `class_bias` (float32
            `[classes]`) for `probabilities`.
        """
        check_is_fitted(self, "spec_")
        return {**self.spec_, "temperature": float(self.temperature),
                "prior_temperature": float(self._prior_temperature), "class_bias": self._class_bias}

    def logits(self, X) -> np.ndarray:
        """Logits before the temperature, float32 `[n, len(classes_)]`."""
        check_is_fitted(self, "spec_")
        X = validate_data(self, X, reset=False, accept_sparse="csr", dtype=np.float32)
        x = normalize(X, self.spec_["l2"], self.spec_["mean"], self.spec_["scale"], self.spec_["lexical"])
        return forward(x, self.spec_["layers"])

    def predict_proba(self, X) -> np.ndarray:
        """Class scores, float32 `[n, len(classes_)]`: `softmax(logits / temperature)`.

        Their argmax is `predict`. Under `class_weight="balanced"` they are
        what a head would say if every class were equally common; see
        `probabilities` for the chance each class is right.
        """
        return softmax(self.logits(X) / self.temperature).astype(np.float32)

    def probabilities(self, X) -> np.ndarray:
        """Float32 `[n, len(classes_)]`: `softmax(logits / prior_temperature + class_bias)`, the chance
        of each class where classes are as common as in the training labels. `predict_proba` when
        `log_prior_` is zeros (classes equally common, or weighed as they come)."""
        check_is_fitted(self, "spec_")
        if not np.any(self.log_prior_):
            return self.predict_proba(X)
        return softmax(self.logits(X) / self._prior_temperature + self._class_bias).astype(np.float32)

    @property
    def _prior_temperature(self) -> float:
        if self.prior_temperature is None or not np.any(self.log_prior_):
            return float(self.temperature)
        return float(self.prior_temperature)

    @property
    def _class_bias(self) -> np.ndarray:
        check_is_fitted(self, "spec_")
        if self.class_bias is None or not np.any(self.log_prior_):
            return self.log_prior_
        bias = np.asarray(self.class_bias, np.float32)
        if bias.shape != self.log_prior_.shape:
            raise ConfigError(f"`class_bias` needs one value per class ({len(self.classes_)}). Received: "
                              f"class_bias of shape {bias.shape}.")
        return bias

    def predict(self, X) -> np.ndarray:
        """The most probable label of each row."""
        logits = self.logits(X)
        return self.classes_[logits.argmax(1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # a text head's lexical columns come as CSR
        return tags

    def describe(self) -> str:
        """A one-line description, e.g. `linear, l2 rows, C=1`."""
        kind = f"hidden {self.hidden_units} ReLU, dropout {self.dropout:g}" if self.hidden_units else "linear"
        norm = {"l2": "unit-length rows", "standardize": "standardised columns",
                "l2+standardize": "unit-length rows, standardised columns"}[self.normalization]
        text = f"{kind}, {norm}, C={self.C:g}"
        if self.lexical_columns:
            text += f", {self.lexical_columns:,} word and character n-gram columns"
        return text + (f", pseudo-labels on {self.pseudo_labels:.0%} of unlabeled examples" if self.pseudo_labels else "")
