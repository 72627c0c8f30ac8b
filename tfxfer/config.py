"""The one source of defaults for tfxfer: the library and the CLI both read these."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class PretrainConfig:
    """Hyperparameters of `pretrain_text` (skip-gram with NCE loss).

    Args:
        dim: Size of each word vector. Defaults to `100`.
        window: Largest distance between a centre word and a context word; each
            centre word draws its window uniformly from `1..window` (word2vec's
            dynamic window). Defaults to `5`.
        negatives: Noise words per positive pair for the NCE loss, drawn from the
            unigram^0.75 distribution. Defaults to `5`.
        epochs: Passes over the corpus. Defaults to `5`.
        batch_size: Centre words per training step: a run of consecutive
            tokens (after subsampling), each paired with its neighbours,
            about `window + 1` pairs per word. A multiple of `noise_group`.
            Large batches keep the CPU/GPU busy; small corpora get smaller
            ones, for at least `MIN_STEPS_PER_EPOCH` steps per epoch.
            Defaults to `2048`.
        noise_group: Consecutive centre words that share one draw of noise
            words, so scoring them is one matrix product. Larger groups run
            faster but put more pairs' gradients on each noise word in one
            step; past ~512 pairs plain SGD degrades and then diverges.
            Defaults to `32`.
        learning_rate: Initial SGD learning rate per pair (the loss is summed,
            as word2vec's updates are), decayed linearly to
            `learning_rate * 1e-4` over training. A word seen `n` times in
            one step moves `sqrt(n)` times one update, not `n` times, which
            keeps SGD stable at twice word2vec's 0.025. Defaults to `0.05`.
        min_count: Words seen fewer times are dropped. Defaults to `5`.
        max_vocab_size: Keep at most this many of the most frequent words
            (`None`: no limit). Defaults to `None`.
        sample: Frequent-word subsampling threshold (word2vec's `sample`);
            `0` disables it. Defaults to `1e-3`.
        seed: Seed for initialisation, subsampling, windows and noise.
            Defaults to `1`.
        pooling: How the text feature module turns word vectors into a
            sentence vector: `"mean"`, their plain mean, or `"sif"`, their
            mean weighted by `SIF_A / (SIF_A + p(word))` (smooth inverse
            frequency, Arora et al. 2017), which lets rare, telling words
            outweigh "the" and "of": +1 point on few-shot sentiment.
            Defaults to `"mean"`.
    """

    dim: int = 100
    window: int = 5
    negatives: int = 5
    epochs: int = 5
    batch_size: int = 2048
    noise_group: int = 32
    learning_rate: float = 0.05
    min_count: int = 5
    max_vocab_size: int | None = None
    sample: float = 1e-3
    seed: int = 1
    pooling: str = "mean"


PRETRAIN = PretrainConfig()
POOLINGS = ("mean", "sif")
# Smoothing of the "sif" pooling: words more frequent than this weigh less than 1/2.
SIF_A = 1e-3


@dataclasses.dataclass(frozen=True)
class HeadConfig:
    """The dense head trained on frozen features.

    Args:
        hidden_units: Units of the hidden ReLU layer; `0` for a linear
            (softmax regression) head. Defaults to `0`.
        dropout: Dropout rate on the features (and the hidden layer).
            Defaults to `0.0`.
        l2: L2 penalty on the kernels. Defaults to `1e-3`.
        epochs: Full-batch Adam steps. Defaults to `300`.
        learning_rate: Adam learning rate. Defaults to `0.01`.
        class_weight: `"balanced"` weighs classes inversely to their
            frequency; `None` weighs every example the same. Defaults to `"balanced"`.
        seed: Seed of initialisation and dropout. Defaults to `1`.
    """

    hidden_units: int = 0
    dropout: float = 0.0
    l2: float = 1e-3
    epochs: int = 300
    learning_rate: float = 0.01
    class_weight: str | None = "balanced"
    seed: int = 1


HEAD = HeadConfig()
# Heads tried by cross-validation when the head is chosen automatically, most
# regularised first: ties go to the earlier one, the safer bet with few labels.
HEAD_CANDIDATES = (
    HeadConfig(l2=10.0),
    HeadConfig(l2=3.0),
    HeadConfig(l2=1.0),
    HeadConfig(l2=0.3),
    HeadConfig(l2=0.1),
    HeadConfig(l2=0.03),
    HeadConfig(l2=1e-2),
    HeadConfig(l2=1e-3),
    HeadConfig(hidden_units=128, dropout=0.5, l2=1e-3),
)
# Most folds of the cross-validation; fewer when the smallest class is smaller.
CV_FOLDS = 5
# Leave-one-out cross-validation up to this many training examples.
LEAVE_ONE_OUT_MAX = 20
# Fine-tuning of the feature module after the head converged.
FINE_TUNE_EPOCHS = 5
FINE_TUNE_LEARNING_RATE = 1e-4
# Model name in EXPORT_DIR/NAME/VERSION when --name is not given.
EXPORT_NAME = "model"

# Fewest SGD steps per epoch of pretraining: small corpora get smaller batches.
MIN_STEPS_PER_EPOCH = 200
# Lines read and tokenized together when counting and encoding a corpus.
TOKENIZE_BATCH_LINES = 4096
# Encoded tokens read and subsampled at once; bounds the memory of training.
CHUNK_TOKENS = 1 << 20
# The size image modules are assumed to be made for when they accept any size
# and do not say (TF-Hub's common 224).
DEFAULT_IMAGE_SIZE = 224
# Modules that accept any size are fed images this much larger than the size
# they were made for (224 -> 288). Nets trained on random crops see objects
# larger than a whole image at the same size shows them, and do better on
# larger inputs (Touvron et al. 2019, "Fixing the train-test resolution
# discrepancy"); on hymenoptera 288 beats 224 by 1-2 points at every number
# of labels, for 1.7x the compute.
IMAGE_SIZE_FACTOR = 1.3
# Images decoded and fed to a feature module at once.
FEATURE_BATCH_SIZE = 32

# Nearest neighbours shown by `tfxfer similar`.
SIMILAR_TOPN = 10


def default_cache_dir() -> Path:
    """Where tfxfer caches features: `$TFXFER_CACHE_DIR`, else the user's cache dir."""
    if os.environ.get("TFXFER_CACHE_DIR"):
        return Path(os.environ["TFXFER_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tfxfer"
