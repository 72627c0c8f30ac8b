"""Benchmark: tfxfer's head against simple baselines on data sets nobody tuned on.

For every data set of the suite (`bench_suite.py`) and 4, 8, 16 and 64
labels per class (up to that many for the imbalanced nps_chat), 10 random
draws from the pool, scored on the fixed held-out part:

- fit-head: `train_head` (the search `fit-head` runs), default settings;
- fit-head --unlabeled: the same, given the rest of the pool as unlabeled
  examples (at most `config.UNLABELED_MAX`, a random sample);
- fit-head --lexical / --no-lexical (text): always with / without the
  hashed words and character n-grams (`tfxfer.features.lexical`), where
  fit-head keeps them only if cross-validation finds they help;
- LR: scikit-learn `LogisticRegression(C=1)` on the same features, rows scaled
  to unit length (the notebook baseline);
- centroid: nearest class centroid of unit-length rows;
- TF-IDF: TF-IDF + `LogisticRegression(C=1)` on the labeled texts (no transfer).

Mean ± std accuracy (macro-F1 too for nps_chat), and for binary sets the
expected calibration error of fit-head's scores on the held-out part, as it
comes and (in brackets) weighted to the labeled rows' class mix: scores
fitted on k labels per class can know nothing of names' 63% female.
Targets: fit-head >= LR on every row and >= LR + 1 point on half the rows;
--unlabeled >= fit-head + 2 points at the smallest label count on three
data sets and never 0.5 points below it; ECE <= 0.05 on binary sets.

`--selection` instead compares ways of choosing the head (selection
criteria and candidate sets) by nested validation: each draw's choice is
made by cross-validation on its labels alone and scored on other pool
examples (never on the test part), so defaults are not tuned on test data.
This is how the default search (`tfxfer.head.selection`) was chosen.

`--only-unlabeled` leaves out the --lexical / --no-lexical columns, to
measure fit-head --unlabeled against fit-head alone in half the time.

Usage: python scripts/bench_heads.py [--datasets a,b] [--k 4,8,16,64] [--draws 10] [--selection]
                                     [--no-unlabeled | --only-unlabeled]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time
from pathlib import Path

import bench_suite as suite
import numpy as np

from tfxfer import config
from tfxfer.features.extract import class_counts
from tfxfer.head.classifier import HeadClassifier
from tfxfer.head.search import train_head
from tfxfer.head.selection import _per_example_loss, make_splits, out_of_fold_logits
from tfxfer.head.train import l2_normalize
from tfxfer.reliability import expected_calibration_error, mix_weights


def baselines(data: suite.Dataset, train: np.ndarray) -> dict:
    from sklearn.linear_model import LogisticRegression

    x, y = data.features, data.labels
    out = {}
    unit = l2_normalize(x)
    lr = LogisticRegression(C=1.0, max_iter=2000).fit(unit[train], y[train])
    out["LR"] = lr.predict(unit[data.test])
    # Nearest class centroid (scikit-learn's NearestCentroid refuses all-zero features, as names has).
    classes = np.array(sorted(set(y[train].tolist())))
    centroids = np.stack([unit[train][y[train] == c].mean(0) for c in classes])
    out["centroid"] = classes[((unit[data.test][:, None] - centroids) ** 2).sum(-1).argmin(1)]
    if data.kind == "text":
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts = [data.items[i] for i in train]
        tfidf = TfidfVectorizer().fit(texts)
        model = LogisticRegression(C=1.0, max_iter=2000).fit(tfidf.transform(texts), y[train])
        out["TF-IDF"] = model.predict(tfidf.transform([data.items[i] for i in data.test]))
    return out


def score(data, predicted) -> dict:
    from sklearn.metrics import f1_score

    truth = data.labels[data.test]
    return {"accuracy": float(np.mean(predicted == truth)),
            "macro_f1": float(f1_score(truth, predicted, average="macro", zero_division=0))}


def unlabeled_rows(data: suite.Dataset, train: np.ndarray, seed: int) -> np.ndarray:
    rest = np.setdiff1d(data.pool, train)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(rest, min(len(rest), config.UNLABELED_MAX), replace=False))


def run_table(data: suite.Dataset, ks, draws: int, log, with_unlabeled: bool = True,
              only_unlabeled: bool = False) -> list[dict]:
    rows = []
    binary = len(data.classes) == 2
    for k in ks:
        results: dict[str, list] = {}
        t0 = time.time()
        for draw in range(draws):
            train = data.draw(k, draw)
            y = data.labels
            scored = {}
            rest = unlabeled_rows(data, train, draw)
            # (name, unlabeled rows, lexical columns given, train_head's use_lexical)
            runs = [("fit-head", None, True, "auto"), ("fit-head --unlabeled", rest, True, "auto")]
            runs = runs[: 2 if with_unlabeled else 1]
            if data.kind == "text" and not only_unlabeled:
                runs += [("fit-head --lexical", None, True, True), ("fit-head --no-lexical", None, False, False)]
            for name, unlabeled, lexical, use_lexical in runs:
                fit_x, (test_x, un_x), columns = suite.head_features(data, train, data.test, unlabeled,
                                                                     lexical=lexical)
                clf, _, _ = train_head(fit_x, y[train], unlabeled=un_x, lexical=columns, use_lexical=use_lexical,
                                       with_learning_curve=False, seed=draw)
                proba = clf.predict_proba(suite.as_head_reads(clf, test_x, columns))
                scored[name] = score(data, clf.classes_[proba.argmax(1)])
                if binary:
                    correct = clf.classes_[proba.argmax(1)] == y[data.test]
                    scored[name]["ece"] = expected_calibration_error(proba, correct)
                    scored[name]["ece_labeled_mix"] = expected_calibration_error(
                        proba, correct, sample_weight=mix_weights(y[data.test], class_counts(y[train].tolist())))
            for name, predicted in baselines(data, train).items():
                scored[name] = score(data, predicted)
            for name, s in scored.items():
                for metric, value in s.items():
                    results.setdefault(f"{name}|{metric}", []).append(value)
        row = {"dataset": data.name, "k": k, "draws": draws, "seconds_per_draw": (time.time() - t0) / draws,
               **{key: [float(np.mean(v)), float(np.std(v))] for key, v in results.items()}}
        rows.append(row)
        log(row)
    return rows


def format_table(rows: list[dict]) -> str:
    columns = ["fit-head", "fit-head --unlabeled", "fit-head --lexical", "fit-head --no-lexical", "LR", "centroid",
               "TF-IDF"]
    lines = ["| data set | k | " + " | ".join(columns) + " | fit-head - LR | ECE (labeled mix) |",
             "|---" * (len(columns) + 4) + "|"]
    for r in rows:
        metric = "macro_f1" if r["dataset"] in suite.IMBALANCED_SETS else "accuracy"
        cells = []
        for c in columns:
            m = r.get(f"{c}|accuracy")
            cells.append("" if m is None else f"{m[0]:.3f} ± {m[1]:.3f}"
                         + (f" (F1 {r[f'{c}|macro_f1'][0]:.3f})" if metric == "macro_f1" else ""))
        diff = r["fit-head|accuracy"][0] - r["LR|accuracy"][0]
        ece, mixed = r.get("fit-head|ece"), r.get("fit-head|ece_labeled_mix")
        lines.append(f"| {r['dataset']} | {r['k']} | " + " | ".join(cells) + f" | {100 * diff:+.1f} | "
                     + ("" if ece is None else f"{ece[0]:.3f}" + ("" if mixed is None else f" ({mixed[0]:.3f})"))
                     + " |")
    return "\n".join(lines)


# --- nested validation of the selection rule --------------------------------------------

SELECTION_GRID = (
    *(config.HeadConfig(normalization=n, C=c) for n in config.NORMALIZATIONS for c in (0.03, *config.C_GRID)),
    config.HIDDEN_HEAD,
)


def run_selection(data: suite.Dataset, ks, draws: int, log) -> list[dict]:
    """Per draw: every candidate's out-of-fold per-example losses and its accuracy on other pool rows."""
    records = []
    for k in ks:
        for draw in range(draws):
            train = data.draw(k, draw)
            rest = np.setdiff1d(data.pool, train)
            dev = np.random.default_rng(draw).choice(rest, min(len(rest), 2000), replace=False)
            x, y = data.features[train], data.labels[train]
            index = np.searchsorted(np.array(sorted(set(y.tolist()))), y)
            splits, _, _ = make_splits(y.tolist(), draw)
            cands = []
            for cfg in SELECTION_GRID:
                clf = HeadClassifier.from_config(dataclasses.replace(cfg, seed=draw))
                logits = out_of_fold_logits(clf, x, y, splits)
                cands.append({
                    "config": dataclasses.asdict(cfg),
                    "losses": np.round(_per_example_loss(logits, index), 5).tolist(),
                    "cv_accuracy": float(np.mean(logits.argmax(1) == index)),
                    "dev_accuracy": float(np.mean(clf.fit(x, y).predict(data.features[dev]) == data.labels[dev])),
                })
            records.append({"dataset": data.name, "k": k, "draw": draw, "n": len(y), "candidates": cands})
        log({"dataset": data.name, "k": k, "done": draws})
    return records


