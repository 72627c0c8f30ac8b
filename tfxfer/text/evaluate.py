"""Standard word-embedding benchmarks, through gensim's evaluation functions."""

from __future__ import annotations

import logging

from gensim.test.utils import datapath

from tfxfer.text.vectors import WordVectors

logger = logging.getLogger(__name__)

ANALOGIES = "questions-words.txt"
WORD_PAIRS = ("wordsim353.tsv", "simlex999.txt")
# Below these, a figure says more about which few items happen to be known
# than about the vectors: none is given.
MIN_ANALOGY_QUESTIONS = 100
MIN_PAIRS_COVERED = 0.2


def evaluate_embeddings(vectors: WordVectors) -> dict:
    """Analogy accuracy and word-similarity Spearman correlations.

    Args:
        vectors: The `WordVectors` to evaluate.

    Returns:
        A dict: `analogy_accuracy` (on gensim's `questions-words.txt`, questions
        with out-of-vocabulary words skipped, as gensim does), `analogy_questions`
        (how many were answerable; `None` accuracy below
        `MIN_ANALOGY_QUESTIONS`), and for each of `wordsim353`, `simlex999` a
        dict with `spearman` (`None` when under `MIN_PAIRS_COVERED` of the
        pairs are in the vocabulary) and `oov_ratio` (percent of pairs skipped).
    """
    kv = vectors.keyed_vectors
    accuracy, sections = kv.evaluate_word_analogies(datapath(ANALOGIES))
    total = next((s for s in sections if s["section"] == "Total accuracy"), None)
    answered = len(total["correct"]) + len(total["incorrect"]) if total else 0
    result = {"analogy_accuracy": float(accuracy) if answered >= MIN_ANALOGY_QUESTIONS else None,
              "analogy_questions": answered}
    for name in WORD_PAIRS:
        try:
            _, spearman, oov = kv.evaluate_word_pairs(datapath(name))
            covered = oov <= 100 * (1 - MIN_PAIRS_COVERED)
            scores = {"spearman": float(spearman.statistic) if covered else None, "oov_ratio": float(oov)}
        except ValueError:  # fewer than two pairs in the vocabulary
            scores = {"spearman": None, "oov_ratio": 100.0}
        result[name.split(".")[0]] = scores
    return result
