"""`WordVectors`: trained word vectors, independent of the trainer that made them."""

from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tfxfer import config
from tfxfer.data.patterns import user_path
from tfxfer.errors import ConfigError, DataError, counted
from tfxfer.layout import is_saved_model
from tfxfer.projector import write_config
from tfxfer.text.vocab import Vocabulary, text_words

logger = logging.getLogger(__name__)

# Vectors formatted as text at once: bounds the Python floats alive while writing.
_FORMAT_BLOCK = 10_000

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

VECTORS_TXT = "vectors.txt"
VECTORS_BIN = "vectors.bin"
VOCAB_TSV = "vocab.tsv"
# The output vectors (NCE weights and biases) a continued training needs, and the word vectors in binary.
STATE_FILE = "state.npz"


class WordVectors:
    """Word vectors with counts: lookup, nearest neighbours, save and load.

    A thin layer over gensim's `KeyedVectors` (available as `.keyed_vectors`),
    so everything gensim does with vectors works on tfxfer's too.

    Args:
        words: The words, most frequent first.
        vectors: float32 `[len(words), dim]`.
        counts: Corpus counts of the words, or `None`.
    """

    def __init__(self, words: list[str], vectors: np.ndarray, counts=None):
        self._words = list(words)
        self._vectors = np.asarray(vectors, np.float32)
        self._index = {w: i for i, w in enumerate(self._words)}
        self.counts = None if counts is None else np.asarray(counts, np.int64)

    @functools.cached_property
    def keyed_vectors(self) -> KeyedVectors:
        """gensim's `KeyedVectors` of these vectors (with their counts), made when first asked for:
        importing gensim (scipy.stats with it) took 0.6 s of every `pretrain-text`, which never asks."""
        from gensim.models import KeyedVectors

        kv = KeyedVectors(vector_size=self.dim)
        kv.add_vectors(self._words, self._vectors)
        if self.counts is not None:
            kv.expandos["count"] = self.counts.copy()
        return kv

    @property
    def words(self) -> list[str]:
        return list(self._words)

    @property
    def vectors(self) -> np.ndarray:
        """float32 `[len(self), dim]`, in the order of `words`."""
        return self._vectors

    @property
    def dim(self) -> int:
        return int(self._vectors.shape[1])

    def __len__(self) -> int:
        return len(self._words)

    def __repr__(self) -> str:
        return f"WordVectors({counted(len(self), 'word')} of {self.dim} dimensions)"

    def __contains__(self, word: str) -> bool:
        return word in self._index

    def __getitem__(self, word: str) -> np.ndarray:
        if word not in self:
            raise KeyError(f"Word {word!r} is not in the vocabulary ({len(self)} words).")
        return self._vectors[self._index[word]]

    def most_similar(self, positive, negative=(), topn: int = 10) -> list[tuple[str, float]]:
        """Nearest words by cosine similarity, as gensim's `most_similar`.

        Args:
            positive: A word or list of words to add.
            negative: Words to subtract (analogies: `positive=["king", "woman"],
                negative=["man"]`). Defaults to none.
            topn: How many neighbours. Defaults to `10`.

        Returns:
            A list of `(word, cosine similarity)`, most similar first.
        """
        positive = [positive] if isinstance(positive, str) else list(positive)
        if not any(w for w in positive):  # gensim: "cannot compute mean with no input"
            raise ConfigError(f"`positive` holds no word. Received: positive={positive!r}. Pass a word, or a "
                              "list of them.")
        missing = [w for w in [*positive, *negative] if w not in self]
        if missing:
            raise DataError(
                f"Not in the vocabulary: {', '.join(map(repr, missing))}. Words are "
                "lowercased tokens seen at least min_count times."
            )
        return self.keyed_vectors.most_similar(positive=positive, negative=list(negative), topn=topn)

    def query_words(self, query: str) -> list[str]:
        """The words of `query` as the text module reads them (`vocab.text_words`)."""
        return text_words(query)

    def _text_rows(self, start: int = 0, stop: int | None = None) -> Iterator[str]:
        """Vectors `start:stop` as text (`%.6g`, space-separated), a block at a time: at once, a
        vocabulary of a million words took 3 GB of Python floats."""
        fmt = " ".join(["%.6g"] * self.dim)
        stop = len(self) if stop is None else min(stop, len(self))
        for first in range(start, stop, _FORMAT_BLOCK):
            yield from (fmt % tuple(row) for row in self.vectors[first : min(first + _FORMAT_BLOCK, stop)].tolist())

    @functools.cached_property
    def _projected_rows(self) -> list[str]:
        """The rows of the projector's words (the most frequent), formatted once for both text outputs."""
        return list(self._text_rows(0, config.PROJECTOR_MAX_POINTS))

    def save(self, directory: str | Path, binary: bool = False) -> None:
        """Write `vectors.txt` (word2vec format), `vocab.tsv`, and `vectors.bin` if `binary`."""
        directory = Path(directory)
        with open(directory / VECTORS_TXT, "w", encoding="utf-8") as f:
            f.write(f"{len(self)} {self.dim}\n")
            rows = itertools.chain(self._projected_rows, self._text_rows(len(self._projected_rows)))
            f.writelines(f"{w} {row}\n" for w, row in zip(self.words, rows))
        if binary:
            self.keyed_vectors.save_word2vec_format(str(directory / VECTORS_BIN), binary=True)
        counts = self.counts if self.counts is not None else np.zeros(len(self), np.int64)
        with open(directory / VOCAB_TSV, "w", encoding="utf-8") as f:
            f.write("word\tcount\n")
            f.writelines(f"{w}\t{c}\n" for w, c in zip(self.words, counts.tolist()))

    @classmethod
    def load(cls, directory: str | Path) -> "WordVectors":
        """Read the output directory of `pretrain_text`, a text module or an export version fitted on
        one (SavedModels: their vocabulary and vectors), or a word-vector file of any tool (GloVe,
        fastText `.vec`, word2vec text or `.bin`: `text.external.read_vectors`, its first
        `config.VECTORS_MAX_WORDS` words, lowercased)."""
        path = Path(user_path(directory))
        if path.is_file() and path.name != VECTORS_TXT:
            from tfxfer.text.external import read_vectors

            words, vectors, _ = read_vectors(path, config.VECTORS_MAX_WORDS)
            return cls(words, vectors)
        if is_saved_model(path):
            return cls._load_saved_model(path)
        if path.is_dir():
            found = cls._load_binary(path)
            if found is not None:
                return found
            path = path / VECTORS_TXT
        if not path.is_file():
            raise DataError(
                f"No word vectors at {str(path)!r}. Pass the --out directory of `tfxfer pretrain-text`, a "
                "text module or an export fitted on one, or a word-vector file (GloVe, fastText .vec, word2vec)."
            )
        from gensim.models import KeyedVectors

        kv = KeyedVectors.load_word2vec_format(str(path), binary=False)
        vocab = path.parent / VOCAB_TSV
        return cls(kv.index_to_key, kv.vectors, Vocabulary.load_tsv(vocab).counts if vocab.is_file() else None)

    @classmethod
    def _load_saved_model(cls, directory: Path) -> WordVectors:
        """The word vectors inside a text module (`module/` of a pretrain-text output, or one made from
        GloVe...) or an export fitted on one: users pass the directory they pass to fit-head or serve."""
        if directory.name == "module" and (directory.parent / VECTORS_TXT).is_file():
            return cls.load(directory.parent)  # the output it is part of: the same vectors, with counts
        import tensorflow as tf

        vocab = directory / "assets" / "vocab.txt"
        reader = tf.train.load_checkpoint(str(directory / "variables" / "variables"))
        words = vocab.read_text(encoding="utf-8").splitlines() if vocab.is_file() else []
        names = [name for name, shape in reader.get_variable_to_shape_map().items()
                 if name.endswith("module/embeddings/.ATTRIBUTES/VARIABLE_VALUE") and shape[:1] == [len(words)]]
        if not words or len(names) != 1:
            raise DataError(f"{str(directory)!r} is a SavedModel without word vectors tfxfer can read (an image "
                            "module, or a text module made by another tool, such as TF-Hub's nnlm). Pass a "
                            "module of `tfxfer pretrain-text` or one made from word vectors, an export fitted on "
                            "one, the --out directory of `tfxfer pretrain-text` or a word-vector file (GloVe, "
                            "fastText .vec, word2vec).")
        return cls(words, reader.get_tensor(names[0]))

    @classmethod
    def _load_binary(cls, directory: Path) -> WordVectors | None:
        """The vectors of `directory/state.npz` with the words of its `vocab.tsv`, or `None` where it has no
        such copy (outputs of a tfxfer before stop 45): exact, and parsing `vectors.txt` took a minute for a
        million words."""
        state, vocab = directory / STATE_FILE, directory / VOCAB_TSV
        if not (state.is_file() and vocab.is_file() and (directory / VECTORS_TXT).is_file()):
            return None
        with np.load(state) as saved:
            if "vectors" not in saved.files:
                return None
            vectors = saved["vectors"]
        words = Vocabulary.load_tsv(vocab)
        return cls(words.words, vectors, words.counts) if len(words) == len(vectors) else None

    def save_projector(self, directory: str | Path) -> None:
        """Write a TensorBoard Embedding Projector folder (`tfxfer.projector`) of the vectors of the most
        frequent `config.PROJECTOR_MAX_POINTS` words, all the projector reads."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory / "vectors.tsv", "w", encoding="utf-8") as f:
            f.writelines(row.replace(" ", "\t") + "\n" for row in self._projected_rows)
        with open(directory / "metadata.tsv", "w", encoding="utf-8") as f:
            f.writelines(word + "\n" for word in self._words[: len(self._projected_rows)])
        if len(self) > len(self._projected_rows):
            logger.info("The projector folder holds the %s most frequent of the %s words, as many as TensorBoard's "
                        "projector reads.", f"{len(self._projected_rows):,}", f"{len(self):,}")
        write_config(directory, "word_vectors")
