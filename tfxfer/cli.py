"""The `tfxfer` command line: each command parses options, calls one library
function and formats its result. Library errors become `Error: ...` lines."""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from pathlib import Path

import click

from tfxfer import config

# Before TensorFlow is imported anywhere: keep its C++ start-up chatter out of the CLI.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

P = config.PRETRAIN


def _start_tensorflow(verbose: int) -> None:
    """Import TensorFlow and initialise its devices with its C++ start-up log hidden.

    TensorFlow writes those lines (oneDNN, CUDA probing) straight to file
    descriptor 2 before any logging setting applies; they alarm users and say
    nothing about their run. They are kept with -v, and replayed if the import fails.
    """
    if verbose or "tensorflow" in sys.modules:
        return
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()
        except BaseException:
            os.dup2(saved, 2)
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _library_errors(func):
    """Turn tfxfer's typed errors into one-line `Error: ...` exits without traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from tfxfer.errors import TfxferError, TrainingInterrupted

        _start_tensorflow(click.get_current_context().find_root().params.get("verbose", 0))
        try:
            return func(*args, **kwargs)
        except TrainingInterrupted as e:
            click.echo(f"\n{e}", err=True)
            sys.exit(130)
        except TfxferError as e:
            raise click.ClickException(str(e)) from None
        except BrokenPipeError:  # the output was piped to `head`: nothing to report
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(0)
        except OSError as e:  # the disk, not the code: a full disk, a path that changed under us
            where = f" {e.filename!r}" if e.filename else ""
            raise click.ClickException(f"Cannot access{where}: {e.strerror or e}. Check the path, its "
                                       "permissions and the free disk space.") from None

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tfxfer")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(verbose):
    """tfxfer: transfer learning for small labeled data.

    \b
    pretrain-text   word vectors on unlabeled text -> a text feature module
    embed           feature vectors of images or texts with any feature module
    fit-head        a small classifier on few labels -> SavedModel for TF Serving
    predict         labels of texts or images with an exported model
    suggest         which unlabeled examples to label next
    serve           TF Serving's REST and gRPC APIs locally, with a page to try models
    evaluate        metrics of an exported model on labeled data
    similar, evaluate-embeddings   inspect word vectors
    """
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    library = logging.getLogger("tfxfer")
    library.setLevel(level)
    library.handlers = [_EchoHandler()]
    library.propagate = False


class _EchoHandler(logging.Handler):
    """The library's log records on stderr as the CLI's own lines: `Warning: ...`."""

    def emit(self, record):
        prefix = {logging.WARNING: "Warning: ", logging.ERROR: "Error: ", logging.CRITICAL: "Error: ",
                  logging.INFO: ""}.get(record.levelno, f"{record.levelname} {record.name}: ")
        click.echo(prefix + record.getMessage(), err=True)


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


@main.command("pretrain-text")
@click.argument("corpus", nargs=-1, required=True)
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False), help="Output directory (must not exist unless --overwrite).")
@click.option("--dim", default=P.dim, show_default=True, help="Size of the word vectors.")
@click.option("--window", default=P.window, show_default=True, help="Largest context window (dynamic, as word2vec).")
@click.option("--negatives", default=P.negatives, show_default=True, help="Noise words per pair for NCE (unigram^0.75).")
@click.option("--epochs", default=P.epochs, show_default=True, help="Passes over the corpus.")
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
@_library_errors
def pretrain_text_command(corpus, out, binary, tensorboard, update, resume, overwrite, **hyper):
    """Learn skip-gram word vectors (NCE loss) on unlabeled text.

    CORPUS is one or more UTF-8 text files (one sentence or paragraph per line;
    .gz works), directories of them, or NLTK corpora by name (nltk:brown),
    streamed: memory is bounded by the vocabulary, not the corpus.

    OUT receives vectors.txt (word2vec format, for gensim), vocab.tsv,
    config.json, projector/ (TensorBoard Embedding Projector) and module/, a
    SavedModel mapping raw strings to sentence vectors.

    With --update DIR, the vectors of the earlier output DIR keep training on
    CORPUS (new text) and words new to the vocabulary join: OUT is a complete
    new output, at the cost of the new text only.

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
        f"({c['lines']:,} lines) in {t['seconds']:.1f}s, {t['words_per_second']:,} words/s."
    )
    click.echo(f"Saved to {out}/ (vectors.txt, vocab.tsv, config.json, projector/, module/).")


