"""Benchmark: fit-head on hundreds to thousands of labels, the lexical columns' idf weights on and off.

For each data set of the suite (`bench_suite.py`) and each label count, `--draws`
random draws of that many pool examples (the pool's class mix); on each draw
`fit_head` (the whole search, default settings) is run twice, with the lexical
columns weighted by idf and with plain counts (`config.LEXICAL_IDF_MIN_TEXTS`
set to 0 and out of reach), and TF-IDF + logistic regression (word 1-2-grams
and character 2-4-grams within words, sublinear counts, C = 10) on the same
texts. All are scored on the set's fixed held-out part. This is how the idf
threshold was checked (README: "Many labels").

Usage: python scripts/bench_many_labels.py [--datasets sentence_polarity,pros_cons,nps_chat,names]
       [--labels 500,2000] [--draws 3]
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import bench_suite as suite
import numpy as np

from tfxfer import config
from tfxfer.features.load import load_features
from tfxfer.fitting import fit_head

logger = logging.getLogger("bench")


def tfidf_accuracy(train_texts, train_labels, test_texts, test_labels) -> float:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    vectorizer = make_union(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True))
    model = make_pipeline(vectorizer, LogisticRegression(C=10, max_iter=2000)).fit(train_texts, train_labels)
    return float(model.score(test_texts, test_labels))


def run(name: str, sizes: list[int], draws: int, work) -> list[str]:
    data = suite.load(name, work)
    module = load_features(work / f"vectors-{name}" / "module")
    items = np.asarray(data.items, dtype=object)
    test_items, test_labels = list(items[data.test]), data.labels[data.test]
    rows = []
    for n in sizes:
        if n > len(data.pool):
            logger.warning("%s: %d labels asked, the pool holds %d; skipped", name, n, len(data.pool))
            continue
        scores = {"counts": [], "idf": [], "TF-IDF": []}
        for draw in range(draws):
            train = np.sort(np.random.default_rng(draw).choice(data.pool, n, replace=False))
            texts, labels = list(items[train]), list(data.labels[train])
            for weights, threshold in (("counts", 10**12), ("idf", 0)):
                config.LEXICAL_IDF_MIN_TEXTS = threshold
                start = time.time()
                fitted = fit_head(module, (texts, labels), seed=1, skip_bad_rows=True)
                predicted = np.array([label for label, _ in fitted.predict(test_items)])
                scores[weights].append(float(np.mean(predicted == test_labels)))
                logger.info("%s n=%d draw %d %s: %.3f (%.0f s)", name, n, draw, weights, scores[weights][-1],
                             time.time() - start)
            scores["TF-IDF"].append(tfidf_accuracy(texts, labels, test_items, test_labels))
        gain = 100 * (np.array(scores["idf"]) - np.array(scores["counts"]))
        rows.append(f"| {name} | {n:,} | {np.mean(scores['counts']):.3f} | {np.mean(scores['idf']):.3f} | "
                    f"{gain.mean():+.2f} ± {gain.std():.2f} | {np.mean(scores['TF-IDF']):.3f} |")
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default=",".join(suite.TEXT_SETS))
    parser.add_argument("--labels", default="500,2000", help="label counts, comma-separated")
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--work", type=Path, default=suite.default_work_dir())
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    rows = []
    for name in args.datasets.split(","):
        rows += run(name, [int(n) for n in args.labels.split(",")], args.draws, args.work)
    print("\n| data set | labels | plain counts | idf weights | gain (points) | TF-IDF + LR |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
