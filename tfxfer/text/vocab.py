"""Vocabulary: word counts, pruning, subsampling and the NCE noise distribution."""

from __future__ import annotations

import collections
import logging
import unicodedata
from pathlib import Path

import numpy as np
import regex

from tfxfer import config
from tfxfer.errors import DataError, counted

logger = logging.getLogger(__name__)


# nltk's WordPunctTokenizer: its pattern and flags, compiled by the `regex` engine as nltk compiles
# it (whose \w is Unicode's: "x²" is two words; `re` keeps it one). A test holds them equal.
# Importing the tokenizer imports all of nltk, with scikit-learn: `tfxfer similar` took 2.5 s, now 1.7.
_WORD_PUNCT = regex.compile(r"\w+|[^\w\s]+", regex.UNICODE | regex.MULTILINE | regex.DOTALL)


def text_words(text: str) -> list[str]:
    """The words of `text` as the text module reads them, without TensorFlow: lowercased, NFC, split
    into runs of word characters and of punctuation (`tokenize.TOKENIZER_SPEC`'s nltk equivalent,
    `WordPunctTokenizer`). `"Ice cream"` gives `["ice", "cream"]`, `"Don't"` `["don", "'", "t"]`."""
    return _WORD_PUNCT.findall(unicodedata.normalize("NFC", text.lower()))


class Vocabulary:
    """Words sorted by decreasing count, with their counts.

    Args:
        words: The words, most frequent first.
        counts: Their corpus counts, int64 `[len(words)]`.
        total_words: Tokens in the corpus, in or out of the vocabulary.
    """

    def __init__(self, words: list[str], counts, total_words: int):
        self.words = list(words)
        self.counts = np.asarray(counts, dtype=np.int64)
        self.total_words = int(total_words)
        self.index = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    @classmethod
    def from_counter(
        cls,
        counter: collections.Counter,
        min_count: int,
        max_vocab_size: int | None = None,
    ) -> "Vocabulary":
        """Keep the words seen at least `min_count` times, at most `max_vocab_size`.

        Ties are broken alphabetically so the vocabulary is deterministic.
        """
        total = sum(counter.values())
        kept = sorted(
            ((w, c) for w, c in counter.items() if c >= min_count),
            key=lambda wc: (-wc[1], wc[0]),
        )
        if max_vocab_size is not None:
            kept = kept[:max_vocab_size]
        if len(kept) < 2:
            default = sum(c >= config.PretrainConfig.min_count for c in counter.values())
            hint = (f" (--min-count {config.PretrainConfig.min_count} keeps {default:,})"
                    if min_count > config.PretrainConfig.min_count and default >= 2 else "")
            raise DataError(
                f"The corpus ({total:,} tokens, {len(counter):,} distinct) leaves "
                f"{counted(len(kept), 'word')} seen at least min_count={min_count:,} times. Use a "
                f"larger corpus or lower --min-count{hint}."
            )
        return cls([w for w, _ in kept], [c for _, c in kept], total)

    def keep_probabilities(self, sample: float) -> np.ndarray:
        """Probability of keeping each occurrence of each word (word2vec's formula).

        Args:
            sample: Subsampling threshold; `0` keeps every word.

        Returns:
            float32 `[len(self)]` in (0, 1].
        """
        if not sample:
            return np.ones(len(self), np.float32)
        threshold = sample * self.counts.sum()
        prob = (np.sqrt(self.counts / threshold) + 1) * threshold / self.counts
        return np.minimum(prob, 1.0).astype(np.float32)

    def noise_distribution(self, power: float = 0.75) -> np.ndarray:
        """The unigram^power noise distribution of NCE, float64 `[len(self)]`."""
        p = self.counts.astype(np.float64) ** power
        return p / p.sum()

    def save_tsv(self, path: str | Path) -> None:
        """Write `word<TAB>count` lines with a header, most frequent first."""
        with open(path, "w", encoding="utf-8") as f:
            f.write("word\tcount\n")
            for w, c in zip(self.words, self.counts):
                f.write(f"{w}\t{c}\n")

    @classmethod
    def load_tsv(cls, path: str | Path, total_words: int | None = None) -> "Vocabulary":
        """Read a file written by `save_tsv`."""
        words, counts = [], []
        with open(path, encoding="utf-8") as f:
            next(f)
            for line in f:
                w, c = line.rstrip("\n").rsplit("\t", 1)
                words.append(w)
                counts.append(int(c))
        return cls(words, counts, total_words if total_words is not None else sum(counts))
