"""Continue training earlier word vectors on new text (`pretrain-text --update DIR`).

As gensim's `build_vocab(update=True)`: every word of the earlier vocabulary
stays, with its count raised by its count in the new text; words new to the
vocabulary join when the new text holds them `min_count` times. Earlier
words start from their trained input and output vectors, new words from the
usual initialisation, and training runs over the new text with earlier lines
mixed in (`tfxfer.text.replay`), so an update costs what the new text costs,
and half as much again.
"""

from __future__ import annotations

import collections
import dataclasses
import json
from pathlib import Path

import numpy as np

from tfxfer.errors import ConfigError, DataError
from tfxfer.text.replay import load_replay
from tfxfer.text.vectors import STATE_FILE, VECTORS_TXT, VOCAB_TSV, WordVectors
from tfxfer.text.vocab import Vocabulary

CONFIG_FILE = "config.json"


@dataclasses.dataclass
class Previous:
    """An earlier `pretrain-text` output.

    Attributes:
        directory: Where it is.
        vocab: Its vocabulary and counts.
        vectors: float32 `[V, dim]` word (input) vectors.
        context: float32 `[V, dim]` output vectors; biases: float32 `[V]`.
        hyperparameters: Its `config.json` hyperparameters.
        replay: int32 ids of its replay sample (its vocabulary), or `None`.
    """

    directory: Path
    vocab: Vocabulary
    vectors: np.ndarray
    context: np.ndarray
    biases: np.ndarray
    hyperparameters: dict
    replay: np.ndarray | None = None

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


def previous_hyperparameters(directory: str | Path) -> dict:
    """The hyperparameters an earlier output was trained with (its `config.json`); `{}` if unreadable."""
    try:
        return json.loads((Path(directory) / CONFIG_FILE).read_text(encoding="utf-8")).get("hyperparameters", {})
    except (OSError, ValueError):
        return {}


def load_previous(directory: str | Path) -> Previous:
    """Read an earlier output for `--update`; `DataError` if it is not one."""
    directory = Path(directory)
    missing = [f for f in (CONFIG_FILE, VOCAB_TSV, VECTORS_TXT, STATE_FILE) if not (directory / f).is_file()]
    if missing and (directory.parent / STATE_FILE).is_file():  # its module/ or projector/, passed by mistake
        raise DataError(f"{str(directory)!r} is the {directory.name}/ folder of the pretrain-text output "
                        f"{str(directory.parent)!r}: pass --update {directory.parent}.")
    if missing:
        hint = (" It was made by a tfxfer older than --update (no state.npz): pretrain on all the text instead."
                if missing == [STATE_FILE] else " Pass the --out directory of an earlier `tfxfer pretrain-text`.")
        raise DataError(f"{str(directory)!r} is not a tfxfer pretrain-text output: {', '.join(missing)} missing.{hint}")
    run = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
    vocab = Vocabulary.load_tsv(directory / VOCAB_TSV, run.get("corpus", {}).get("words"))
    with np.load(directory / STATE_FILE) as state:  # read once: a million words' vectors are 400 MB
        context, biases = state["context"], state["biases"]
        vectors = state["vectors"] if "vectors" in state.files else None
    if vectors is None:  # an output of a tfxfer before stop 45: its vectors are in vectors.txt alone
        text = WordVectors.load(directory)
        vectors = text.vectors if text.words == vocab.words else None
    if vectors is None or not len(vocab) == len(vectors) == len(context) or context.shape != vectors.shape:
        raise DataError(f"{str(directory)!r} is inconsistent (vectors, vocab.tsv and state.npz disagree). "
                        "Pretrain it again.")
    return Previous(directory, vocab, vectors.astype(np.float32), context, biases,
                    run.get("hyperparameters", {}), load_replay(directory, len(vocab)))


def check_dim(previous: Previous, dim: int) -> None:
    if dim != previous.dim:
        raise ConfigError(f"`dim` must be the size of the vectors being updated ({previous.dim}). Received: dim={dim}. "
                          "Drop --dim, or pretrain afresh without --update.")


def merged_vocabulary(previous: Previous, counter: collections.Counter, min_count: int,
                      max_vocab_size: int | None = None) -> Vocabulary:
    """The earlier words with their counts raised, and the new words seen `min_count` times."""
    counts = collections.Counter(dict(zip(previous.vocab.words, previous.vocab.counts.tolist())))
    new = {w: c for w, c in counter.items() if w not in counts and c >= min_count}
    if max_vocab_size is not None:
        room = max(0, max_vocab_size - len(counts))
        new = dict(sorted(new.items(), key=lambda wc: (-wc[1], wc[0]))[:room])
    for word, count in counter.items():
        if word in counts:
            counts[word] += count
    counts.update(new)
    kept = sorted(counts.items(), key=lambda wc: (-wc[1], wc[0]))
    return Vocabulary([w for w, _ in kept], [c for _, c in kept], previous.vocab.total_words + sum(counter.values()))


def replay_ids(previous: Previous, vocab: Vocabulary) -> np.ndarray | None:
    """The earlier output's replay sample with `vocab`'s ids (every earlier word is in it)."""
    if previous.replay is None:
        return None
    remap = np.array([vocab.index[w] for w in previous.vocab.words], np.int32)
    return np.where(previous.replay >= 0, remap[np.maximum(previous.replay, 0)], previous.replay).astype(np.int32)


def initial_weights(previous: Previous, vocab: Vocabulary, rng: np.random.Generator):
    """`(vectors, context, biases)` for `vocab`: earlier rows carried over, new rows initialised as fresh ones."""
    dim = previous.dim
    vectors = rng.uniform(-0.5 / dim, 0.5 / dim, (len(vocab), dim)).astype(np.float32)
    context = np.zeros((len(vocab), dim), np.float32)
    biases = np.zeros(len(vocab), np.float32)
    old = previous.vocab.index
    rows = np.array([vocab.index[w] for w in previous.vocab.words])
    order = np.array([old[w] for w in previous.vocab.words])
    vectors[rows], context[rows], biases[rows] = previous.vectors[order], previous.context[order], previous.biases[order]
    return vectors, context, biases
