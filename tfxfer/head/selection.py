"""Choose the head, its normalisation, its regularisation and its use of
unlabeled data by stratified cross-validation."""

from __future__ import annotations

import collections
import dataclasses
import logging
import warnings
from typing import Callable, Sequence

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold

from tfxfer import config
from tfxfer.head.calibration import log_loss, log_softmax
from tfxfer.head.classifier import HeadClassifier, map_folds, one_blas_thread
from tfxfer.head.train import stratified_sample

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class CrossValidation:
    """The outcome of the search.

    Attributes:
        best: The chosen `HeadConfig`.
        use_unlabeled: Whether the chosen head is fitted with the unlabeled examples.
        scheme: How it was validated, e.g. `"stratified 5-fold"`,
            or `"none"` when a class has a single example.
        note: Why the scheme was chosen, for the report.
        candidates: One dict per candidate tried: `head` (description),
            `stage`, `accuracy`, `log_loss`, `unlabeled`.
        oof_logits: float `[n, classes]` out-of-fold logits of `best`, or `None`.
        fold_scores: Accuracy of `best` on each fold.
        splits: The `(train, test)` index arrays.
        unlabeled_gain: Cross-validated accuracy of the chosen use of the
            unlabeled examples minus that of the best head without them
            (`None` without unlabeled examples).
        unlabeled_gain_se: Its standard error (of the paired per-example
            differences), `None` without unlabeled examples.
        unlabeled_log_loss: What decided: `{"log_loss": the out-of-fold log loss
            of the best use of the unlabeled examples tried, "log_loss_without":
            the best head's without them, "gain_se": the standard error of their
            paired difference, "margin": the standard errors it must win by}`;
            `None` without unlabeled examples or when no use of them was tried.
    """

    best: config.HeadConfig
    use_unlabeled: bool
    scheme: str
    note: str
    candidates: list[dict]
    oof_logits: np.ndarray | None
    fold_scores: list[float]
    splits: list[tuple[np.ndarray, np.ndarray]] = dataclasses.field(repr=False, default_factory=list)
    unlabeled_gain: float | None = None
    unlabeled_gain_se: float | None = None
    unlabeled_log_loss: dict | None = None


def make_splits(labels: Sequence[str], seed: int) -> tuple[list, str, str]:
    """Folds adapted to the data: `(splits, scheme, note)`."""
    counts = collections.Counter(labels)
    largest = max(counts.values())
    n = len(labels)
    if largest < 2:
        note = ("Cross-validation skipped: every class has a single example. The default head was used; add "
                "examples to get a validated choice and report.")
        return [], "none", note
    # Stratified folds even for a handful of examples: leave-one-out takes each held-out
    # example from its own class's share, so every fold leans to the other classes;
    # with 4 labels per class that made cross-validated accuracy 4 - 10 points
    # pessimistic and the fitted temperature too soft (scripts/bench_heads.py).
    # A rare class does not cut the folds to its size: a random sample of an imbalanced
    # set often holds a class or two with one or two examples, and two folds would
    # train every candidate on half the labels. Such a class sits in fewer folds.
    k = min(config.CV_FOLDS, largest)
    scheme = f"stratified {k}-fold"
    parts = []
    if k < config.CV_FOLDS:
        parts.append(f"{scheme} (fewer than {config.CV_FOLDS} folds: no class has more than {largest} examples).")
    single = sorted(c for c, m in counts.items() if m == 1)
    if single:
        parts.append(f"{_names(single)} has a single example: the model of its fold never sees the class, so "
                     "cross-validation counts it as missed. Label more of it for a fair figure." if len(single) == 1
                     else f"{_names(single)} have one example each: the model of each one's fold never sees that "
                     "class, so cross-validation counts them as missed. Label more of them for a fair figure.")
    note = " ".join(parts) or scheme
    with warnings.catch_warnings():  # "The least populated class ... less than n_splits": said in the note
        warnings.simplefilter("ignore", UserWarning)
        splits = list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(n), labels))
    if any(len({labels[i] for i in train}) < 2 for train, _ in splits):
        return [], "none", (f"Cross-validation skipped: too few examples ({n}) to train on two classes in every "
                            "fold. The default head was used; add examples to get a validated choice and report.")
    return splits, scheme, note


