"""Commands on word vectors: pretrain-text, similar, evaluate-embeddings."""

from __future__ import annotations

import json
import os
import sys

import click

from tfxfer import config
from tfxfer.cli import main
from tfxfer.cli.common import echo_json, library_errors, start_tensorflow
from tfxfer.errors import counted

P = config.PRETRAIN


class _TrainProgress:
    """Renders the library's progress reports as a click progress bar."""

    def __init__(self):
        self.bar = None
        self.phase = None
        self.shown = 0

    def __call__(self, report: dict):
        if report["phase"] != self.phase:
            self.close()
            self.phase = report["phase"]
            if self.phase != "train":
                click.echo("Reading the corpus...", err=True)
        if self.phase == "train":
            if self.bar is None:
                self.bar = click.progressbar(
                    length=report["total"], label="Training", file=sys.stderr, show_eta=True,
                    item_show_func=lambda r: r, width=30,
                )
                self.bar.__enter__()
            words = min(report["words"], report["total"])
            self.bar.update(words - self.shown, f"epoch {report['epoch']}  {report['words_per_sec']:,.0f} words/s  loss {report['loss']:.3f}")
            self.shown = words

    def close(self):
        if self.bar is not None:
            self.bar.update(self.bar.length - self.shown)
            self.bar.__exit__(None, None, None)
            self.bar = None


@main.command("pretrain-text", short_help="Word vectors from unlabeled text: a text module.")
@click.argument("corpus", nargs=-1, required=True)
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False), help="Output directory (must not exist unless --overwrite).")
@click.option("--dim", default=P.dim, show_default=True, help="Size of the word vectors.")
@click.option("--window", default=P.window, show_default=True, help="Largest context window (dynamic, as word2vec).")
@click.option("--negatives", default=P.negatives, show_default=True, help="Noise words per pair for NCE (unigram^0.75).")
@click.option("--epochs", type=int, default=P.epochs,
              help=f"Passes over the corpus. [default: {config.MIN_EPOCHS}, or more on small corpora, for at least "
                   f"{config.MIN_TOTAL_STEPS:,} steps in all; an --update keeps {config.MIN_EPOCHS}]")
@click.option("--batch-size", default=P.batch_size, show_default=True, help="Centre words per SGD step, each with its ~window+1 context words (a multiple of --noise-group; lowered on small corpora).")
@click.option("--noise-group", default=P.noise_group, show_default=True, help="Consecutive centre words sharing one draw of noise words (larger: faster, less stable).")
@click.option("--learning-rate", default=P.learning_rate, show_default=True, help="Initial SGD learning rate, decayed linearly.")
@click.option("--min-count", default=P.min_count, show_default=True, help="Drop words seen fewer times.")
@click.option("--max-vocab-size", default=P.max_vocab_size, type=int, help="Keep only the most frequent words.  [default: no limit]")
@click.option("--sample", default=P.sample, show_default=True, help="Subsampling threshold of frequent words (0: off).")
@click.option("--seed", default=P.seed, show_default=True, help="Random seed.")
@click.option("--pooling", default=P.pooling, show_default=True, type=click.Choice(config.POOLINGS),
              help="Sentence vector of module/: the mean of the word vectors, or 'sif', weighted by smooth inverse frequency (rare words count more; +1 point on few-shot sentiment).")
@click.option("--binary", is_flag=True, help="Also write vectors.bin (binary word2vec format).")
@click.option("--tensorboard", type=click.Path(file_okay=False), help="Write TensorBoard training logs to this directory.")
@click.option("--update", type=click.Path(file_okay=False, exists=True),
              help="Continue training the vectors of this earlier --out on CORPUS (new words join); settings not "
                   "given here are the earlier run's.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run of the same command.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out directory.")
@library_errors(keras=True)
def pretrain_text_command(corpus, out, binary, tensorboard, update, resume, overwrite, **hyper):
    """Learn skip-gram word vectors (NCE loss) on unlabeled text.

    CORPUS is one or more UTF-8 text files (one sentence or paragraph per line;
    .gz, .bz2 and .xz work), directories of them (.txt, .md, .rst and .html files),
    Wikipedia dumps (pages-articles.xml.bz2: their articles' text, markup removed),
    web pages (.html: the text they show), or
    NLTK corpora by name (nltk:brown), streamed: memory is bounded by the vocabulary, not the corpus.

    OUT receives vectors.txt (word2vec format, for gensim), vocab.tsv,
    config.json, projector/ (TensorBoard Embedding Projector), module/, a
    SavedModel mapping raw strings to sentence vectors, and state.npz and
    replay.ids, what a later --update continues from.

    With --update DIR, the vectors of the earlier output DIR keep training on
    CORPUS (new text) and words new to the vocabulary join: OUT is a complete
    new output. Lines of the earlier text that DIR keeps (replay.ids), half as
    many words as the new text, are mixed in so that the vectors keep what it
    taught them; the update costs about 1.5x what the new text alone would.

    Example: tfxfer pretrain-text data/corpus.txt --out runs/vectors
    """
    from tfxfer.text.pretrain import pretrain_text

    if update:
        from tfxfer.text.update import previous_hyperparameters

        ctx = click.get_current_context()
        earlier = previous_hyperparameters(update)
        hyper = {k: (earlier.get(k, v) if ctx.get_parameter_source(k) == click.core.ParameterSource.DEFAULT else v)
                 for k, v in hyper.items()}
    cfg = config.PretrainConfig(**hyper)
    progress = _TrainProgress()
    try:
        vectors = pretrain_text(
            corpus, out, cfg, overwrite=overwrite, resume=resume, binary=binary,
            tensorboard_dir=tensorboard, update=update, progress=progress,
        )
    finally:
        progress.close()
    with open(os.path.join(out, "config.json")) as f:
        run = json.load(f)
    c, t = run["corpus"], run["training"]
    click.echo(
        f"Trained {len(vectors):,} word vectors of size {vectors.dim} on {c['words']:,} words "
        f"({counted(c['lines'], 'line')}), {counted(t['epochs'], 'epoch')}, in {t['seconds']:.1f}s, "
        f"{t['words_per_second']:,} words/s."
    )
    if update:
        rehearsed = (f"{c['replayed_words']:,} words ({c['replayed_lines']:,} lines) of its earlier text rehearsed"
                     if "replayed_words" in c else "no earlier text rehearsed")
        new = c["new_words"]
        click.echo(f"Updated from {update}: {counted(new, 'new word')}, {rehearsed}.")
    click.echo(f"Saved to {out}/ (vectors.txt, vocab.tsv, config.json, projector/, module/).")


