"""The one source of defaults for tfxfer: the library and the CLI both read these."""

from __future__ import annotations

import dataclasses

# The logger of long waits (a TF-Hub module downloading), whose lines the CLI shows without -v.
PROGRESS_LOG = "tfxfer.progress"


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
        epochs: Passes over the corpus. Defaults to `None`: `MIN_EPOCHS`, or
            more on small corpora, for at least `MIN_TOTAL_STEPS` steps.
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
    epochs: int | None = None
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
    """The dense head trained on frozen features (`tfxfer.head.HeadClassifier`).

    Args:
        normalization: How feature vectors are normalised before the head, in
            the exported graph too: `"l2"` scales each row to unit length
            (sentence vectors are means of word vectors, whose length says
            more about the sentence's length than its meaning);
            `"standardize"` centres each column and scales it to unit
            variance; `"l2+standardize"` does both, in that order. Either
            way rows end up with a mean squared length of 1, so one `C`
            means the same regularisation for all three. Defaults to `"l2"`.
        C: Inverse strength of the L2 penalty, as scikit-learn's
            `LogisticRegression` (the objective is `C * sum of weighted
            losses + ||W||^2 / 2`). Defaults to `1.0`.
        hidden_units: Units of a hidden ReLU layer; `0` for a linear
            (multinomial logistic regression) head. Defaults to `0`.
        dropout: Dropout rate on the inputs and the hidden layer of a hidden
            head. Defaults to `0.5`.
        class_weight: `"balanced"` weighs classes inversely to their
            frequency (scikit-learn's meaning); `None` weighs every example
            the same. Defaults to `"balanced"`.
        pseudo_labels: Fraction of the unlabeled examples given pseudo-labels
            by label spreading over their nearest neighbours (the most
            confident of each class, where the head fitted on the labels
            alone agrees) and added to the training set; `0`
            uses unlabeled examples for the normalisation statistics only.
            Ignored without unlabeled data. Defaults to `0.0`.
        lexical_columns: The trailing feature columns that are hashed words
            and character n-grams of a text (`tfxfer.features.lexical`),
            unit-length already: `normalization` leaves them alone. Set from
            the data by `fit_head`, not a choice. Defaults to `0`.
        seed: Seed of initialisation, dropout and internal splits. Defaults to `1`.
    """

    normalization: str = "l2"
    C: float = 1.0
    hidden_units: int = 0
    dropout: float = 0.5
    class_weight: str | None = "balanced"
    pseudo_labels: float = 0.0
    lexical_columns: int = 0
    seed: int = 1


