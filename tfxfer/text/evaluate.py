"""Standard word-embedding benchmarks, through gensim's evaluation functions."""

from __future__ import annotations

import logging

from gensim.test.utils import datapath

from tfxfer.text.vectors import WordVectors

logger = logging.getLogger(__name__)

ANALOGIES = "questions-words.txt"
WORD_PAIRS = ("wordsim353.tsv", "simlex999.txt")


def evaluate_embeddings(vectors: WordVectors) -> dict:
    """Analogy accuracy and word-similarity Spearman correlations.

    Args:
        vectors: The `WordVectors` to evaluate.

    Returns:
        A dict: `analogy_accuracy` (on gensim's `questions-words.txt`, questions
        with out-of-vocabulary words skipped, as gensim does), `analogy_questions`
        (how many were answerable), and for each of `wordsim353`, `simlex999` a
        dict with `spearman` (`None` when fewer than two pairs are in the
        vocabulary) and `oov_ratio` (percent of pairs skipped).
    """
    kv = vectors.keyed_vectors
    accuracy, sections = kv.evaluate_word_analogies(datapath(ANALOGIES))
    total = next((s for s in sections if s["section"] == "Total accuracy"), None)
    answered = len(total["correct"]) + len(total["incorrect"]) if total else 0
    result = {"analogy_accuracy": float(accuracy), "analogy_questions": answered}
    for name in WORD_PAIRS:
        try:
            _, spearman, oov = kv.evaluate_word_pairs(datapath(name))
            scores = {"spearman": float(spearman.statistic), "oov_ratio": float(oov)}
        except ValueError:  # fewer than two pairs in the vocabulary
            scores = {"spearman": None, "oov_ratio": 100.0}
        result[name.split(".")[0]] = scores
    return result
