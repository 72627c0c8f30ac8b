"""`pretrain_text`: skip-gram word vectors from unlabeled text, saved as a feature module.

Work in progress lives in `.<out>.partial/` beside the output (vocabulary, the
encoded corpus, checkpoints); the output directory appears, complete, only when
training ends. An interrupted run resumes from its last checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import platform
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfxfer import __version__, config
from tfxfer.atomic import (
    atomic_dir,
    check_writable,
    disk_full,
    disk_full_error,
    new_dirs_removed_on_failure,
    output_path,
)
from tfxfer.data.patterns import user_path
from tfxfer.data.text import TextCorpus
from tfxfer.errors import (
    ConfigError,
    DataError,
    DiskFullError,
    TrainingInterrupted,
    check_positive_int,
)
from tfxfer.keras_backend import keras
from tfxfer.text.encode import shuffled_chunks
from tfxfer.text.model import SkipGramNCE
from tfxfer.text.module import save_text_module, sif_weights
from tfxfer.text.prepare import Progress, read_or_resume
from tfxfer.text.replay import REPLAY_FILE, sample_lines
from tfxfer.text.skipgram import token_runs
from tfxfer.text.tokenize import TOKENIZER_SPEC
from tfxfer.text.trainer import load_checkpoint, run_epoch, save_checkpoint
from tfxfer.text.update import Previous, check_dim, initial_weights, load_previous
from tfxfer.text.vectors import STATE_FILE, WordVectors
from tfxfer.text.vocab import Vocabulary

logger = logging.getLogger(__name__)
# Files an earlier output holds: a folder with other files and none of these is not replaced by --overwrite.
OUTPUT_MARKS = ("vocab.tsv", "vectors.txt", STATE_FILE)

# SGD steps per batch (in one compiled loop): amortises the per-call overhead.
SUB_STEPS = 8


def validate_config(cfg: config.PretrainConfig) -> None:
    """Raise `ConfigError` naming the first invalid hyperparameter."""
    for name in ("dim", "window", "negatives", "batch_size", "noise_group", "min_count"):
        check_positive_int(name, getattr(cfg, name))
    if cfg.epochs is not None:
        check_positive_int("epochs", cfg.epochs)
    if cfg.batch_size % cfg.noise_group:
        group = cfg.noise_group
        raise ConfigError(
            f"`batch_size` must be a multiple of `noise_group` ({group}). "
            f"Received: batch_size={cfg.batch_size}. Try {max(1, round(cfg.batch_size / group)) * group}."
        )
    if cfg.max_vocab_size is not None:
        check_positive_int("max_vocab_size", cfg.max_vocab_size)
    if not (cfg.learning_rate > 0 and math.isfinite(cfg.learning_rate)):
        raise ConfigError(
            f"`learning_rate` must be a positive number. Received: learning_rate={cfg.learning_rate}."
        )
    if cfg.pooling not in config.POOLINGS:
        raise ConfigError(f"`pooling` must be one of {config.POOLINGS}. Received: pooling={cfg.pooling!r}.")
    if not 0 <= cfg.sample < 1:
        raise ConfigError(
            f"`sample` must be in [0, 1) (0 disables subsampling; word2vec uses 1e-3 to 1e-5). "
            f"Received: sample={cfg.sample}."
        )


def _partial_dir(out: Path) -> Path:
    return out.parent / f".{out.name}.partial"


def _runs(work: Path, vocab: Vocabulary, cfg, epoch: int, counter: list[int], sub_steps: int):
    """Yield one epoch's `(words, sentences, reach)` runs, its lines in a random order; count raw words in
    `counter`."""
    rng = np.random.default_rng([cfg.seed, epoch])
    keep = vocab.keep_probabilities(cfg.sample)
    chunks = shuffled_chunks(work / "corpus.ids", np.random.default_rng([cfg.seed, epoch, 1]))
    yield from token_runs(chunks, keep, cfg.window, cfg.batch_size * sub_steps, rng, counter)


def _too_small(tokens_per_epoch: float, needed: int) -> DataError:
    return DataError(
        f"The corpus is too small to train on: about {tokens_per_epoch:.0f} words per epoch remain after "
        f"--min-count and --sample, and one batch needs {needed}. Add text, or lower --min-count, "
        "--sample or --noise-group."
    )


def _expected_tokens(vocab: Vocabulary, corpus_counts: np.ndarray, cfg) -> float:
    """Tokens of this corpus kept by subsampling in one epoch: the centre words trained on.

    `corpus_counts` count what is trained on: the corpus, and in an update
    the earlier lines replayed with it. An update's vocabulary counts all of
    the earlier text as well; sized from those counts, the learning-rate
    schedule ran 2 - 3.5x too long and the rate never decayed.
    """
    return float((corpus_counts * vocab.keep_probabilities(cfg.sample)).sum())


def auto_epochs(steps_per_epoch: int) -> int:
    """Epochs when none are asked: `config.MIN_EPOCHS`, or enough for `config.MIN_TOTAL_STEPS` steps."""
    wanted = math.ceil(config.MIN_TOTAL_STEPS / max(steps_per_epoch, 1))
    return int(min(max(config.MIN_EPOCHS, wanted), config.MAX_AUTO_EPOCHS))


def effective_batch_size(tokens_per_epoch: float, cfg) -> int:
    """`cfg.batch_size`, lowered for small corpora to give each epoch enough steps.

    The loss is summed over a batch, so a word seen many times in one batch
    takes all those updates at once. On a large corpus that is harmless; on a
    small one (a few thousand sentences, a hundred words) each word fills a
    big share of a 2,048-word batch and the vectors collapse. Keeping at
    least `config.MIN_STEPS_PER_EPOCH` steps per epoch avoids it.
    """
    cap = int(tokens_per_epoch // config.MIN_STEPS_PER_EPOCH) // cfg.noise_group * cfg.noise_group
    return max(cfg.noise_group, min(cfg.batch_size, cap))


def pretrain_text(
    corpus: str | Path | Iterable[str | Path] | TextCorpus,
    out: str | Path,
    cfg: config.PretrainConfig = config.PRETRAIN,
    *,
    overwrite: bool = False,
    resume: bool = False,
    binary: bool = False,
    tensorboard_dir: str | Path | None = None,
    update: str | Path | None = None,
    progress: Progress | None = None,
) -> WordVectors:
    """Learn skip-gram word vectors with NCE loss and save them as a text feature module.

    Args:
        corpus: Text files, `.gz` files, directories, `nltk:NAME` corpora, or a
            `TextCorpus`.
        out: Output directory (see the README for its contents). Written atomically.
        cfg: Hyperparameters. Defaults to `config.PRETRAIN`.
        overwrite: Replace an existing `out`. Defaults to `False`.
        resume: Continue an interrupted run from its checkpoint. Defaults to `False`.
        binary: Also write `vectors.bin` (binary word2vec). Defaults to `False`.
        tensorboard_dir: Write TensorBoard training logs there. Defaults to none.
        update: An earlier output to continue from (`tfxfer.text.update`):
            its words keep their vectors and keep training on `corpus`, new
            words join; `out` is a complete new output. `cfg.dim` must be its
            size. Defaults to none.
        progress: Called with a dict (`phase`, `words`, and while training
            `epoch`, `total`, `words_per_sec`, `loss`). Defaults to none.

    Returns:
        The trained `WordVectors`.
    """
    out, update = output_path(out, "out"), user_path(update)
    if tensorboard_dir is not None:
        tensorboard_dir = output_path(tensorboard_dir, "tensorboard_dir", "--tensorboard")
    with new_dirs_removed_on_failure(out):  # those a kept checkpoint is in are not empty
        try:
            return _pretrain_text(corpus, out, cfg, overwrite, resume, binary, tensorboard_dir, update, progress)
        except BaseException as e:
            if not disk_full(e):
                raise
            raise _disk_full_error(Path(out)) from None


def _interrupted(when: str, work: Path) -> TrainingInterrupted:
    return TrainingInterrupted(f"Interrupted {when}; a checkpoint is in {str(work)!r}. "
                               "Run the same command with --resume to continue.")


def _disk_full_error(out: Path) -> DiskFullError:
    """A full disk: the run's work is removed, giving its space back, unless it holds a checkpoint to resume."""
    work = _partial_dir(out)
    if (work / "checkpoint.npz").is_file():
        return DiskFullError(f"The disk holding {str(out)!r} is full. The run's checkpoint in {str(work)!r} is kept: "
                             "free some space, and run the same command with --resume to continue.")
    shutil.rmtree(work, ignore_errors=True)
    return disk_full_error(out)


