"""Reading a corpus for `pretrain_text`, once: count its words, build the vocabulary, encode it.

What it writes into the run's work directory (`vocab.tsv`, `corpus.ids`,
`corpus_counts.npy`, `stats.json`, `settings.json`) is what `--resume` reads
back instead of reading the corpus again.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tfxfer import config
from tfxfer.data.text import TextCorpus
from tfxfer.errors import ConfigError, DataError, listed
from tfxfer.text.encode import encode_corpus
from tfxfer.text.replay import mix_in
from tfxfer.text.skipgram import SENTENCE_END
from tfxfer.text.tokenize import unspaced_script
from tfxfer.text.update import Previous, merged_vocabulary, replay_ids
from tfxfer.text.vocab import Vocabulary

logger = logging.getLogger(__name__)

# Called with a dict per progress event (`pretrain_text`'s `progress`).
Progress = Callable[[dict], None]


def read_or_resume(corpus: TextCorpus, cfg: config.PretrainConfig, out: Path, work: Path, settings: dict,
                   resume: bool, previous: Previous | None, progress: Progress | None) -> tuple[Vocabulary, dict]:
    """The vocabulary and corpus statistics of the run into `out`: an interrupted run's from its `work`
    directory (`resume`, whose `settings` must match), or read afresh from `corpus` into `work`."""
    if resume:
        if not (work / "checkpoint.npz").is_file():
            raise DataError(f"Nothing to resume for {str(out)!r}: no checkpoint in {str(work)!r}. Run without --resume.")
        saved = json.loads((work / "settings.json").read_text())
        changed = {k: (saved.get(k), v) for k, v in settings.items() if saved.get(k) != v and k != "epochs"}
        if changed:
            raise ConfigError(
                f"--resume needs the settings of the interrupted run; these differ: {changed}. "
                "Use the same settings, or start afresh without --resume."
            )
        return Vocabulary.load_tsv(work / "vocab.tsv"), json.loads((work / "stats.json").read_text())
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        t_read = time.time()
        vocab, stats = _read(corpus, cfg, work, progress, previous)
        stats["read_seconds"] = round(time.time() - t_read, 2)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    (work / "settings.json").write_text(json.dumps(settings, indent=2))
    if previous is None and stats["words"] < config.SMALL_CORPUS_WORDS:  # an update builds on more text
        logger.warning(
            "The corpus holds %s words: too little for word vectors to help a head. On our benchmarks, "
            "vectors from fewer than %s words added nothing over the words of the labels themselves; from "
            "300,000 words they added 2 - 8 points. Add more text like your data (posts, reviews or articles "
            "of its kind), or use public vectors: fit-head --features glove.6B.100d.txt.",
            f"{stats['words']:,}", f"{config.SMALL_CORPUS_WORDS:,}")
    return vocab, stats


def _read(corpus: TextCorpus, cfg, work: Path, progress: Progress | None,
          previous: Previous | None = None) -> tuple[Vocabulary, dict]:
    """Read the corpus once: count, build the vocabulary (merged with `previous`'s), encode into `work`."""
    done = [0]

    def tick(n):
        done[0] += n
        if progress:
            progress({"phase": "read", "words": done[0]})

    def make_vocab(counter, dropped) -> Vocabulary:
        total = sum(counter.values())
        if corpus.invalid_lines > 0.5 * max(corpus.lines_read, 1):
            raise DataError(
                f"The corpus is mostly not UTF-8 text: {corpus.invalid_lines:,} of {corpus.lines_read:,} lines are "
                "not valid UTF-8. Convert it (e.g. iconv -f latin1 -t utf-8) or pass text files."
            )
        if total == 0:
            raise DataError(
                f"The corpus ({listed(corpus.sources, 'file')}) holds no words. Pass non-empty UTF-8 text files "
                "(one sentence or paragraph per line)."
            )
        unspaced = unspaced_script(counter, dropped=dropped)
        if unspaced:
            logger.warning(
                "%.0f%% of the corpus's tokens are %s, written without spaces between words: the tokenizer splits "
                "on spaces and punctuation, so whole clauses become 'words' that seldom repeat. Segment the text "
                "into words first (e.g. jieba for Chinese, fugashi for Japanese, PyThaiNLP for Thai), joined by "
                "spaces, and segment the texts given to the module the same way.", 100 * unspaced[1], unspaced[0])
        if previous is not None:
            vocab = merged_vocabulary(previous, counter, cfg.min_count, cfg.max_vocab_size)
        else:
            vocab = Vocabulary.from_counter(counter, cfg.min_count, cfg.max_vocab_size)
        if cfg.negatives >= len(vocab):
            raise ConfigError(
                f"`negatives` must be smaller than the vocabulary ({len(vocab)} words). "
                f"Received: negatives={cfg.negatives}. Lower --negatives or --min-count, or use a larger corpus."
            )
        return vocab

    encoded = encode_corpus(corpus, work / "corpus.ids", make_vocab, tick)
    vocab = encoded.vocab
    stats = {
        "sources": corpus.sources,
        "lines": encoded.lines,
        "words": encoded.words,
        "invalid_utf8_lines": corpus.invalid_lines,
        "skipped_files": corpus.skipped_files,
        "vocab_size": len(vocab),
        "in_vocab_words": encoded.kept - encoded.lines,
    }
    counts = encoded.counts
    if previous is not None:
        stats["new_words"] = len(vocab) - len(previous.vocab)
        replay = replay_ids(previous, vocab)
        if replay is not None:  # without one, `load_replay` said why
            added = mix_in(work / "corpus.ids", encoded.lines, replay, int(config.UPDATE_REPLAY * encoded.kept),
                           cfg.seed)
            counts = counts + np.bincount(added[added >= 0], minlength=len(vocab))
            stats["replayed_lines"] = int(np.count_nonzero(added == SENTENCE_END))
            stats["replayed_words"] = len(added) - stats["replayed_lines"]
    vocab.save_tsv(work / "vocab.tsv")
    np.save(work / "corpus_counts.npy", counts)
    (work / "stats.json").write_text(json.dumps(stats, indent=2))
    return vocab, stats
