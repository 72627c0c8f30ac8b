"""Benchmark: fit-head on hundreds to thousands of labels, one lexical setting off and on.

For each data set of the suite (`bench_suite.py`) and each label count, `--draws`
random draws of that many pool examples (the pool's class mix); on each draw
`fit_head` (the whole search, default settings) is run twice, with a setting of
the lexical columns off and on, and TF-IDF + logistic regression (word 1-2-grams
and character 2-4-grams within words, sublinear counts, C = 10) on the same
texts. All are scored on the set's fixed held-out part. `--compare idf`: plain
counts against idf weights (`config.LEXICAL_IDF_MIN_TEXTS` out of reach and 0);
`--compare bigrams`: idf weights without and with word pairs
(`config.LEXICAL_BIGRAM_MIN_TEXTS`); `--compare blocks`: one block of counts
against words and character n-grams scaled apart with damped counts
(`config.LEXICAL_BLOCKS_MIN_TEXTS`; the other settings as the label count
gives them); `--compare cap`: `config.LEXICAL_MAX_COLUMNS` at 20,000 and
40,000. This is how those settings were checked (README: "Many labels").

Usage: python scripts/bench_many_labels.py [--datasets sentence_polarity,pros_cons,nps_chat,names]
       [--labels 500,2000] [--draws 3] [--compare idf|bigrams|blocks|cap]
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

NEVER = 10**12
# Each comparison: its table's column names, and the config values of its "off" and "on" runs.
COMPARISONS = {
    "idf": (("plain counts", "idf weights"),
            ({"LEXICAL_IDF_MIN_TEXTS": NEVER}, {"LEXICAL_IDF_MIN_TEXTS": 0})),
    "bigrams": (("idf, words", "idf, words + word pairs"),
                ({"LEXICAL_IDF_MIN_TEXTS": 0, "LEXICAL_BIGRAM_MIN_TEXTS": NEVER},
                 {"LEXICAL_IDF_MIN_TEXTS": 0, "LEXICAL_BIGRAM_MIN_TEXTS": 0})),
    "blocks": (("one block", "two blocks"),
               ({"LEXICAL_BLOCKS_MIN_TEXTS": NEVER}, {"LEXICAL_BLOCKS_MIN_TEXTS": 0})),
    "cap": (("20,000 columns", "40,000 columns"), ({"LEXICAL_MAX_COLUMNS": 20_000}, {"LEXICAL_MAX_COLUMNS": 40_000})),
}


def tfidf_accuracy(train_texts, train_labels, test_texts, test_labels) -> float:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    vectorizer = make_union(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True))
    model = make_pipeline(vectorizer, LogisticRegression(C=10, max_iter=2000)).fit(train_texts, train_labels)
    return float(model.score(test_texts, test_labels))


def run(name: str, sizes: list[int], draws: int, work, compare: str) -> list[str]:
    data = suite.load(name, work)
    module = load_features(work / f"vectors-{name}" / "module")
    items = np.asarray(data.items, dtype=object)
    test_items, test_labels = list(items[data.test]), data.labels[data.test]
    rows = []
    for n in sizes:
        if n > len(data.pool):
            logger.warning("%s: %d labels asked, the pool holds %d; skipped", name, n, len(data.pool))
            continue
        scores = {"off": [], "on": [], "TF-IDF": []}
        for draw in range(draws):
            train = np.sort(np.random.default_rng(draw).choice(data.pool, n, replace=False))
            texts, labels = list(items[train]), list(data.labels[train])
            for setting, values in zip(("off", "on"), COMPARISONS[compare][1]):
                for key, value in values.items():
                    setattr(config, key, value)
                start = time.time()
                fitted = fit_head(module, (texts, labels), seed=1, skip_bad_rows=True)
                predicted = np.array([label for label, _ in fitted.predict(test_items)])
                scores[setting].append(float(np.mean(predicted == test_labels)))
                logger.info("%s n=%d draw %d %s %s: %.3f (%.0f s)", name, n, draw, compare, setting,
                            scores[setting][-1], time.time() - start)
            scores["TF-IDF"].append(tfidf_accuracy(texts, labels, test_items, test_labels))
        gain = 100 * (np.array(scores["on"]) - np.array(scores["off"]))
        rows.append(f"| {name} | {n:,} | {np.mean(scores['off']):.3f} | {np.mean(scores['on']):.3f} | "
                    f"{gain.mean():+.2f} ± {gain.std():.2f} | {np.mean(scores['TF-IDF']):.3f} |")
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default=",".join(suite.TEXT_SETS))
    parser.add_argument("--labels", default="500,2000", help="label counts, comma-separated")
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--compare", choices=sorted(COMPARISONS), default="idf")
    parser.add_argument("--work", type=Path, default=suite.default_work_dir())
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    rows = []
    for name in args.datasets.split(","):
        rows += run(name, [int(n) for n in args.labels.split(",")], args.draws, args.work, args.compare)
    off, on = COMPARISONS[args.compare][0]
    print(f"\n| data set | labels | {off} | {on} | gain (points) | TF-IDF + LR |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