@dataclasses.dataclass(frozen=True)
class _Plan:
    """How a run trains, fitted to its corpus: `cfg` with the batch size and epochs it runs."""

    cfg: config.PretrainConfig
    requested_batch: int
    asked_epochs: int | None
    tokens_per_epoch: float
    steps_per_epoch: int
    sub_steps: int
    start_rate: float

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.cfg.epochs


def _pretrain_text(corpus, out, cfg, overwrite, resume, binary, tensorboard_dir, update, progress) -> WordVectors:
    """`pretrain_text`, whose full disk its caller reports."""
    validate_config(cfg)
    if tf.config.functions_run_eagerly():  # a notebook's debugging setting, left on
        logger.warning("tf.config.run_functions_eagerly(True) is set: pretraining runs its steps one op at a "
                       "time, about 6x slower. Call tf.config.run_functions_eagerly(False) first.")
    previous = None
    if update is not None:
        previous = load_previous(update)
        check_dim(previous, cfg.dim)
    if tensorboard_dir:
        try:
            import tensorboard  # noqa: F401
        except ImportError:
            raise ConfigError("--tensorboard needs the tensorboard package: pip install tensorboard.") from None
    check_writable(out, overwrite, marks=OUTPUT_MARKS)
    if not isinstance(corpus, TextCorpus):
        corpus = TextCorpus([corpus] if isinstance(corpus, (str, Path)) else corpus)
    work = _partial_dir(out)
    # Resolved, so that `--resume` with ./corpus.txt for corpus.txt is the same run.
    sources = [s if s.startswith("nltk:") else str(Path(s).resolve()) for s in corpus.sources]
    settings = {**dataclasses.asdict(cfg), "sources": sources,
                "update": str(Path(update).resolve()) if update is not None else None}
    vocab, stats = read_or_resume(corpus, cfg, out, work, settings, resume, previous, progress)
    plan = _plan(vocab, cfg, work, previous)
    model = _model(vocab, plan, previous if not resume else None)
    first_epoch = load_checkpoint(work, model) if resume else 0
    words_per_epoch = (stats["in_vocab_words"] + stats["lines"]
                       + stats.get("replayed_words", 0) + stats.get("replayed_lines", 0))
    loss, steps_run, seconds = _train(model, work, vocab, plan, first_epoch, words_per_epoch, progress,
                                      tensorboard_dir)
    vectors = WordVectors(vocab.words, model.word_vectors.numpy(), vocab.counts)
    cfg = plan.cfg
    trained_words = words_per_epoch * (cfg.epochs - first_epoch)
    run = {
        "tfxfer_version": __version__,
        "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
        "python_version": platform.python_version(),
        # As asked, so that an --update inherits "auto" rather than this corpus's count.
        "hyperparameters": {**dataclasses.asdict(cfg), "batch_size": plan.requested_batch,
                            "epochs": plan.asked_epochs},
        "tokenizer": TOKENIZER_SPEC,
        "corpus": stats,
        "training": {
            "batch_size": cfg.batch_size,
            "epochs": cfg.epochs,
            "learning_rate": plan.start_rate,
            "seconds": round(seconds, 2),
            "words_per_second": round(trained_words / max(seconds, 1e-9)),
            "final_loss": float(loss) if cfg.epochs > first_epoch else None,
            # The learning rate decays to ~0 over the scheduled steps: the two should agree.
            "steps": steps_run,
            "scheduled_steps": plan.total_steps,
            "resumed_from_epoch": first_epoch if resume else None,
        },
        "updated_from": str(previous.directory) if previous is not None else None,
    }
    _save(out, overwrite, binary, vectors, model, vocab, plan, work, run)
    return vectors


