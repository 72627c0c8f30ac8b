"""Commands on features, heads and exports: embed, fit-head, predict, evaluate, suggest."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tfxfer import config
from tfxfer.cli import main
from tfxfer.cli.common import (
    column_options,
    echo_json,
    input_column_option,
    input_range_option,
    preprocessor_option,
    library_errors,
    progress_bar,
    progress_counter,
)


@main.command("embed", short_help="Feature vectors of images or texts.")
@click.argument("input_data")
@click.option("--features", "-f", "features_spec", required=True, help="Feature module: TF-Hub handle, SavedModel directory, .tar.gz or .zip, Keras .keras or .h5 file, or word vectors (GloVe/fastText/word2vec).")
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False), help="Output .npz file.")
@click.option("--image-size", type=int, help="Image size for image modules that accept any size.  [default: 1.3x the size the module declares, else 288]")
@input_range_option
@preprocessor_option
@click.option("--cache-dir", type=click.Path(file_okay=False), help="Feature cache directory.  [default: ~/.cache/tfxfer]")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the feature cache.")
@click.option("--augment", default=0, show_default=True, help="Augmented views per image (flip, crop, brightness).")
@click.option("--projector", type=click.Path(file_okay=False), help="Also write a TensorBoard Embedding Projector "
              "folder here (labels and items as metadata, photos as thumbnails): tensorboard --logdir DIR.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out file (and --projector folder).")
@click.option("--skip-bad-rows", is_flag=True, help="Go on without labeled rows that cannot be used (empty labels, "
              "empty texts), with a warning naming them.")
@column_options
@library_errors
def embed_command(input_data, features_spec, out, image_size, input_range, preprocessor, cache_dir, no_cache, augment,
                  projector, overwrite, skip_bad_rows, columns):
    """Compute the feature vectors of INPUT_DATA with a feature module.

    INPUT_DATA is a folder with one subfolder of images per class, a CSV/TSV/.xlsx/.parquet of
    path,label, a folder of images without classes or a list of paths, or for text modules labeled text (CSV/TSV/.xlsx/.parquet, JSON Lines, fastText
    __label__ lines, class folders of .txt files, nltk:NAME) or a text file
    with one text per line. Writes features, labels and items (file paths or
    texts) to an .npz for your own models, and with --projector a folder for
    TensorBoard's Embedding Projector. Image features are cached, and those of
    slow text modules (BERT-style encoders), so a second run on the same data
    extracts nothing.

    Example: tfxfer embed photos/ --features models/efficientnet --out feats.npz
    """
    from tfxfer.features.embed import embed

    bar = progress_bar("Extracting")
    try:
        result = embed(
            input_data, features_spec, out, image_size=image_size, input_range=input_range,
            preprocessor=preprocessor, cache_dir=cache_dir,
            use_cache=not no_cache, augment=augment, overwrite=overwrite, columns=columns,
            skip_bad_rows=skip_bad_rows, projector=projector,
            progress=bar,
        )
    finally:
        bar.close()
    n, dim = result.features.shape
    repeats = n - result.extracted - result.cached if not result.views.any() else 0  # texts computed once
    click.echo(
        f"Wrote {n:,} feature vectors of size {dim} to {out} ({result.extracted:,} extracted, "
        f"{result.cached:,} from cache, " + (f"{repeats:,} repeated, " if repeats > 0 else "")
        + f"{len(result.skipped)} skipped)."
    )
    if projector:
        click.echo(f"Projector folder {projector}/: tensorboard --logdir {projector} (Projector tab), or load its "
                   "vectors.tsv and metadata.tsv at projector.tensorflow.org.")


@main.command("fit-head", short_help="A head on a few labels -> a TF Serving export.")
@click.option("--features", "-f", "features_spec", required=True, help="Feature module: TF-Hub handle, SavedModel directory (e.g. the module/ of pretrain-text), .tar.gz or .zip, "
                   "Keras .keras or .h5 (a classifier it ends in is left out), or word vectors (GloVe .txt, "
                   "fastText .vec or .bin, word2vec .bin).")
@click.option("--train", "-t", "train_data", required=True, multiple=True,
              help="Labeled training data (see above); repeat it to merge several files (e.g. a filled-in suggest CSV), "
                   "or name them with a quoted glob pattern ('data/train-*.parquet').")
@click.option("--out", "-o", "export_dir", required=True, type=click.Path(file_okay=False), help="Export directory; the model goes to OUT/NAME/VERSION.")
@click.option("--name", default=config.EXPORT_NAME, show_default=True,
              help="Model name (TF Serving's, in its URLs: letters, digits, '_', '.' and '-').")
@click.option("--version", type=int, help="Version number.  [default: highest existing + 1]")
@click.option("--head", type=click.Choice(["auto", "linear", "hidden"]), default="auto", show_default=True,
              help="auto: a linear head searched by cross-validation; linear: C=1 on unit-length rows; "
                   "hidden: one 128-unit ReLU layer with dropout, stopped early.")
@click.option("--unlabeled", "-u", "unlabeled_data",
              help="Unlabeled examples of the same kind: a text file (one text per line) or a table's text column; "
                   "a folder (or CSV) of images. "
                   "Cross-validation decides whether and how much to use them; the report gives the gain "
                   "with its standard error.")
@click.option("--lexical/--no-lexical", default=None,
              help="Text modules: whether the head also sees each text's hashed words and character 2-4-grams "
                   f"(weighted by idf from {config.LEXICAL_IDF_MIN_TEXTS} training texts on; pairs of adjacent "
                   f"words too from {config.LEXICAL_BIGRAM_MIN_TEXTS:,}, and words and n-grams scaled to unit length apart "
                   f"with damped counts from {config.LEXICAL_BLOCKS_MIN_TEXTS:,}), which keep what a "
                   "sentence vector loses (words out of the vocabulary, spelling, punctuation). Linear heads only.  "
                   f"[default: kept where they lower the cross-validated log loss by {config.LEXICAL_MARGIN:g} "
                   "standard errors]")
@click.option("--class-weight", type=click.Choice(["balanced", "none"]), default=config.HEAD.class_weight or "none",
              show_default=True,
              help="balanced: every class weighs the same, and answers are shifted so that they weigh classes "
                   "equally (rare classes are found, at some cost in accuracy on the common ones). none: every "
                   "example weighs the same, for accuracy on data as imbalanced as the labels.")
@click.option("--abstain-below", type=float,
              help=f"Probability in (0, 1): where the answer's is below it, the export's `classes` says "
                   f"'{config.REJECT_LABEL}'.")
@click.option("--fine-tune", is_flag=True, help="Then also train the feature module's variables, with a small learning rate.")
@click.option("--validation", "validation_data", help="Held-out labeled data for a validation report.")
@click.option("--validation-split", type=float, help="Hold out this fraction of --train instead (stratified).")
@click.option("--image-size", type=int, help="Image size for image modules that accept any size.  [default: 1.3x the size the module declares, else 288]")
@input_range_option
@preprocessor_option
@click.option("--augment", default=0, show_default=True, help="Augmented views per training image (flip, crop, brightness).")
@click.option("--cache-dir", type=click.Path(file_okay=False), help="Feature cache directory.  [default: ~/.cache/tfxfer]")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the feature cache.")
@click.option("--skip-bad-rows", is_flag=True, help="Train without labeled rows that cannot be used (empty labels, "
              "wrong column counts...), counted in the report, instead of stopping.")
@click.option("--seed", default=config.HEAD.seed, show_default=True, help="Random seed (folds, initialisation, augmentation).")
@click.option("--overwrite", is_flag=True, help="Replace an existing --version.")
@click.option("--allow-new-classes", is_flag=True, help="Let this version add classes the latest one lacks; their "
              "scores follow its columns, which keep their positions.")
@click.option("--require-improvement", is_flag=True, help="Refuse to export a version worse than the latest one by "
              "more than the noise (compared on the new data's cross-validation folds).")
@column_options
@library_errors
def fit_head_command(features_spec, train_data, export_dir, name, version, head, unlabeled_data, lexical, class_weight,
                     abstain_below, fine_tune, validation_data, validation_split, image_size, input_range,
                     preprocessor, augment,
                     cache_dir, no_cache, skip_bad_rows, seed, overwrite, allow_new_classes, require_improvement,
                     columns):
    """Train a small classifier on a feature module and export it for TF Serving.

    Training data for text modules: a CSV/TSV, an Excel .xlsx, a Parquet or JSON Lines (.jsonl, or a
    .json array) with text and label columns (found by their names, or named
    with --input-column and --label-column), fastText lines (__label__pos
    great film) or lines that start with their label (pos great film), a
    folder of <label>.txt or NAME.<label> files (one example per line) or of
    <label>/ folders of text files (one example per file, as aclImdb), or
    nltk:NAME (a categorized corpus such as nltk:sentence_polarity;
    nltk:nps_chat, posts by dialogue act; nltk:names, names by gender). For
    image modules: a folder with one subfolder per class, or a CSV/TSV/.xlsx/.parquet/JSON
    Lines of path,label.

    A text head sees each text's sentence vector and, where cross-validation
    finds they help (or with --lexical), its hashed words and character n-grams. The head's regularisation, its
    input normalisation (unit-length rows, standardised columns, or both) and
    its use of --unlabeled examples
    (pseudo-labels from label spreading, where the head fitted on the labels
    alone agrees) are chosen by cross-validated log
    loss (stratified k-fold, tiny sets too); a choice other
    than the plain one must win clearly. Scores are calibrated: a
    temperature fitted on the out-of-fold predictions (of three cross-validations
    for up to 100 examples), applied in the export. Imbalanced classes weigh the
    same in training, and a bias per class fitted out of fold keeps the answers
    from leaning to the common ones (--class-weight none: every example weighs
    the same, for accuracy where new data is as imbalanced as the labels). The report (cross-validated
    accuracy, per-class metrics, confusion matrix, calibration, misclassified
    examples, learning curve with a forecast of what more labels would give)
    is printed and written to OUT/NAME/reports/VERSION/ (report.html: all of it on one page).

    The export OUT/NAME/VERSION is one SavedModel (feature module + head) whose
    serving_default signature takes raw text (`text`) or encoded images
    (`image_bytes`) and returns `scores`, `classes` (the top score's label) and
    `probabilities` (the scores corrected for the training labels' class
    frequencies, where the head weighed imbalanced classes equally: the chance
    each class is right); OUT/models.config and OUT/README.md tell how to serve
    it with TF Serving.

    Example: tfxfer fit-head -f runs/vectors/module -t data/labeled.tsv -o runs/export
    """
    from tfxfer.fitting import fit_head
    from tfxfer.head.report import summary_text
    from tfxfer.metrics import TEXT_MATRIX_CLASSES

    bars = {}

    def progress(stage, done, total):
        if stage not in bars:
            for bar in bars.values():
                bar.close()
            bars[stage] = progress_bar(stage.capitalize())
        bars[stage](done, total)

    try:
        fitted = fit_head(
            features_spec, train_data, validation=validation_data, validation_split=validation_split, head=head,
            unlabeled=unlabeled_data, lexical=config.LEXICAL if lexical is None else lexical,
            abstain_below=abstain_below,
            class_weight=None if class_weight == "none" else class_weight, fine_tune=fine_tune, image_size=image_size,
            input_range=input_range, preprocessor=preprocessor, augment=augment, cache_dir=cache_dir,
            use_cache=not no_cache, skip_bad_rows=skip_bad_rows,
            columns=columns, seed=seed, export_dir=export_dir, name=name, version=version, overwrite=overwrite,
            allow_new_classes=allow_new_classes, require_improvement=require_improvement, progress=progress,
        )
    finally:
        for bar in bars.values():
            bar.close()
    path = fitted.export_path
    _data_warnings(fitted.report.get("data") or {})
    click.echo(summary_text(fitted.report, classes_shown=TEXT_MATRIX_CLASSES))
    click.echo(f"\nExported {path}/ (report in {path.parent}/reports/{path.name}/, all on one page in its report.html; "
               f"serve with {fitted.serving_readme}).")


def _data_warnings(data: dict) -> None:
    """Rows of labeled data left out or mended (`LabeledData.summary()`), on stderr, one line each."""
    from tfxfer.data.labeled_data import skipped_lines
    from tfxfer.errors import counted

    if data.get("invalid_utf8_lines"):
        invalid = data["invalid_utf8_lines"]
        click.echo(f"Warning: {counted(invalid, 'line')} of {data['source']} {'was' if invalid == 1 else 'were'} "
                   "not valid UTF-8; invalid bytes were replaced.", err=True)
    skipped_rows = data.get("skipped") or []
    if skipped_rows:
        click.echo(f"Warning: {len(skipped_rows)} of {data['rows']} rows of {data['source']} skipped:", err=True)
        for line in skipped_lines(skipped_rows):
            click.echo(f"  {line}", err=True)


@main.command("predict", short_help="Labels of texts or images with an export.")
@click.argument("export_dir", type=click.Path(exists=True))
@click.argument("inputs", nargs=-1)
@click.option("--out", "-o", type=click.Path(dir_okay=False),
              help="Write a CSV (input, label, the probability that it is right, a score column per class) "
                   "instead of printing; an Excel workbook if it ends .xlsx. Inputs read from a table keep its "
                   "other columns (an id), first, here and in --json.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out file.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@input_column_option
@library_errors
def predict_command(export_dir, inputs, out, overwrite, as_json, column):
    """Predict labels of INPUTS with an exported model.

    EXPORT_DIR is the --out of fit-head (or OUT/NAME, OUT/NAME/VERSION; the
    highest version is used). INPUTS are texts, or image paths and folders of
    images (searched recursively); @FILE reads one input per line from FILE,
    or the text (or path) column of a CSV/TSV/.xlsx/.parquet/JSON Lines FILE (such a file
    named without the @ is read the same way, with a warning); @- (or -, or
    no INPUTS from a pipe) reads one input per line from standard input.

    Example: tfxfer predict runs/export @new_reviews.csv --out predictions.csv
    """
    from tfxfer.atomic import check_writable
    from tfxfer.errors import counted
    from tfxfer.export.inputs import nonblank_lines
    from tfxfer.export.predict import ExportedModel

    if out:
        check_writable(Path(out), overwrite, directory=False)
    if not inputs and sys.stdin.isatty():
        raise click.UsageError("Missing argument 'INPUTS...': texts or image paths, @FILE, or @- for standard input.")
    # `cut -f1 new.tsv | tfxfer predict EXPORT`, as Unix tools read: "-" is no text anyone classifies.
    inputs = [("@-" if item == "-" else item) for item in inputs] or ["@-"]
    model = ExportedModel(export_dir)
    if "@-" in inputs:
        with click.open_file("-") as stdin:
            lines = nonblank_lines(stdin, "standard input")
        if not lines:
            raise click.ClickException("No inputs: standard input (@-) was empty.")
        inputs = [given for item in inputs for given in (lines if item == "@-" else [item])]
    given = model.read_inputs(inputs, column)
    items = given.items
    if not items:
        raise click.ClickException("No inputs: the folders given hold no images.")
    bar = progress_bar("Predicting")
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        written, skipped = model.write_predictions(given, out, bar)  # logs the inputs it skips
        bar.close()
        click.echo(f"Wrote {counted(written, 'prediction')} to {out}"
                   f"{f' ({len(skipped)} skipped)' if skipped else ''}.")
        return
    result = model.run(items, bar)  # logs the inputs it skips
    bar.close()
    if not result.positions:
        raise click.ClickException(f"None of the {len(items)} inputs could be read.")
    labeled = list(zip(result.positions, result.labeled(model.labels)))
    if as_json:  # a table's other columns first, as --out writes them
        records = [{**dict(zip(given.columns, given.cells[p])), "input": items[p], "label": label,
                    "probability": round(q, 4)} for p, (label, q) in labeled]
        echo_json(records)
        return
    rows = [(items[p], label, q) for p, (label, q) in labeled]
    from tfxfer.metrics import shown_item

    for item, label, probability in rows:  # a text on one line and cut short: --out and --json keep it whole
        click.echo(f"{label}\t{probability:.3f}\t{shown_item(item, model.kind)}")


@main.command("evaluate", short_help="Metrics of an export on labeled data.")
@click.argument("export_dirs", metavar="EXPORT_DIR...", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--data", "-d", required=True, help="Labeled data, in any format fit-head reads.")
@click.option("--plot", type=click.Path(dir_okay=False), default="confusion_matrix.png", show_default=True,
              help="Where to draw the confusion matrix (of one export; not drawn when comparing); for image "
                   "models the most confident mistakes go to mistakes.png beside it.")
@click.option("--skip-bad-rows", is_flag=True, help="Evaluate without labeled rows that cannot be used.")
@click.option("--out", "-o", type=click.Path(dir_okay=False),
              help="Also write every example (input, true_label, the model's label, right, its probability, a "
                   "score column per class) to this CSV, or an Excel workbook if it ends .xlsx: to read the "
                   "mistakes, sorted as you like. A table's other columns (an id) come first. One EXPORT_DIR.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out file.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@column_options
@library_errors
def evaluate_command(export_dirs, data, plot, skip_bad_rows, out, overwrite, as_json, columns):
    """Accuracy (with its 95% interval), per-class metrics, confusion matrix, calibration and the most
    confident mistakes of an exported model on DATA.

    Inputs that cannot be read (an undecodable image) are skipped, named and counted.

    With several EXPORT_DIRs (models on other feature modules, or other
    labels), each is scored on DATA and compared with the first, paired on
    the same examples: the difference in accuracy with its 95% interval and
    McNemar's test on the examples one gets right and the other wrong.

    Example: tfxfer evaluate runs/own-vectors runs/nnlm --data test.csv
    """
    if len(export_dirs) > 1:
        from tfxfer.export.compare import compare_exports, comparison_text

        if out:
            raise click.ClickException("--out writes the examples of one model: pass one EXPORT_DIR with it.")

        result = compare_exports(export_dirs, data, skip_bad_rows, columns)
        if as_json:
            echo_json(result)
        else:
            click.echo(comparison_text(result))
        return
    from tfxfer.atomic import check_plot_replaceable, check_writable, refuse_url
    from tfxfer.data.delimited import write_table
    from tfxfer.export.inputs import Inputs
    from tfxfer.export.predict import ExportedModel
    from tfxfer.metrics import evaluation_text, plot_confusion_matrix, plot_mistakes

    refuse_url(plot)  # before scoring: the plot is drawn last
    check_plot_replaceable(plot)
    if out:
        check_writable(Path(out), overwrite, directory=False)
    model = ExportedModel(export_dirs[0])
    sheet = Path(plot).with_name("mistakes.png" if Path(plot).name != "mistakes.png" else "mistakes_sheet.png")
    if model.kind == "image":  # its most confident mistakes are drawn beside the plot
        check_plot_replaceable(sheet, "the mistakes are drawn beside --plot: choose a --plot in another folder")
    read = model.labeled(data, skip_bad_rows, columns, keep_columns=bool(out))
    _data_warnings(read.summary())  # as fit-head's: rows --skip-bad-rows left out are not scored
    items, labels = read
    bar = progress_bar("Scoring")
    result, predictions = model.evaluate_items(items, labels, str(data), bar)  # logs the inputs it skips
    bar.close()
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        given = Inputs()  # the test table's own columns (an id...) first, to join the mistakes back on
        given.add(items, read.other_cells)
        write_table(out, predictions.rows(items, model.labels, truth=labels, given=given))
    # The figures first: a plot that cannot be written must not lose them.
    if as_json:
        echo_json(result)
    else:
        click.echo(evaluation_text(result, model.kind))
    name, drawn = Path(str(data)).name, f"Confusion matrix drawn in {plot}"
    try:
        Path(plot).parent.mkdir(parents=True, exist_ok=True)
        plot_confusion_matrix(result["confusion_matrix"], result["classes"], Path(plot), f"Confusion matrix: {name}")
        if model.kind == "image" and result["misclassified"] and plot_mistakes(
                result["misclassified"], sheet, f"Most confident mistakes on {name}: label -> answer"):
            drawn += f", the most confident mistakes in {sheet}"
    except OSError as e:
        raise click.ClickException(f"Cannot write the plot {plot!r}: {e.strerror or e}. Pass --plot with a "
                                   "writable path.") from None
    if not as_json:
        click.echo(f"\n{drawn}" + (f"; every example written to {out}" if out else ""))


@main.command("suggest", short_help="Which unlabeled examples to label next.")
@click.argument("export_dir", type=click.Path(exists=True))
@click.option("--pool", "-p", required=True, help="Unlabeled examples: a text file (one per line), a CSV/TSV/.xlsx/.parquet/JSON Lines (its text "
              "column), a folder of text files or nltk:NAME; or a folder (or CSV) of images. A quoted glob pattern "
              "('pool-*.txt') names several.")
@click.option("-n", "n", default=config.SUGGEST_N, show_default=True, help="How many examples to suggest.")
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False), help="The CSV to write (item,label,guess,score); an Excel workbook to fill in if it ends .xlsx.")
@click.option("--cache-dir", type=click.Path(file_okay=False), help="Feature cache directory.  [default: ~/.cache/tfxfer]")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the feature cache.")
@click.option("--strategy", type=click.Choice(config.SUGGEST_STRATEGIES), default=config.SUGGEST_STRATEGY,
              show_default=True, help="typical: examples that stand for many others, from the parts of the pool "
              "the training examples cover least; uncertain: those the model is least sure of, spread apart; auto: "
              f"uncertain where the model's largest training class is {config.SUGGEST_UNCERTAIN_FROM_RATIO:g}x its "
              "smallest or more, typical otherwise.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the pool sample and the clustering.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out file.")
@input_column_option
@library_errors
def suggest_command(export_dir, pool, n, out, cache_dir, no_cache, strategy, seed, overwrite, column):
    """Which examples of a pool to label next, for an exported model.

    By default (--strategy auto: typical, TypiClust) the pool and the
    training examples are clustered on the model's features, and from the
    clusters the training examples cover least come the examples most like
    their neighbours: with a few labels, these teach a model more than the
    ones it is unsure of. For a model trained on strongly imbalanced labels,
    auto picks the examples it is least sure of instead, which find the rare
    classes (both measured: scripts/bench_active.py in the README). The pool
    is streamed, so it may be large (a random 5,000 are clustered); examples
    the model was trained on are skipped. Writes a CSV (or .xlsx) with an empty label
    column and the model's guess beside it: fill in the labels, then pass it
    to fit-head --train together with the earlier labels.

    Example: tfxfer suggest runs/export --pool unlabeled.txt -n 20 --out to_label.csv
    """
    from tfxfer.errors import counted
    from tfxfer.metrics import shown_item
    from tfxfer.suggest import suggest

    counter = progress_counter("Read", "pool examples")  # some are skipped, not scored
    try:
        result = suggest(export_dir, pool, n, out, overwrite=overwrite, cache_dir=cache_dir, use_cache=not no_cache,
                         progress=counter, strategy=strategy, seed=seed, column=column)
    finally:
        counter.close()
    if result.strategy == "uncertain":
        click.echo(f"Picked the examples the model is least sure of: {result.why or 'as asked'}.")
    else:  # else a newcomer wonders why a model sure of an example asks for its label
        click.echo("Picked typical examples of the parts of the pool the training examples cover least, whatever "
                   "the model's score (--strategy uncertain: the ones it is least sure of).")
    width = max((len(g) for g in result.guesses), default=5)
    for item, guess, score in zip(result.items, result.guesses, result.scores):  # texts on one line; the CSV has all
        click.echo(f"{guess:<{width}}  {score:.2f}  {shown_item(item, 'image' if result.images else 'text')}")
    click.echo(f"\nWrote {counted(len(result.items), 'suggestion')} from {counted(result.pool, 'pool example')} "
               f"to {out}: fill in its "
               "label column, then fit-head --train your earlier labels and it.")