def _key(c):
    return c["config"]["normalization"], c["config"]["C"], c["config"]["hidden_units"]


def _lowest(cands):
    return min(cands, key=lambda c: np.mean(c["losses"]))  # min keeps the first of equals


def _staged(record, margin=config.NORMALIZATION_MARGIN):
    """The default search, replayed: unit rows over C_GRID, then other normalisations if clearly better."""
    linear = [c for c in record["candidates"] if not c["config"]["hidden_units"] and c["config"]["C"] in config.C_GRID]
    best = _lowest([c for c in linear if c["config"]["normalization"] == "l2"])
    if record["n"] > config.SMALL_SET_MAX:
        rival = _lowest([c for c in linear if c["config"]["normalization"] != "l2"])
        diff = np.array(best["losses"]) - np.array(rival["losses"])
        if diff.mean() > max(0.0, margin * diff.std(ddof=1) / np.sqrt(len(diff))):
            best = rival
    return best


RULES = {
    "LR C=1, unit rows (baseline)": lambda r: next(c for c in r["candidates"] if _key(c) == ("l2", 1.0, 0)),
    "lowest log loss, every candidate": lambda r: _lowest(r["candidates"]),
    "lowest log loss, linear heads": lambda r: _lowest([c for c in r["candidates"] if not c["config"]["hidden_units"]]),
    "lowest log loss, unit rows only": lambda r: _lowest([c for c in r["candidates"]
                                                          if _key(c)[0] == "l2" and not _key(c)[2]]),
    "highest accuracy, every candidate": lambda r: max(r["candidates"], key=lambda c: c["cv_accuracy"]),
    "staged (the default search)": _staged,
    "oracle (best on the dev rows)": lambda r: max(r["candidates"], key=lambda c: c["dev_accuracy"]),
}