HEAD = HeadConfig()
# A head that weighs imbalanced classes equally trades accuracy for finding the rare ones; the
# report says what answering by the probabilities (the classes as common as in the labels)
# would score, when that is this much more accurate out of fold (fit-head --class-weight none).
CLASS_WEIGHT_HINT_GAIN = 0.03
# Text heads add hashed words and character n-grams to the sentence vectors
# (`tfxfer.features.lexical`): the buckets hashed to, the n-gram widths, and
# the most columns kept (the commonest buckets; the export holds a dense
# [batch, columns] block of them per request batch). "auto": the head keeps
# them only where they lower the cross-validated log loss by LEXICAL_MARGIN
# standard errors (paired, per example) against the vectors alone.
LEXICAL = "auto"
# Replayed on the heads benchmark's 16 text rows, 10 draws each (scripts/bench_lexical.py,
# modules whose lines were shuffled): held-out accuracy minus LR's, mean +2.34 points and worst
# row -0.38, against +2.16 and -2.28 for always keeping them and +2.16 and -0.25 at 1 se. On
# stop 57's modules (output biases at zero): +2.41 and -0.67, against +2.43 and -0.38 at 1 se
# and +2.43 and +0.00 at 2 se (+2.17 and -0.08 on the earlier modules): within noise, kept.
LEXICAL_MARGIN = 0.5
LEXICAL_BUCKETS = 1 << 18
LEXICAL_CHAR_NGRAMS = (2, 3, 4)
# Character n-grams are taken from a word's first this many characters: a 25 MB "word" (a base64
# blob sent as text) made 75M n-gram strings, 4.8 GB of a server. Words, URLs and hashes are shorter.
LEXICAL_NGRAM_WORD_CHARS = 64
LEXICAL_MAX_COLUMNS = 20_000
# From this many training texts on, only buckets seen in two of them get a column: it
# halved the time of fit-head's search on 871 nps_chat posts at the same accuracy.
LEXICAL_MIN_DF2_TEXTS = 500
# From this many training texts on, the lexical counts are weighted by inverse document
# frequency (TF-IDF's smooth idf). On 500 and 2,000 labels (3 draws each) it gained
# sentence_polarity 1.5 and 1.6 points and nps_chat 0.8 and 0.7, pros_cons 0.1, and cost
# names 0.9 and 0.3 (their telling endings are common n-grams); on 4 - 64 labels per class
# it cost names 0.4 - 1.3 points, so small sets keep plain counts (README: "Many labels").
# Checked afterwards on product_reviews: +1.4 and +0.7 points at 500 and 1,000 labels.
LEXICAL_IDF_MIN_TEXTS = 500
# From this many training texts on, pairs of adjacent words get buckets too. With idf weights,
# from 4,000 labels (1 - 4 draws each): pros_cons +0.3 / +0.6 / +0.5 points at 4,000 / 8,000 /
# 20,000, nps_chat +0.4 / +0.1 / +0.3 at 4,000 / 5,000 / 7,000, sentence_polarity +0.1 / +0.2 /
# -0.3 at 4,000 / 6,000 / 8,000, names 0.0; at 2,000 sentence_polarity lost 0.5 (README: "Many labels").
LEXICAL_BIGRAM_MIN_TEXTS = 4_000
# From this many training texts on, words (with their pairs) and character n-grams are two
# blocks, each scaled to unit length, and counts are damped to 1 + log(count), as a union of
# two TF-IDF vectorizers does: in one block a word's 5 - 10 n-grams drown it. Against one block
# of plain counts (1 - 4 draws): sentence_polarity +0.5 / +0.6 / +0.6 / +1.0 at 2,000 / 4,000 /
# 6,000 / 8,000, nps_chat +0.4 / +0.8 / +1.0 at 2,000 / 4,000 / 7,000, pros_cons and names
# -0.1 to +0.4; at 500 - 1,000 nps_chat, sentence_polarity or names lost 0.3 - 0.6 (README:
# "Many labels").
LEXICAL_BLOCKS_MIN_TEXTS = 2_000
# Heads with lexical columns are solved by Newton-CG, not L-BFGS, to this tolerance: with
# thousands of sparse columns L-BFGS's own bookkeeping (O(memory x parameters) a step, for
# 20 - 40 steps) outweighed the gradients. Newton-CG, warm-started along the C grid,
# takes 5 - 6 steps; on the folds of the quickstart and of 1,200 nps_chat posts it ran
# 2.8x and 2.2x faster than L-BFGS at 1e-4, with held-out logits within 0.035 of the
# exact solution's for C <= 30 (L-BFGS at 1e-4: within 0.16 and 0.46).
LEXICAL_HEAD_TOLERANCE = 1e-5
LEXICAL_HEAD_SOLVER = "newton-cg"
NORMALIZATIONS = ("l2", "standardize", "l2+standardize")
# Linear heads are solved by L-BFGS (scikit-learn's LogisticRegression) to
# this tolerance on the projected gradient, within at most this many iterations.
HEAD_TOLERANCE = 1e-6
HEAD_MAX_ITER = 2000
# A largest class this many times the smallest makes accuracy a poor summary: always answering the
# largest scores high. Summaries then give balanced accuracy too.
IMBALANCE_RATIO = 1.5
# Hidden heads (`--head hidden`): full-batch Adam, stopped early on a held-out fifth.
HIDDEN_MAX_STEPS = 1000
HIDDEN_LEARNING_RATE = 0.01
HIDDEN_HEAD = HeadConfig(hidden_units=128)
# The values of C tried by cross-validation, most regularised first: ties go
# to the earlier one, the safer bet with few labels.
C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
# A normalisation other than "l2", or the use of unlabeled examples, replaces
# the plain choice only when its cross-validated log loss is lower by more
# than these many standard errors (of the paired per-example differences),
# and standardisation only with more than SMALL_SET_MAX examples:
# benchmarked on unseen data, choosing among more candidates by noise alone
# lost more than the candidates gained (scripts/bench_heads.py --selection).
NORMALIZATION_MARGIN = 1.0
# Replayed with the lexical heads on 17 rows of the heads benchmark (README): margins of
# 0 - 1.5 each leave one row 0.5 - 1.1 points below the head without unlabeled examples
# (sentence_polarity or pros_cons at 16 per class), 2 and more halve the gains at 4 per
# class; 0.5 has the highest mean gain (+0.4). Since pseudo-labels need the labels' own
# head to agree (stop 35; 21 rows of seven sets, webtext and abc included): 0.5 +0.46, worst
# row -0.33; 1.0 +0.28, worst -0.18, but pros_cons at 4 / 8 per class +0.9 / +0.7 for +1.6 / +1.7.
# (Stop 36: weighing the spreading by that head's probabilities instead, 0.5: +0.46, worst -0.56.)
# Stop 46, the same 21 rows with modules pretrained anew: 0.5 +0.29, worst -2.15 (names at 8 per
# class: one draw's pseudo-labels, kept at 0.55 standard errors, cost it 22 points held out) and
# sentence_polarity at 16 -0.89; 1.0 +0.32, worst -0.40, pros_cons at 4 per class still +2.15.
# Which rows lose at 0.5 changes with the features: 1.0 holds on both.
UNLABELED_MARGIN = 1.0
# Fractions of the unlabeled examples given pseudo-labels by label spreading,
# tried by cross-validation when unlabeled data is given (0: statistics only).
PSEUDO_LABEL_GRID = (0.0, 0.3, 1.0)
# Label spreading over a k-nearest-neighbour graph of the feature vectors
# (scikit-learn's LabelSpreading): neighbours, and how much a label flows on.
SPREADING_NEIGHBORS = 10
SPREADING_ALPHA = 0.5
# At most this many unlabeled examples are used (a random sample beyond):
# the neighbour graph grows with their square.
UNLABELED_MAX = 5000
# Labeled rows in that graph: past this many, a stratified sample of them seeds the spreading
# (its cost grows with the square of its rows; see scripts/README.md, "Many labels").
SPREADING_MAX_LABELED = 5000
# Most folds of the cross-validation; fewer when the smallest class is smaller.
CV_FOLDS = 5
# Sets of up to CALIBRATION_REPEATS_MAX examples fit their temperature on the
# out-of-fold predictions of CALIBRATION_REPEATS cross-validations, each with
# other folds: one split of a few dozen examples says little about how sure
# the head should be. Calibration error at 4 - 16 labels per class went from
# 0.044 - 0.086 to 0.032 - 0.064 on hymenoptera; sentence_polarity and names
# moved within 0.01, pros_cons by up to 0.017 either way, within its spread
# (README, heads benchmark). Five repeats did no better than three.
CALIBRATION_REPEATS = 3
CALIBRATION_REPEATS_MAX = 100
# Sets of up to this many training examples are small: only C and the unlabeled
# examples are chosen for them (see NORMALIZATION_MARGIN).
SMALL_SET_MAX = 20
# Past twice this many labeled examples the search compares its candidates on a stratified
# sample of this many, then cross-validates the chosen head on all of them, beside the same head
# at the next larger C (more labels bear less regularisation). A candidate's fits grow faster
# than the examples (a text head's lexical columns with them): fit_head on 45,867 pros_cons
# sentences 6 min 4 s -> 1 min 53 s, on 20,867 1 min 58 s -> 52 s, the same head and accuracy.
# Just past the sample's size the sample's search and the last two fits cost more than the
# whole search (10,167 nps_chat posts: 160 s against 125 s).
SEARCH_SAMPLE = 10_000
# Folds of at least this many examples are fitted on all cores at once (threads: numpy and
# scipy release the GIL on arrays this large; on small ones the threads would only wait).
# On 2 cores: 183,468 pros_cons labels 2 min 39 s -> 1 min 53 s, 45,867: 34.8 -> 29.4 s; at
# 8,000 (6,400 per fold) no gain. Sparse features (a text head's lexical columns) pay
# sooner: pros_cons fit_head on 2,000 labels 14.8 -> 12.1 s, 6,000: 46.5 -> 34.2 s, 8,000:
# 59 -> 39 s; on 500 the threads were slower (5.5 -> 6.3 s). Counted in nonzeros (pros_cons: 208
# a row, 1,000 rows), since documents hold many more: 500 brown documents (5,000 a row), whose
# folds had stayed on one core: fit-head 6 min 58 s -> 4 min 51 s.
PARALLEL_FOLDS_MIN_EXAMPLES = 10000
PARALLEL_FOLDS_MIN_NONZEROS = 200_000
# Fine-tuning of the feature module after the head converged.
FINE_TUNE_EPOCHS = 5
FINE_TUNE_LEARNING_RATE = 1e-4
# What the `classes` output says when `--abstain-below` is set and the top
# calibrated score is lower.
REJECT_LABEL = "unknown"
# Learning curve: subsamples per size, and its forecast (`tfxfer.head.learning_curve`):
# bootstrap resamples, bounds of the power law's exponent, the widest 80%
# range still worth quoting, and the gain asked about ("+3 points").
CURVE_REPEATS = 5
# Sizes whose subsamples hold this many examples or more are drawn once: there another draw
# hardly moves the point (5 draws of 4,096 pros_cons sentences a class: accuracy ± 0.08 points),
# and their fits were the curve's cost (25% of fit-head on 45,875 sentences).
CURVE_SINGLE_DRAW_FROM = 5000
CURVE_BOOTSTRAP = 200
CURVE_EXPONENT_BOUNDS = (0.2, 1.5)
CURVE_MAX_RANGE = 0.15
CURVE_GAIN = 0.03
# The bootstrap's 10-90% range, widened this much and combined with the
# sampling error of the current accuracy, covered about 80% of the measured
# outcomes in two backtests over five data sets (1.0: 74-77%, 1.3: 83-84%).
CURVE_RANGE_INFLATION = 1.2
# The power law is fitted to the largest this-many sizes (a 16x span): over
# several decades accuracy is not one power law, and fitted to all of them
# the curve missed 4x the labels by 0.6 - 2.9 points from 128 per class up
# (0.2 - 0.8 on its last 5). Sets of up to 16 per class have no more sizes.
CURVE_FIT_SIZES = 5
# Labels needed for +3 points whose 80% range spans more than this ratio are
# given as the range alone: a median between 40 and "more than 4,000" reads as
# a plan and is not one.
CURVE_NEED_SPAN = 4
# `tfxfer suggest`: examples suggested by default, how they are chosen
# (`typical` or `uncertain`, see `tfxfer.head.active`), candidates (the most
# uncertain) kept per example to suggest, pool examples sampled for
# `typical`, and pool items scored at once.
SUGGEST_N = 20
SUGGEST_STRATEGY = "auto"
SUGGEST_STRATEGIES = ("auto", "typical", "uncertain")
# `auto` is `uncertain` where the training labels' largest class is this many times the smallest
# or more, else `typical`. pros_cons, 10 draws (scripts/bench_active.py --ratio): at 3 to 1
# `typical` saved 26% of the labels against random choice; at 8 and 20 to 1 it fell up to 2.7 -
# 4.1 points of balanced accuracy below random, `uncertain` up to 1.4 - 2.4, and `uncertain` found
# 2.7 - 6.7x as many examples of the rare class as `typical`. 5 lies between the two measured mixes.
# At 3 to 1 with 20 draws, each leads on one set (pros_cons `uncertain` 25% against 13%,
# sentence_polarity `typical` 39% against 23%; scripts/README.md), so the switch stays above 3.
SUGGEST_UNCERTAIN_FROM_RATIO = 5.0
SUGGEST_CANDIDATES_PER_PICK = 10
SUGGEST_SAMPLE = 5000
SUGGEST_BATCH = 1024
# TypiClust's settings, as its authors' code: most clusters, smallest cluster
# worth a pick, neighbours that measure typicality.
TYPICAL_MAX_CLUSTERS = 500
TYPICAL_MIN_CLUSTER_SIZE = 5
TYPICAL_NEIGHBOURS = 20
# Cluster and measure typicality on rows centered on the mean of the labeled and pool examples. Uncentered,
# the typical sentences were the longest (their mean word vector nearest the mean of all): on
# sentence_polarity, 20 draws (scripts/bench_active.py), 5% fewer labels than random choice and 2.0
# points behind it at worst; centered, 49% and never behind. pros_cons gave up its lead (36% saved
# uncentered, none now, 0.4 points behind at worst), hymenoptera 67% to 56%, never behind.
TYPICAL_CENTER = True
# `pretrain-text --update` starts its learning rate at this share of
# --learning-rate: where one run over old and new text of equal size would be
# halfway. On halves of the benchmark corpus (stop 17, before replay): at 1.0
# analogy accuracy fell to 0.079 (whole corpus 0.107), at 0.5 it was 0.096 with
# simlex999 within 0.02 of the whole corpus's; 0.25 kept analogies (0.102)
# but lost wordsim353 (-0.07).
UPDATE_LEARNING_RATE_SCALE = 0.5
# Every pretrain-text output keeps a random sample of its text's lines (at most
# this many word ids, 4 bytes each) in replay.ids; an update mixes UPDATE_REPLAY
# times as many ids as the new text holds into it, so that the vectors keep what
# the earlier text taught (scripts/bench_pretrain.py --update).
REPLAY_MAX_TOKENS = 5_000_000
UPDATE_REPLAY = 0.5
# Model name in EXPORT_DIR/NAME/VERSION when --name is not given.
EXPORT_NAME = "model"

