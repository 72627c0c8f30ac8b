"""A sample of the text word vectors were trained on, for their updates to rehearse.

Vectors updated on new text alone drift from what the earlier text taught
them: on halves of the pretraining benchmark, analogies stayed 2.5 points
below vectors trained on all the text at once (gensim's own update: 4.1).
Mixing earlier lines into the new text (rehearsal, as continual learning
calls it) keeps them: 0.6 points below. So every `pretrain-text` output
keeps `replay.ids`: a random sample of whole lines of its training text,
encoded with its vocabulary, at most `config.REPLAY_MAX_TOKENS` ids. An
update mixes `config.UPDATE_REPLAY` times as many of them as the new text
holds into it, at random positions;
its own sample is drawn from all it trained on, replayed lines included, so
the earliest text's share shrinks with each update.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from tfxfer import config
from tfxfer.text.encode import read_chunks
from tfxfer.text.skipgram import SENTENCE_END

logger = logging.getLogger(__name__)

REPLAY_FILE = "replay.ids"


def _lines(ids: np.ndarray) -> list[np.ndarray]:
    """Split ids into lines, each ending with its `SENTENCE_END`."""
    ends = np.flatnonzero(ids == SENTENCE_END)
    return np.split(ids, ends + 1)[:-1] if len(ends) else []


def sample_lines(corpus: str | Path, max_tokens: int = config.REPLAY_MAX_TOKENS, seed: int = 1) -> np.ndarray:
    """A uniform random sample of the encoded corpus's lines, about `max_tokens` ids at most.

    Args:
        corpus: An encoded corpus (`tfxfer.text.encode`).
        max_tokens: Ids to keep, sentence ends included: all lines when the
            corpus is smaller. Defaults to `config.REPLAY_MAX_TOKENS`.
        seed: Seed of the sample.

    Returns:
        int32 ids, `SENTENCE_END` after each line, in corpus order.
    """
    size = Path(corpus).stat().st_size // 4
    share = min(1.0, max_tokens / max(size, 1))
    rng = np.random.default_rng([seed, 7])
    kept = []
    for chunk in read_chunks(corpus):
        is_end = chunk == SENTENCE_END
        chosen = rng.random(int(is_end.sum()) + 1) < share
        # An id's line is the number of line ends before it (its own end included in its line).
        kept.append(chunk[chosen[np.cumsum(is_end) - is_end]])
    return np.concatenate(kept) if kept else np.zeros(0, np.int32)


def mix_in(corpus: str | Path, lines: int, replay: np.ndarray, ids: int, seed: int = 1) -> np.ndarray:
    """Insert about `ids` ids of whole `replay` lines at random line positions of `corpus`.

    The corpus keeps its order; the replayed lines, drawn at random, are
    spread evenly over it. The file is rewritten in place.

    Args:
        corpus: The encoded new text, rewritten.
        lines: Its lines (`Encoded.lines`), to spread the replayed ones evenly.
        replay: Encoded earlier lines, with the corpus's vocabulary ids.
        ids: How many ids to add (whole lines; all of `replay` at most).
        seed: Seed of the draw and the positions.

    Returns:
        The ids added (int32, `SENTENCE_END` after each line).
    """
    rng = np.random.default_rng([seed, 8])
    earlier = _lines(replay)
    order = rng.permutation(len(earlier))
    lengths = np.array([len(earlier[i]) for i in order], np.int64)
    chosen = [earlier[i] for i in order[: int(np.searchsorted(np.cumsum(lengths), ids)) + 1]] if ids > 0 else []
    corpus = Path(corpus)
    total_lines = max(lines, 1)
    mixed = corpus.with_name(corpus.name + ".mixed")
    done_lines = used = 0
    with open(mixed, "wb") as f:
        for chunk in read_chunks(corpus):
            new = _lines(chunk)
            done_lines += len(new)
            upto = round(len(chosen) * done_lines / total_lines)
            extra, used = chosen[used:upto], upto
            slots = np.zeros(len(new) + len(extra), bool)
            slots[rng.choice(len(slots), len(extra), replace=False)] = True
            old_lines, new_lines = iter(extra), iter(new)
            parts = [next(old_lines) if slot else next(new_lines) for slot in slots]
            if parts:
                np.concatenate(parts).astype(np.int32).tofile(f)
    mixed.replace(corpus)
    return np.concatenate(chosen).astype(np.int32) if chosen else np.zeros(0, np.int32)


def load_replay(directory: str | Path, vocab_size: int) -> np.ndarray | None:
    """An earlier output's replay sample; `None`, with a warning, if it has none or a damaged one."""
    path = Path(directory) / REPLAY_FILE
    if not path.is_file():
        logger.warning("%s keeps no sample of its text (made by an older tfxfer): the update trains on the "
                       "new text alone, and the earlier text's analogies may fade.", directory)
        return None
    ids = np.fromfile(path, np.int32)
    if (path.stat().st_size % 4 or not len(ids) or ids.max() >= vocab_size or ids.min() < SENTENCE_END
            or ids[-1] != SENTENCE_END):
        logger.warning("%s is damaged or does not match its vocabulary; the update trains on the new text alone.",
                       path)
        return None
    return ids