def _word_vectors(path: str):
    """The vectors of VECTORS_DIR; of an export directory, those of its latest version's text module."""
    from pathlib import Path

    from tfxfer.text.vectors import VECTORS_TXT, WordVectors

    found = Path(path)
    if found.is_dir() and not (found / VECTORS_TXT).is_file() and not (found.parent / VECTORS_TXT).is_file():
        # A SavedModel (or an export of them), read with TensorFlow: started here, its log hidden.
        start_tensorflow()
        from tfxfer.errors import DataError
        from tfxfer.export.predict import resolve_export

        try:
            found = resolve_export(found)
        except DataError:
            pass  # not an export: WordVectors says what it wants
    return WordVectors.load(found)


@main.command("similar", short_help="Nearest neighbours of words in word vectors.")
@click.argument("vectors_dir", type=click.Path(exists=True))
@click.argument("words", nargs=-1, required=True)
@click.option("--topn", default=config.SIMILAR_TOPN, show_default=True, help="Neighbours per word.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@library_errors(tensorflow=False)
def similar_command(vectors_dir, words, topn, as_json):
    """Nearest neighbours of WORDS in the vectors of VECTORS_DIR.

    VECTORS_DIR: the --out of pretrain-text, a text module or an export fitted on one, or a word-vector
    file of another tool (GloVe, fastText .vec or .bin, word2vec text or .bin; its first 200,000 words,
    lowercased). A quoted phrase ("ice cream") gets the neighbours of its words together (gensim's
    most_similar of them all).
    """
    vectors = _word_vectors(vectors_dir)
    keys = {w: vectors.query_words(w) for w in words}  # as the tokenizer reads texts
    if not any(keys.values()):
        raise click.ClickException(f"No words in {', '.join(map(repr, words))}: give words (or phrases) to "
                                   "find the neighbours of.")
    known = {w: [k for k in key if k in vectors] for w, key in keys.items()}
    if not any(known.values()):
        vectors.most_similar([k for key in keys.values() for k in key])  # raises the error that names them
    for word, key in keys.items():
        missing = [k for k in key if k not in vectors]
        if not known[word]:
            click.echo(f"Warning: {word!r} is not in the vocabulary ({len(vectors):,} lowercased words).", err=True)
        elif missing:
            click.echo(f"Warning: {', '.join(map(repr, missing))} of {word!r} not in the vocabulary: the neighbours "
                       "of its other words.", err=True)
    result = {w: vectors.most_similar(k, topn=topn) for w, k in known.items() if k}
    if as_json:
        echo_json({w: [[n, round(s, 4)] for n, s in r] for w, r in result.items()})
        return
    for word, neighbours in result.items():
        together = f" ({' + '.join(known[word])})" if len(known[word]) > 1 else ""
        click.echo(f"{word}{together}: " + ", ".join(f"{n} ({s:.3f})" for n, s in neighbours))


@main.command("evaluate-embeddings", short_help="Analogy and similarity scores of word vectors.")
@click.argument("vectors_dir", type=click.Path(exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@library_errors(tensorflow=False)
def evaluate_embeddings_command(vectors_dir, as_json):
    """Analogy accuracy and word-similarity correlations of VECTORS_DIR.

    VECTORS_DIR: the --out of pretrain-text, a text module or an export fitted on one, or a word-vector
    file of another tool (GloVe, fastText .vec or .bin, word2vec text or .bin), to compare with. Uses the
    benchmarks gensim ships: questions-words.txt (analogies), wordsim353.tsv and simlex999.txt
    (Spearman correlation with human scores).
    """
    from tfxfer.text.evaluate import evaluate_embeddings

    result = evaluate_embeddings(_word_vectors(vectors_dir))
    if as_json:
        echo_json(result)
        return
    accuracy = result["analogy_accuracy"]
    accuracy = "n/a (too few questions answerable)" if accuracy is None else f"{accuracy:.3f}"
    click.echo(f"analogy accuracy   {accuracy}  ({result['analogy_questions']} questions answerable)")
    for name in ("wordsim353", "simlex999"):
        r = result[name]
        spearman = "n/a (too few pairs in the vocabulary)" if r["spearman"] is None else f"{r['spearman']:.3f}"
        click.echo(f"{name:<18} spearman {spearman}  ({r['oov_ratio']:.1f}% pairs out of vocabulary)")