def _counter(verb: str, what: str):
    """A progress callback `(done)` for work of unknown size: a count rewritten in place on stderr."""
    state = {"shown": 0}

    def update(done: int):
        if done - state["shown"] >= 10000 or (done and not state["shown"]):
            click.echo(f"\r{verb} {done:,} {what}...", err=True, nl=False)
            state["shown"] = done

    def close():
        if state["shown"]:
            click.echo("", err=True)

    update.close = close
    return update


def _progress_bar(label: str):
    """A progress callback `(done, total)` drawing a click progress bar on stderr."""
    state = {"bar": None, "done": 0}

    def update(done: int, total: int):
        if state["bar"] is None:
            state["bar"] = click.progressbar(length=total, label=label, file=sys.stderr, show_eta=True, show_pos=True)
            state["bar"].__enter__()
        state["bar"].update(done - state["done"])
        state["done"] = done

    def close():
        if state["bar"] is not None:
            state["bar"].__exit__(None, None, None)

    update.close = close
    return update


@main.command("embed")
@click.argument("input_data")
@click.option("--features", "-f", "features_spec", required=True, help="Feature module: TF-Hub handle, SavedModel directory or .tar.gz.")
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False), help="Output .npz file.")
@click.option("--image-size", type=int, help="Image size for image modules that accept any size.  [default: 1.3x the size the module declares, else 288]")
@click.option("--cache-dir", type=click.Path(file_okay=False), help="Feature cache directory.  [default: ~/.cache/tfxfer]")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the feature cache.")
@click.option("--augment", default=0, show_default=True, help="Augmented views per image (flip, crop, brightness).")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out file.")
@_library_errors
def embed_command(input_data, features_spec, out, image_size, cache_dir, no_cache, augment, overwrite):
    """Compute the feature vectors of INPUT_DATA with a feature module.

    INPUT_DATA is a folder with one subfolder of images per class, a CSV/TSV of
    path,label, or for text modules labeled text (CSV/TSV, fastText
    __label__ lines, class folders of .txt files, nltk:NAME) or a text file
    with one text per line. Writes features, labels and items (file paths or
    texts) to an .npz for your own models. Image features are cached, so a
    second run on the same data extracts nothing.

    Example: tfxfer embed photos/ --features models/efficientnet --out feats.npz
    """
    from tfxfer.features.embed import embed

    bar = _progress_bar("Extracting")
    try:
        result = embed(
            input_data, features_spec, out, image_size=image_size, cache_dir=cache_dir,
            use_cache=not no_cache, augment=augment, overwrite=overwrite, progress=bar,
        )
    finally:
        bar.close()
    n, dim = result.features.shape
    click.echo(
        f"Wrote {n:,} feature vectors of size {dim} to {out} ({result.extracted:,} extracted, "
        f"{result.cached:,} from cache, {len(result.skipped)} skipped)."
    )


@main.command("fit-head")
@click.option("--features", "-f", "features_spec", required=True, help="Feature module: TF-Hub handle, SavedModel directory (e.g. the module/ of pretrain-text) or .tar.gz.")
@click.option("--train", "-t", "train_data", required=True, multiple=True,
              help="Labeled training data (see above); repeat it to merge several files (e.g. a filled-in suggest CSV).")
@click.option("--out", "-o", "export_dir", required=True, type=click.Path(file_okay=False), help="Export directory; the model goes to OUT/NAME/VERSION.")
@click.option("--name", default=config.EXPORT_NAME, show_default=True, help="Model name (TF Serving's model name).")
@click.option("--version", type=int, help="Version number.  [default: highest existing + 1]")
@click.option("--head", type=click.Choice(["auto", "linear", "hidden"]), default="auto", show_default=True,
              help="auto: a linear head searched by cross-validation; linear: C=1 on unit-length rows; "
                   "hidden: one 128-unit ReLU layer with dropout, stopped early.")