# Fewest SGD steps per epoch of pretraining: small corpora get smaller batches.
MIN_STEPS_PER_EPOCH = 200
# Epochs of pretraining when --epochs is not given: MIN_EPOCHS (word2vec's 5),
# or as many as make MIN_TOTAL_STEPS steps (at most MAX_AUTO_EPOCHS; updates,
# which continue trained vectors, keep MIN_EPOCHS). Steps of
# 2,048 summed words learn less per word than word2vec's pair-by-pair SGD, and
# a small corpus has too few of them in 5 epochs. On brown alone (1.2M tokens,
# 410 steps an epoch) 10 epochs took wordsim353 from 0.199 to 0.336, simlex999
# from 0.069 to 0.138 and few-shot accuracy from 0.775 to 0.795; on the
# quickstart's definitions, 20 epochs took the test accuracy from 0.746 to
# 0.822. The benchmark corpus (2.8M tokens) makes 4,840 steps in 5 epochs.
MIN_EPOCHS = 5
MIN_TOTAL_STEPS = 4000
MAX_AUTO_EPOCHS = 50
# pretrain-text warns on a corpus of fewer words: vectors from so little text
# add nothing to a head over the words of its labels. On sentence_polarity and
# pros_cons (scripts/bench_corpus_size.py, 5 draws), fit-head on a module from
# 10,000 or 30,000 words was 1.8 - 2.8 points below TF-IDF on 3 of 4 rows and
# 1.2 above at best; from 100,000 it was 0.2 - 6.1 above, from 300,000 1.5 - 7.8.
SMALL_CORPUS_WORDS = 100_000
# Lines read and tokenized together when counting and encoding a corpus.
TOKENIZE_BATCH_LINES = 4096
# Distinct tokens counted at once while reading a corpus. Past it the rarest
# are dropped (those seen once, then at most twice...), as word2vec and gensim's
# `max_vocab_size` prune: each distinct token costs about 210 bytes until
# --min-count applies, so a web crawl's tens of millions would otherwise take
# 10 GB and more (stop 46: 3M distinct tokens, 1.52 GB against 0.89 GB).
COUNT_MAX_DISTINCT = 20_000_000
# Of the tokens dropped each time, a random sample this large stands for them in
# checks of the corpus (is it written without spaces?).
DROPPED_SAMPLE = 10_000
# Encoded tokens read and subsampled at once; bounds the memory of training.
CHUNK_TOKENS = 1 << 20
# Each epoch of pretraining reads the corpus's lines in a random order: its
# line-aligned blocks of CHUNK_TOKENS / SHUFFLE_BLOCKS tokens are visited in a
# random order, SHUFFLE_BLOCKS at a time, and the lines of those shuffled
# together (a corpus of up to a chunk is shuffled whole). Read in order, a
# corpus of general text followed by a data set's own (the benchmarks' modules,
# and what the README advises) gave vectors 3 - 8 points worse for fit-head on
# pros_cons (scripts/README.md, "Line order").
SHUFFLE_BLOCKS = 16
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
# Text features are cached (one entry per distinct text, as images are) for modules slower than this a
# text, timed on their first batch, if it took TEXT_CACHE_MIN_BATCH_SECONDS or more (one text, or a pause
# of the process, says nothing): BERT-style encoders take tens of milliseconds a text on a CPU. tfxfer's
# own modules took 24 us a text (stop 73, 5,000 sentence_polarity sentences), the cache 56 us to read one
# back and 122 us to write one.
TEXT_CACHE_MIN_SECONDS = 1e-3
TEXT_CACHE_MIN_BATCH_SECONDS = 0.05
# Images decoded and fed to a feature module at once.
FEATURE_BATCH_SIZE = 32
# Pixels a PNG, GIF, BMP or WebP may declare and still be decoded: Pillow's decompression-bomb
# limit. Those formats decode whole (JPEGs decode at 1/8 scale where that is enough), so a 280 KB
# PNG of 16,000 x 16,000 px took 7.6 GB to decode: one request could take a server down.
MAX_DECODED_PIXELS = 89_478_485
# Pixel ranges an image module may expect (`--input-range`); images are
# decoded to [0, 1], TF-Hub's convention, and mapped in the module's function.
INPUT_RANGES = {"0,1": (0.0, 1.0), "0,255": (0.0, 255.0), "-1,1": (-1.0, 1.0)}
# `auto` feeds [0, 255] when the module's features of probe images spread this
# many times more in [0, 255] than in [0, 1]. A [0, 255] module fed [0, 1] sees
# near-black images: 800x less spread, and fit-head 0.67 on hymenoptera
# instead of 0.96; EfficientNet-Lite0, a [0, 1] module, spreads 1.4x more fed [0, 255].
INPUT_RANGE_SPREAD_RATIO = 20.0
# Training images whose nearest other image is this many robust standard
# deviations (1.4826 x the median absolute deviation) less similar than the
# median image's are named in the report: on hymenoptera, EfficientNet-Lite0,
# the "image not found" GIF among the ants is 5.3 below (the next, a photo of
# tiny ants on a grid, 4.2); at 5, 10 draws of 64 photos per class named at
# most one photo each, and the full train set that GIF alone. Text is not
# checked: short texts are far from every other by nature (on nps_chat's
# 3,600 posts, 140 one-word posts fall 5 below).
UNUSUAL_IMAGE_Z = 5.0
# ... and at least this much less similar (cosine): in a folder of near-copies
# the deviation is tiny, and a re-encoded copy would stand out by z alone.
UNUSUAL_MIN_GAP = 0.1
# A text module whose vocabulary misses this share of the training texts' running words (a module
# pretrained on text of another language or field) is named in a note. With the quickstart's module
# (WordNet definitions): its own labels miss 7%, movie reviews 16%, chat posts 31%, German reviews 75%.
UNKNOWN_WORDS_SHARE = 0.3
# Training texts whose words are counted for it: enough for the share, quick on any data set.
UNKNOWN_WORDS_TEXTS = 5000
# A BERT-style encoder's training texts longer than its preprocessing model packs (128 tokens, TF-Hub's)
# are named in a note from this share on: the encoder reads their beginning alone.
TRUNCATED_TEXTS_SHARE = 0.05
# Fewer images give no stable median deviation; more are compared with a
# random sample of this many (n x sample similarities, not n x n).
UNUSUAL_MIN_IMAGES = 20
UNUSUAL_REFERENCE_IMAGES = 2000