def _plan(vocab: Vocabulary, cfg: config.PretrainConfig, work: Path, previous: Previous | None) -> _Plan:
    """The batch size, epochs, steps and learning rate of a run on the corpus encoded in `work`."""
    requested_batch = cfg.batch_size
    counts_file = work / "corpus_counts.npy"  # absent in runs interrupted before it was written
    tokens_per_epoch = _expected_tokens(vocab, np.load(counts_file) if counts_file.is_file() else vocab.counts, cfg)
    cfg = dataclasses.replace(cfg, batch_size=effective_batch_size(tokens_per_epoch, cfg))
    if cfg.batch_size < requested_batch:
        logger.info("Small corpus: batches of %d words instead of %d, for enough steps per epoch.",
                    cfg.batch_size, requested_batch)
    steps_per_epoch = max(1, int(tokens_per_epoch // cfg.batch_size))
    # A batch holds `sub_steps` steps: fewer on corpora with only a few steps per epoch.
    sub_steps = max(1, min(SUB_STEPS, steps_per_epoch // 4))
    if tokens_per_epoch < cfg.batch_size * sub_steps:
        shutil.rmtree(work, ignore_errors=True)
        raise _too_small(tokens_per_epoch, cfg.batch_size * sub_steps)
    asked_epochs = cfg.epochs
    if cfg.epochs is None:
        # An update continues trained vectors: more passes over a little new text would wear them down.
        cfg = dataclasses.replace(cfg, epochs=auto_epochs(steps_per_epoch) if previous is None else config.MIN_EPOCHS)
        if cfg.epochs > config.MIN_EPOCHS:
            logger.info("Small corpus: %d epochs instead of %d, for %d steps in all.",
                        cfg.epochs, config.MIN_EPOCHS, steps_per_epoch * cfg.epochs)
    # An update continues trained vectors: at the full rate it shakes the old
    # ones loose (see config.UPDATE_LEARNING_RATE_SCALE).
    start_rate = cfg.learning_rate * (config.UPDATE_LEARNING_RATE_SCALE if previous is not None else 1.0)
    return _Plan(cfg, requested_batch, asked_epochs, tokens_per_epoch, steps_per_epoch, sub_steps, start_rate)


def _model(vocab: Vocabulary, plan: _Plan, previous: Previous | None) -> SkipGramNCE:
    """The skip-gram model, built with its optimizer; starting from `previous`'s vectors where given."""
    cfg = plan.cfg
    schedule = keras.optimizers.schedules.PolynomialDecay(
        plan.start_rate, plan.total_steps, end_learning_rate=plan.start_rate * 1e-4
    )
    model = SkipGramNCE(
        len(vocab), cfg.dim, cfg.negatives, vocab.noise_distribution(), cfg.seed,
        window=cfg.window, group_size=cfg.noise_group, sub_steps=plan.sub_steps,
    )
    model.compile(optimizer=keras.optimizers.SGD(schedule))
    model.build(None)
    model.optimizer.build(model.trainable_variables)
    if previous is not None:
        for variable, value in zip((model.word_vectors, model.nce_weights, model.nce_biases),
                                   initial_weights(previous, vocab, np.random.default_rng(cfg.seed))):
            variable.assign(value)
    return model


def _train(model: SkipGramNCE, work: Path, vocab: Vocabulary, plan: _Plan, first_epoch: int, words_per_epoch: int,
           progress: Progress | None, tensorboard_dir) -> tuple[float, int, float]:
    """Train the epochs from `first_epoch` on, with a checkpoint after each: the last loss, the steps
    run and the seconds they took."""
    cfg, sub_steps = plan.cfg, plan.sub_steps
    signature = (tf.TensorSpec([cfg.batch_size * sub_steps], tf.int32),) * 3
    # No autograph: the step's one loop is a tf.while_loop already, and converting the step's code
    # (with Keras's optimizer) took about 1 s of every run.
    step = tf.function(model.train_step, jit_compile=True, autograph=False, input_signature=[signature])
    writer = tf.summary.create_file_writer(str(tensorboard_dir)) if tensorboard_dir else None
    total_words = words_per_epoch * (cfg.epochs - first_epoch)
    t0 = time.time()
    loss = float("nan")
    steps_run = 0
    # A Ctrl-C or SIGTERM outside a step and a checkpoint's write (as an epoch's producer thread stops, say)
    # keeps what there is too: `saved` epochs are in the last checkpoint, and `between` says none is under way.
    saved, between = first_epoch, True
    try:
        for epoch in range(first_epoch, cfg.epochs):
            counter = [0]
            start_words = (epoch - first_epoch) * words_per_epoch

            def report(batches, last_loss, epoch=epoch, counter=counter, start_words=start_words):
                if writer is not None and batches:
                    with writer.as_default():
                        tf.summary.scalar("loss", last_loss, step=epoch * 100000 + batches)
                if progress:
                    words = start_words + counter[0]
                    progress({"phase": "train", "epoch": epoch + 1, "words": words, "total": total_words,
                              "words_per_sec": words / max(time.time() - t0, 1e-9), "loss": last_loss})

            between = False
            result = run_epoch(step, _runs(work, vocab, cfg, epoch, counter, sub_steps), report)
            loss = result.loss
            steps_run += result.batches * sub_steps
            if result.interrupted:
                save_checkpoint(work, model, epoch)
                raise _interrupted(f"in epoch {epoch + 1}", work)
            if not result.batches:
                shutil.rmtree(work, ignore_errors=True)
                raise _too_small(plan.tokens_per_epoch, cfg.batch_size * sub_steps)
            if not math.isfinite(loss):
                shutil.rmtree(work, ignore_errors=True)
                raise ConfigError(
                    f"Training diverged (loss={loss}) in epoch {epoch + 1}. Lower --learning-rate "
                    f"(now {cfg.learning_rate}) or --batch-size (now {cfg.batch_size}), or lower "
                    f"--sample (now {cfg.sample}) to keep fewer of a few very frequent words."
                )
            try:
                save_checkpoint(work, model, epoch + 1)
            except KeyboardInterrupt:  # between epochs: this one is whole, and so is its checkpoint once written
                save_checkpoint(work, model, epoch + 1)
                raise _interrupted(f"after epoch {epoch + 1}", work) from None
            saved, between = epoch + 1, True
            logger.info("epoch %d/%d: loss %.4f", epoch + 1, cfg.epochs, loss)
    except KeyboardInterrupt:
        save_checkpoint(work, model, saved)
        when = f"in epoch {saved + 1}" if not between else f"after epoch {saved}" if saved else "before the first epoch"
        raise _interrupted(when, work) from None
    if writer is not None:
        writer.flush()
    return loss, steps_run, time.time() - t0


def _save(out: Path, overwrite: bool, binary: bool, vectors: WordVectors, model: SkipGramNCE, vocab: Vocabulary,
          plan: _Plan, work: Path, run: dict) -> None:
    """Write the output directory at once (vectors, projector files, module, training state, a sample of
    the corpus for later updates, `config.json`), then remove the run's work."""
    t_save = time.time()
    with atomic_dir(out, overwrite=overwrite, marks=OUTPUT_MARKS) as tmp:
        vectors.save(tmp, binary=binary)
        vectors.save_projector(tmp / "projector")
        weights = sif_weights(vocab.counts, config.SIF_A) if plan.cfg.pooling == "sif" else None
        save_text_module(vectors.words, vectors.vectors, tmp / "module", weights)
        np.savez(tmp / STATE_FILE, vectors=vectors.vectors, context=model.nce_weights.numpy(),
                 biases=model.nce_biases.numpy())
        sample_lines(work / "corpus.ids", config.REPLAY_MAX_TOKENS, plan.cfg.seed).tofile(tmp / REPLAY_FILE)
        run["timings"] = {"read_seconds": run["corpus"].get("read_seconds"),
                          "train_seconds": run["training"]["seconds"],
                          "save_seconds": round(time.time() - t_save, 2)}
        (tmp / "config.json").write_text(json.dumps(run, indent=2))
    shutil.rmtree(work, ignore_errors=True)