@click.option("--unlabeled", "-u", "unlabeled_data",
              help="Unlabeled examples of the same kind: a text file (one text per line) or a folder (or CSV) of images. "
                   "Cross-validation decides whether and how much to use them.")
@click.option("--abstain-below", type=float,
              help=f"Calibrated score in (0, 1) below which the export's `classes` says '{config.REJECT_LABEL}'.")
@click.option("--fine-tune", is_flag=True, help="Then also train the feature module's variables, with a small learning rate.")
@click.option("--validation", "validation_data", help="Held-out labeled data for a validation report.")
@click.option("--validation-split", type=float, help="Hold out this fraction of --train instead (stratified).")
@click.option("--image-size", type=int, help="Image size for image modules that accept any size.  [default: 1.3x the size the module declares, else 288]")
@click.option("--augment", default=0, show_default=True, help="Augmented views per training image (flip, crop, brightness).")
@click.option("--cache-dir", type=click.Path(file_okay=False), help="Feature cache directory.  [default: ~/.cache/tfxfer]")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the feature cache.")
@click.option("--skip-bad-rows", is_flag=True, help="Train without labeled rows that cannot be used (empty labels, "
              "wrong column counts...), counted in the report, instead of stopping.")
@click.option("--seed", default=config.HEAD.seed, show_default=True, help="Random seed (folds, initialisation, augmentation).")
@click.option("--overwrite", is_flag=True, help="Replace an existing --version.")
@click.option("--require-improvement", is_flag=True, help="Refuse to export a version worse than the latest one by "
              "more than the noise (compared on the new data's cross-validation folds).")
@_library_errors
def fit_head_command(features_spec, train_data, export_dir, name, version, head, unlabeled_data, abstain_below,
                     fine_tune, validation_data, validation_split, image_size, augment, cache_dir, no_cache,
                     skip_bad_rows, seed, overwrite, require_improvement):
    """Train a small classifier on a feature module and export it for TF Serving.

    Training data for text modules: a CSV/TSV with text and label columns
    (header detected), fastText lines (__label__pos great film), a folder of
    <label>.txt files (one example per line), or nltk:NAME (a categorized
    corpus such as nltk:sentence_polarity). For image modules: a folder with
    one subfolder per class, or a CSV/TSV of path,label.

    The head's regularisation, its input normalisation (unit-length rows,
    standardised columns, or both) and its use of --unlabeled examples
    (pseudo-labels from label spreading) are chosen by cross-validated log
    loss (stratified k-fold; leave-one-out for tiny sets); a choice other
    than the plain one must win clearly. Scores are calibrated: a
    temperature fitted on the out-of-fold predictions, applied in the export. The report (cross-validated
    accuracy, per-class metrics, confusion matrix, calibration, misclassified
    examples, learning curve with a forecast of what more labels would give)
    is printed and written to OUT/NAME/reports/VERSION/.

    The export OUT/NAME/VERSION is one SavedModel (feature module + head) whose
    serving_default signature takes raw text (`text`) or encoded images
    (`image_bytes`) and returns `scores` and `classes`; OUT/models.config and
    OUT/README.md tell how to serve it with TF Serving.

    Example: tfxfer fit-head -f runs/vectors/module -t data/labeled.tsv -o runs/export
    """
    from tfxfer.fitting import fit_head
    from tfxfer.head.report import summary_text

    bars = {}

    def progress(stage, done, total):
        if stage not in bars:
            for bar in bars.values():
                bar.close()
            bars[stage] = _progress_bar(stage.capitalize())
        bars[stage](done, total)

    try:
        fitted = fit_head(
            features_spec, train_data, validation=validation_data, validation_split=validation_split, head=head,
            unlabeled=unlabeled_data, abstain_below=abstain_below, fine_tune=fine_tune, image_size=image_size,
            augment=augment, cache_dir=cache_dir, use_cache=not no_cache, skip_bad_rows=skip_bad_rows, seed=seed,
            export_dir=export_dir, name=name, version=version, overwrite=overwrite,
            require_improvement=require_improvement, progress=progress,
        )
    finally:
        for bar in bars.values():
            bar.close()
    path = fitted.export_path
    _data_warnings(fitted.report)
    click.echo(summary_text(fitted.report))
    click.echo(f"\nExported {path}/ (report in {path.parent}/reports/{path.name}/; serve with {export_dir}/README.md).")