def _names(classes: Sequence[str]) -> str:
    """`Class 'a'`, `Classes 'a' and 'b'`, `Classes 'a', ..., 'e' and 3 more`."""
    quoted = [repr(c) for c in classes]
    if len(quoted) == 1:
        return f"Class {quoted[0]}"
    head, tail = (quoted[:5], f"{len(quoted) - 5} more") if len(quoted) > 5 else (quoted[:-1], quoted[-1])
    return f"Classes {', '.join(head)} and {tail}"


def out_of_fold_logits(clf: HeadClassifier, x: np.ndarray, y: np.ndarray, splits, unlabeled=None,
                       warm: list | None = None) -> np.ndarray:
    """Logits of each row from a clone of `clf` fitted on the folds that do not hold it.

    Columns follow the sorted classes of `y`; a fold that lacks a class
    scores it -inf there.

    Args:
        warm: A list the caller keeps across calls for heads that differ
            only in C (empty at first): each fold's head then starts from its
            solution in the previous call (`HeadClassifier(warm_start=True)`).
            Along the C grid that halves a linear head's solver steps.
    """
    classes = np.array(sorted(set(y.tolist())))
    out = np.full((len(y), len(classes)), -np.inf, np.float32)
    if warm is not None and not warm:
        warm.extend([None] * len(splits))

    def fit(i, train, test):
        if warm is None or warm[i] is None:
            fold = clone(clf)
        else:
            fold = warm[i].set_params(**clf.get_params())
        if warm is not None:
            warm[i] = fold.set_params(warm_start=True)
        fold.fit(x[train], y[train], unlabeled=unlabeled)
        return fold.classes_, fold.logits(x[test])

    folds = [(i, train, test) for i, (train, test) in enumerate(splits)]
    for (_, test), (fold_classes, logits) in zip(splits, map_folds(fit, folds, len(y), x)):
        out[np.ix_(test, np.searchsorted(classes, fold_classes))] = logits
    return out


def fold_accuracy(logits: np.ndarray, index: np.ndarray, splits) -> list[float]:
    """Accuracy of out-of-fold `logits` (`[n, classes]`) on each fold's held-out rows."""
    right = logits.argmax(1) == index
    return [float(np.mean(right[test])) for _, test in splits]


def _per_example_loss(logits: np.ndarray, index: np.ndarray) -> np.ndarray:
    return -np.maximum(log_softmax(logits)[np.arange(len(index)), index], np.log(1e-12))


def _paired(diff: np.ndarray) -> tuple[float, float]:
    """Mean of paired per-example differences (float `[n]`) and its standard error."""
    se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else 0.0
    return float(diff.mean()), se


def _significantly_better(a: dict, b: dict, margin: float) -> bool:
    """Whether `a` has a lower log loss than `b` by more than `margin` standard errors (paired)."""
    mean, se = _paired(b["losses"] - a["losses"])
    return mean > margin * se and mean > 0


def lower_log_loss(a_logits: np.ndarray, b_logits: np.ndarray, index: np.ndarray, margin: float) -> dict:
    """Whether out-of-fold logits `a_logits` have a lower log loss than `b_logits` by more than
    `margin` standard errors of the paired per-example differences.

    Args:
        a_logits, b_logits: float `[n, classes]` out-of-fold logits of the same examples and folds.
        index: int `[n]` true class indices.
        margin: Standard errors `a` must win by.

    Returns:
        `{"better": bool, "log_loss": a's mean, "log_loss_other": b's mean, "gain_se": the standard
        error of the mean difference}`.
    """
    a, b = ({"losses": _per_example_loss(logits, index)} for logits in (a_logits, b_logits))
    _, se = _paired(b["losses"] - a["losses"])
    return {"better": _significantly_better(a, b, margin), "log_loss": float(a["losses"].mean()),
            "log_loss_other": float(b["losses"].mean()), "gain_se": se}