@dataclasses.dataclass(frozen=True)
class ServeConfig:
    """How `tfxfer serve` serves.

    Args:
        host: Address to listen on. Defaults to `"127.0.0.1"`: this machine
            only; `"0.0.0.0"` accepts other machines.
        port: REST port (TF Serving's default); `0` for a free one, told to
            `serve`'s `started`. Defaults to `8501`.
        grpc_port: gRPC port, `0` for none. Defaults to `8500`.
        batching: Merge concurrent requests into one model call. Defaults to `True`.
        max_batch_size: Most examples per model call; a larger request runs in
            parts of this size. Defaults to `64`.
        batch_timeout_ms: How long a batch that is not full waits for more
            requests once the model is free; `0` runs what has queued up
            while the model was busy, so a lone request never waits. Defaults to `0`.
        max_request_bytes: Largest request body (REST) or message (gRPC);
            larger ones get HTTP 413 / RESOURCE_EXHAUSTED. Defaults to 32 MiB.
        poll_seconds: How often the export directory is scanned for new
            versions (TF Serving's --file_system_poll_wait_seconds). Defaults to `1`.
        grace_seconds: On SIGTERM/Ctrl-C, how long requests under way may
            take to finish. Defaults to `10`.
        allow_origins: Origins of web pages allowed to call the REST API from a
            browser (CORS), e.g. `("http://localhost:3000",)`; `("*",)` for any
            page. Defaults to none: only the server's own page.
        latest_versions: How many of each model's highest versions are
            loaded where no `models.config` policy says which; `0` loads all.
            Each costs memory (about 60 MB for the quickstart's text model),
            and a model fitted again every day would otherwise grow the server
            without end. TF Serving's default is 1; 3 keeps the previous
            versions to compare and fall back to. Defaults to `3`.
    """

    host: str = "127.0.0.1"
    port: int = 8501
    grpc_port: int = 8500
    batching: bool = True
    max_batch_size: int = 64
    batch_timeout_ms: float = 0.0
    max_request_bytes: int = 32 << 20
    poll_seconds: float = 1.0
    grace_seconds: float = 10.0
    latest_versions: int = 3
    allow_origins: tuple[str, ...] = ()


SERVE = ServeConfig()

# Nearest neighbours shown by `tfxfer similar`.
SIMILAR_TOPN = 10


# TensorBoard's projector reads the first 100,000 rows of a tensor (its LIMIT_NUM_POINTS): a projector
# folder holds the most frequent words, or a random sample of embedded examples, up to that many.
PROJECTOR_MAX_POINTS = 100_000

# Words read from a word-vector file given as a feature module (GloVe, fastText .vec): its first,
# the most frequent; 200,000 cover nearly every running word of English text.
VECTORS_MAX_WORDS = 200_000