def _data_warnings(report: dict) -> None:
    """Rows and files left out of training, on stderr, one line each."""
    data = report.get("data") or {}
    if data.get("invalid_utf8_lines"):
        click.echo(f"Warning: {data['invalid_utf8_lines']} line(s) of {data['source']} were not valid UTF-8; "
                   "invalid bytes were replaced.", err=True)
    skipped_rows = data.get("skipped") or []
    if skipped_rows:
        click.echo(f"Warning: {len(skipped_rows)} of {data['rows']} rows of {data['source']} skipped:", err=True)
        for row in skipped_rows:
            click.echo(f"  line {row['line']}: {row['reason']}", err=True)


@main.command("predict")
@click.argument("export_dir", type=click.Path(exists=True))
@click.argument("inputs", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_library_errors
def predict_command(export_dir, inputs, as_json):
    """Predict labels of INPUTS with an exported model.

    EXPORT_DIR is the --out of fit-head (or OUT/NAME, OUT/NAME/VERSION; the
    highest version is used). INPUTS are texts or image paths; @FILE reads
    one input per line from FILE.
    """
    from tfxfer.export.predict import ExportedModel

    items = []
    for item in inputs:
        if item.startswith("@"):
            try:
                with open(item[1:], encoding="utf-8", errors="replace") as f:
                    lines = [line.strip() for line in f if line.strip()]
            except OSError as e:
                raise click.ClickException(f"Cannot read {item[1:]!r}: {e.strerror}.") from None
            if not lines:
                raise click.ClickException(f"{item[1:]!r} holds no inputs (one text or image path per line).")
            items += lines
        else:
            items.append(item)
    model = ExportedModel(export_dir)
    result = model.run(items)  # logs the inputs it skips
    if not result.positions:
        raise click.ClickException(f"None of the {len(items)} inputs could be read.")
    rows = [(items[p], model.labels[int(s.argmax())], float(s.max())) for p, s in zip(result.positions, result.scores)]
    if as_json:
        click.echo(json.dumps([{"input": i, "label": l, "probability": round(p, 4)} for i, l, p in rows], indent=2))
        return
    for item, label, probability in rows:
        click.echo(f"{label}\t{probability:.3f}\t{item}")


@main.command("suggest")
@click.argument("export_dir", type=click.Path(exists=True))
@click.option("--pool", "-p", required=True, help="Unlabeled examples: a text file (one per line), a folder of text "
              "files or nltk:NAME; or a folder (or CSV) of images.")
@click.option("-n", "n", default=config.SUGGEST_N, show_default=True, help="How many examples to suggest.")
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False), help="The CSV to write (item,label,guess,score).")
@click.option("--cache-dir", type=click.Path(file_okay=False), help="Feature cache directory.  [default: ~/.cache/tfxfer]")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the feature cache.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out file.")
@_library_errors
def suggest_command(export_dir, pool, n, out, cache_dir, no_cache, overwrite):
    """Which examples of a pool to label next, for an exported model.

    Ranks the pool by how uncertain the model is about each example (the
    margin between its two top calibrated scores), picking examples far from
    each other so the suggestions are not near-duplicates. The pool is
    streamed, so it may be large; examples the model was trained on are
    skipped. Writes a CSV with an empty label column and the model's guess
    beside it: fill in the labels, then pass it to fit-head --train together
    with the earlier labels.

    Example: tfxfer suggest runs/export --pool unlabeled.txt -n 20 --out to_label.csv
    """
    from tfxfer.suggest import suggest

    counter = _counter("Scored", "pool examples")
    try:
        result = suggest(export_dir, pool, n, out, overwrite=overwrite, cache_dir=cache_dir, use_cache=not no_cache,
                         progress=counter)
    finally:
        counter.close()
    width = max((len(g) for g in result.guesses), default=5)
    for item, guess, score in zip(result.items, result.guesses, result.scores):
        click.echo(f"{guess:<{width}}  {score:.2f}  {item}")
    click.echo(f"\nWrote {len(result.items)} suggestions from {result.pool:,} pool examples to {out}: fill in its "
               "label column, then fit-head --train your earlier labels and it.")