def cross_validate(
    features: np.ndarray,
    labels: Sequence[str],
    candidates: Sequence[config.HeadConfig] | None = None,
    seed: int = 1,
    *,
    unlabeled: np.ndarray | None = None,
    pseudo_labels: Sequence[float] = config.PSEUDO_LABEL_GRID,
    lexical: int = 0,
    class_weight: str | None = config.HEAD.class_weight,
    progress: Callable[[int, int], None] | None = None,
) -> CrossValidation:
    """Choose a head by cross-validated log loss: regularisation, normalisation, unlabeled data.

    With `candidates=None` (`--head auto`) the search has three stages:

    1. Linear heads on unit-length rows, for each C of `config.C_GRID`.
    2. With more than `config.SMALL_SET_MAX` examples, linear heads on
       standardised columns, with and without unit-length rows first; the
       best replaces stage 1's only if its log loss is lower by more than
       `config.NORMALIZATION_MARGIN` standard errors.
    3. With `unlabeled` features: the head fitted with them, for the
       normalisation statistics and with each fraction of `pseudo_labels`
       pseudo-labeled (every fold's pseudo-labels come from its own
       training rows); kept if better by `config.UNLABELED_MARGIN` standard errors.

    The log loss, not the accuracy, ranks candidates: with a few dozen
    examples accuracy moves in steps of one example and ties or flips by
    chance, while the log loss also weighs how sure each prediction was.
    The rule for switching exists because, on unseen data, choosing among
    more candidates by noise alone lost more than they gained
    (`scripts/bench_heads.py --selection`).

    Args:
        features: float `[n, dim]`; labels: `n` labels.
        candidates: Heads to score instead of the search (e.g. one, as asked).
        seed: Seed of the folds and the heads.
        unlabeled: float `[m, dim]` features of unlabeled examples, or `None`.
        pseudo_labels: Fractions tried in stage 3.
        lexical: The trailing columns of `features` that are lexical
            features (`HeadConfig.lexical_columns`), for every candidate.
        class_weight: `HeadConfig.class_weight` of every candidate.
        progress: Called with `(done, total)` after each candidate.

    Past twice `config.SEARCH_SAMPLE` examples, the candidates are compared
    on a stratified sample of that many; the chosen head, and the same head
    at the next larger C of the grid, are then cross-validated on all the
    examples, and the better of the two is chosen. The unlabeled gain is the
    sample's.

    Returns:
        A `CrossValidation`.
    """
    with one_blas_thread():
        search = _Search(features, labels, seed, unlabeled, lexical, class_weight, progress)
        many = len(search.y) > 2 * config.SEARCH_SAMPLE and search.splits
        if many and (candidates is None or len(candidates) > 1 or search.unlabeled is not None):
            return search.run_on_sample(candidates, pseudo_labels)
        return search.run(candidates, pseudo_labels)