def summarize_selection(records: list[dict]) -> str:
    groups: dict = {}
    for r in records:
        g = groups.setdefault((r["dataset"], r["k"]), {})
        for name, rule in RULES.items():
            g.setdefault(name, []).append(rule(r)["dev_accuracy"])
    base = "LR C=1, unit rows (baseline)"
    lines = ["Dev accuracy minus the baseline's, points (mean over draws); last columns: mean, worst row, rows >= +1",
             "rule".ljust(36) + "".join(f"{d[:5]}/{k}".rjust(9) for d, k in groups)]
    for name in RULES:
        diffs = [100 * (np.mean(g[name]) - np.mean(g[base])) for g in groups.values()]
        lines.append(name.ljust(36) + "".join(f"{d:9.2f}" for d in diffs)
                     + f"   {np.mean(diffs):+.2f} {min(diffs):+.2f} {sum(d >= 1 for d in diffs)}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default=",".join(suite.DATASETS))
    parser.add_argument("--k", default="4,8,16,64")
    parser.add_argument("--draws", type=int, default=10)
    parser.add_argument("--selection", action="store_true", help="nested validation of the selection rule")
    parser.add_argument("--no-unlabeled", action="store_true", help="leave out the (slowest) --unlabeled column")
    parser.add_argument("--only-unlabeled", action="store_true",
                        help="fit-head with and without --unlabeled only (and the baselines), not --lexical's columns")
    parser.add_argument("--work", type=Path, default=suite.default_work_dir())
    parser.add_argument("--out", type=Path, help="write the raw results as JSON")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("tfxfer").setLevel(logging.WARNING)
    ks = [int(k) for k in args.k.split(",")]
    results = []
    for name in args.datasets.split(","):
        data = suite.load(name, args.work)
        print(f"{name}: {len(data.pool)} pool, {len(data.test)} test, {len(data.classes)} classes", flush=True)
        log = lambda r: print(json.dumps({k: v for k, v in r.items()}), flush=True)  # noqa: E731
        if args.selection:
            results += run_selection(data, ks, args.draws, log)
        else:
            results += run_table(data, ks, args.draws, log, not args.no_unlabeled, args.only_unlabeled)
    if args.out:
        args.out.write_text(json.dumps(results))
    print()
    print(summarize_selection(results) if args.selection else format_table(results))


if __name__ == "__main__":
    main()