@main.command("serve")
@click.argument("export_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--host", default=config.SERVE.host, show_default=True,
              help="Address to listen on; 0.0.0.0 accepts other machines.")
@click.option("--port", default=config.SERVE.port, show_default=True, help="REST port.")
@click.option("--grpc-port", default=config.SERVE.grpc_port, show_default=True, help="gRPC port (0: no gRPC).")
@click.option("--batching/--no-batching", default=config.SERVE.batching, show_default=True,
              help="Merge concurrent requests into one model call.")
@click.option("--max-batch-size", default=config.SERVE.max_batch_size, show_default=True,
              help="Most examples per merged call.")
@click.option("--batch-timeout-ms", default=config.SERVE.batch_timeout_ms, show_default=True,
              help="How long a batch that is not full waits for more requests (0: never waits).")
@click.option("--max-request-bytes", default=config.SERVE.max_request_bytes, show_default=True,
              help="Largest request body or gRPC message; larger ones get 413 / RESOURCE_EXHAUSTED.")
@click.option("--poll-seconds", default=config.SERVE.poll_seconds, show_default=True,
              help="How often new versions are looked for.")
@click.option("--quiet", "-q", is_flag=True, help="No request log.")
@_library_errors
def serve_command(export_dir, host, port, grpc_port, batching, max_batch_size, batch_timeout_ms, max_request_bytes,
                  poll_seconds, quiet):
    """Serve exported models over TF Serving's REST and gRPC APIs, with a page to try them.

    EXPORT_DIR is the --out of fit-head. Every model under it is served as
    TF Serving serves it: the same URLs, JSON, gRPC services and status
    codes, so client code works against tfxfer serve and tensorflow/serving
    alike. The highest version answers by default, any loaded one through
    /versions/N; new versions are loaded without a restart. Open the REST
    address in a browser to try a model and read its report.

    Example: tfxfer serve runs/export  then  curl -d '{"instances": ["some text"]}'
    localhost:8501/v1/models/NAME:predict
    """
    from tfxfer.serve.server import serve

    logging.getLogger("tfxfer.serve").setLevel(logging.INFO)
    logging.getLogger("tfxfer.serve.access").setLevel(logging.WARNING if quiet else logging.INFO)

    def started(info):
        if "rest" in info:
            click.echo(f"REST API and page: {info['rest']}/   gRPC: {info['grpc'] or 'off'}", err=True)
            if info["local_only"]:
                click.echo(f"Listening on {host} only: pass --host 0.0.0.0 to accept other machines.", err=True)
            else:
                click.echo(f"Listening on {host}: other machines can reach these models (no authentication).",
                           err=True)
        else:
            models = ", ".join(f"{n} (versions {', '.join(map(str, v)) or 'none loaded'})"
                               for n, v in info["models"].items())
            click.echo(f"Ready: {models or 'no models found'}. Ctrl-C to stop.", err=True)

    cfg = config.ServeConfig(host=host, port=port, grpc_port=grpc_port, batching=batching,
                             max_batch_size=max_batch_size, batch_timeout_ms=batch_timeout_ms,
                             max_request_bytes=max_request_bytes, poll_seconds=poll_seconds)
    serve(export_dir, cfg, started)
    click.echo("Stopped.", err=True)