class _Search:
    def __init__(self, features, labels, seed, unlabeled, lexical, class_weight, progress):
        self.x, self.y, self.seed, self.progress = features, np.asarray(labels), seed, progress
        self.lexical, self.class_weight = lexical, class_weight
        self.index = np.searchsorted(np.array(sorted(set(self.y.tolist()))), self.y)
        self.splits, self.scheme, self.note = make_splits(self.y.tolist(), seed)
        self.unlabeled = unlabeled if unlabeled is not None and unlabeled.shape[0] else None
        self.results: list[dict] = []
        self.total = self.done = 0
        self.warm: dict[tuple, list] = {}  # the fold heads of each candidate family, for warm starts along C

    def own(self, cfg: config.HeadConfig) -> config.HeadConfig:
        """`cfg` with this search's seed, the data's lexical columns and the class weights asked for."""
        return dataclasses.replace(cfg, seed=self.seed, lexical_columns=self.lexical, class_weight=self.class_weight)

    def trial(self, cfg: config.HeadConfig, use_unlabeled: bool, stage: str) -> dict:
        cfg = self.own(cfg)
        clf = HeadClassifier.from_config(cfg)
        family = self.warm.setdefault(
            dataclasses.astuple(dataclasses.replace(cfg, C=0.0)) + (use_unlabeled,), [])
        logits = out_of_fold_logits(clf, self.x, self.y, self.splits, self.unlabeled if use_unlabeled else None,
                                    warm=None if cfg.hidden_units else family)
        predicted = logits.argmax(1)
        result = {
            "head": clf.describe(), "stage": stage, "unlabeled": use_unlabeled,
            "accuracy": float(np.mean(predicted == self.index)), "log_loss": log_loss(logits, self.index),
            "config": cfg, "logits": logits,
            "losses": _per_example_loss(logits, self.index),
            "fold_accuracy": fold_accuracy(logits, self.index, self.splits),
        }
        self.results.append(result)
        self.done += 1
        if self.progress:
            self.progress(self.done, self.total)
        return result

    def best_of(self, configs, use_unlabeled, stage) -> dict:
        best = None
        for cfg in configs:
            r = self.trial(cfg, use_unlabeled, stage)
            if best is None or r["log_loss"] < best["log_loss"] - 1e-12:  # ties keep the earlier
                best = r
        return best

    def run(self, candidates, pseudo_labels) -> CrossValidation:
        if not self.splits:
            logger.info(self.note)  # the report says it, once
            chosen = candidates[0] if candidates else config.HEAD
            return CrossValidation(self.own(chosen), False, self.scheme, self.note, [], None, [], [])
        others = [n for n in config.NORMALIZATIONS if n != "l2"] if len(self.y) > config.SMALL_SET_MAX else []
        stage3 = (1 + len(pseudo_labels)) if self.unlabeled is not None else 0
        if candidates:
            self.total = len(candidates) + stage3
            best = self.best_of(candidates, False, "asked")
        else:
            self.total = len(config.C_GRID) * (1 + len(others)) + stage3
            best = self.best_of([config.HeadConfig(C=c) for c in config.C_GRID], False, "regularisation")
            if others:
                rival = self.best_of([config.HeadConfig(normalization=n, C=c) for n in others for c in config.C_GRID],
                                     False, "normalisation")
                if _significantly_better(rival, best, config.NORMALIZATION_MARGIN):
                    best = rival
        gain = gain_se = losses = None
        if self.unlabeled is not None:
            without = tried = best
            for fraction in pseudo_labels:
                if fraction == 0 and best["config"].normalization == "l2":
                    continue  # unit-length rows use no statistics: nothing to try
                r = self.trial(dataclasses.replace(without["config"], pseudo_labels=fraction), True, "unlabeled")
                if r["log_loss"] < best["log_loss"] and _significantly_better(r, without, config.UNLABELED_MARGIN):
                    best = r
                if tried is without or r["log_loss"] < tried["log_loss"]:
                    tried = r
            if tried is not without:
                losses = {"log_loss": tried["log_loss"], "log_loss_without": without["log_loss"],
                          "gain_se": _paired(without["losses"] - tried["losses"])[1],
                          "margin": config.UNLABELED_MARGIN}
            # On a few dozen labels a gain often comes from a handful of examples and is chance
            # (scripts/bench_unlabeled.py): the report gives its standard error beside it.
            right = [(r["logits"].argmax(1) == self.index).astype(float) for r in (best, without)]
            gain, gain_se = _paired(right[0] - right[1])
        logger.info("Cross-validation (%s): best %s", self.scheme, best["head"])
        return CrossValidation(best["config"], best["unlabeled"], self.scheme, self.note, self.summary(),
                               best["logits"], best["fold_accuracy"], self.splits, gain, gain_se, losses)

    def run_on_sample(self, candidates, pseudo_labels) -> CrossValidation:
        """`run` on a stratified sample; its choice (and that at the next larger C) on all the examples."""
        rows = stratified_sample(self.index, config.SEARCH_SAMPLE, self.seed, least=config.CV_FOLDS)
        sample = _Search(self.x[rows], self.y[rows], self.seed, self.unlabeled, self.lexical, self.class_weight,
                         self.progress and (lambda done, total: self.progress(done, total + 2)))
        chosen = sample.run(candidates, pseudo_labels)
        configs = [chosen.best]
        if candidates is None and not chosen.best.hidden_units and chosen.best.C in config.C_GRID[:-1]:
            configs.append(dataclasses.replace(chosen.best, C=config.C_GRID[config.C_GRID.index(chosen.best.C) + 1]))
        self.total, self.done = sample.total + 2, sample.total + 2 - len(configs)
        best = self.best_of(configs, chosen.use_unlabeled, "all examples")
        sampled = (f"The candidate heads were compared on a stratified sample of {len(rows):,} of the "
                   f"{len(self.y):,} examples, and the chosen one then cross-validated on all of them.")
        note = sampled if self.note == self.scheme else f"{self.note} {sampled}"
        tried = [{**r, "stage": f"{r['stage']}, on the sample"} for r in chosen.candidates]
        logger.info("Cross-validation (%s, candidates on %d examples): best %s", self.scheme, len(rows), best["head"])
        return CrossValidation(best["config"], best["unlabeled"], self.scheme, note, tried + self.summary(),
                               best["logits"], best["fold_accuracy"], self.splits, chosen.unlabeled_gain,
                               chosen.unlabeled_gain_se, chosen.unlabeled_log_loss)

    def summary(self) -> list[dict]:
        """The candidates tried, without their logits and configs."""
        return [{k: v for k, v in r.items() if k not in ("config", "logits", "losses", "fold_accuracy")}
                for r in self.results]