@main.command("evaluate")
@click.argument("export_dir", type=click.Path(exists=True))
@click.option("--data", "-d", required=True, help="Labeled data, in any format fit-head reads.")
@click.option("--plot", type=click.Path(dir_okay=False), default="confusion_matrix.png", show_default=True, help="Where to draw the confusion matrix.")
@click.option("--skip-bad-rows", is_flag=True, help="Evaluate without labeled rows that cannot be used.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_library_errors
def evaluate_command(export_dir, data, plot, skip_bad_rows, as_json):
    """Accuracy, per-class metrics and confusion matrix of an exported model on DATA.

    Inputs that cannot be read (an undecodable image) are skipped, named and counted.
    """
    from tfxfer.export.predict import ExportedModel
    from tfxfer.metrics import confusion_text, metrics_table, plot_confusion_matrix

    model = ExportedModel(export_dir)
    result = model.evaluate(data, skip_bad_rows)  # logs the inputs it skips
    # The figures first: a plot that cannot be written must not lose them.
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        skipped = f" ({len(result['skipped'])} skipped)" if result["skipped"] else ""
        click.echo(f"{result['model']}: accuracy {result['accuracy']:.3f} on {result['examples']} examples{skipped}\n")
        click.echo(metrics_table(result))
        click.echo("\n" + confusion_text(result["confusion_matrix"], model.labels))
    try:
        plot_confusion_matrix(result["confusion_matrix"], model.labels, Path(plot),
                              f"Confusion matrix: {Path(str(data)).name}")
    except OSError as e:
        raise click.ClickException(f"Cannot write the plot {plot!r}: {e.strerror or e}. Pass --plot with a "
                                   "writable path.") from None
    if not as_json:
        click.echo(f"\nConfusion matrix drawn in {plot}")


@main.command("similar")
@click.argument("vectors_dir", type=click.Path(exists=True))
@click.argument("words", nargs=-1, required=True)
@click.option("--topn", default=config.SIMILAR_TOPN, show_default=True, help="Neighbours per word.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_library_errors
def similar_command(vectors_dir, words, topn, as_json):
    """Nearest neighbours of WORDS in the vectors of VECTORS_DIR."""
    from tfxfer.text.vectors import WordVectors

    vectors = WordVectors.load(vectors_dir)
    known = [w for w in words if w.lower() in vectors]
    unknown = [w for w in words if w.lower() not in vectors]
    if not known:
        vectors.most_similar([w.lower() for w in words])  # raises the error that names them
    for word in unknown:
        click.echo(f"Warning: {word!r} is not in the vocabulary ({len(vectors):,} words; lowercased tokens seen at "
                   "least min_count times).", err=True)
    result = {w: vectors.most_similar(w.lower(), topn=topn) for w in known}
    if as_json:
        click.echo(json.dumps({w: [[n, round(s, 4)] for n, s in r] for w, r in result.items()}, indent=2))
        return
    for word, neighbours in result.items():
        click.echo(f"{word}: " + ", ".join(f"{n} ({s:.3f})" for n, s in neighbours))


@main.command("evaluate-embeddings")
@click.argument("vectors_dir", type=click.Path(exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_library_errors
def evaluate_embeddings_command(vectors_dir, as_json):
    """Analogy accuracy and word-similarity correlations of VECTORS_DIR.

    Uses the benchmarks gensim ships: questions-words.txt (analogies),
    wordsim353.tsv and simlex999.txt (Spearman correlation with human scores).
    """
    from tfxfer.text.evaluate import evaluate_embeddings
    from tfxfer.text.vectors import WordVectors

    result = evaluate_embeddings(WordVectors.load(vectors_dir))
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    accuracy = result["analogy_accuracy"]
    accuracy = "n/a (too few questions answerable)" if accuracy is None else f"{accuracy:.3f}"
    click.echo(f"analogy accuracy   {accuracy}  ({result['analogy_questions']} questions answerable)")
    for name in ("wordsim353", "simlex999"):
        r = result[name]
        spearman = "n/a (too few pairs in the vocabulary)" if r["spearman"] is None else f"{r['spearman']:.3f}"
        click.echo(f"{name:<18} spearman {spearman}  ({r['oov_ratio']:.1f}% pairs out of vocabulary)")
