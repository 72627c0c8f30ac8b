"""What every command shares: TensorFlow's start-up, error handling, progress display."""

from __future__ import annotations

import atexit
import contextlib
import functools
import gc
import os
import re
import sys

import click


def _unicode(stream) -> bool:
    return (getattr(stream, "encoding", None) or "").lower().replace("-", "").startswith("utf")


def tolerant_output() -> None:
    """Let stdout and stderr write any text where their encoding cannot (a pipe on Windows is cp1252, a
    Latin-1 locale, PYTHONIOENCODING): what they cannot encode is written as escapes (`\\xe9`), where
    it was a UnicodeEncodeError traceback after the work was done."""
    for stream in (sys.stdout, sys.stderr):
        if not _unicode(stream) and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def echo_json(value) -> None:
    """Print `value` as indented JSON: its text as it is where stdout takes any text, else as `\\u`
    escapes, which every JSON reader reads back to the same text."""
    import json

    click.echo(json.dumps(value, indent=2, ensure_ascii=not _unicode(sys.stdout)))


def start_tensorflow() -> None:
    """Import TensorFlow and initialise its devices with its C++ start-up log hidden (kept with -v).

    TensorFlow writes those lines (oneDNN, CUDA probing) straight to file
    descriptor 2 before any logging setting applies; they alarm users and say
    nothing about their run. They are kept with -v, and replayed if the import fails.

    `import tensorflow` also imports Keras eagerly (`keras.src.optimizers`, to
    register optimizers for restoring training checkpoints), which pulls in
    scikit-learn and matplotlib: ~1.7 s of a 5 s start on 2 cores. Running or
    writing a SavedModel needs none of it, so it is skipped here; the modules
    that use Keras import it themselves (pretraining, fine-tuning, TF-Hub).

    At exit, what is alive then is left to the operating system: once Python clears
    its modules, everything TensorFlow built becomes garbage, and the last collection
    freed it object by object, 1 - 1.5 s of every command on 2 cores. Outputs are
    closed and renamed into place before a command returns, so nothing waits on it.
    """
    if "tensorflow" in sys.modules:
        return
    atexit.register(gc.freeze)
    with _imports_blocked(["keras.src.optimizers"]):
        _import_tensorflow(click.get_current_context().find_root().params.get("verbose", 0))


@contextlib.contextmanager
def _imports_blocked(names):
    """Make `import NAME` fail at once, for each of `names` not imported yet, until the block ends.

    For imports their importer guards (it catches the ImportError): a `None`
    entry in `sys.modules` fails them without searching, and is removed
    afterwards, so that the modules import normally for whatever needs them.
    """
    blocked = [name for name in names if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None
    try:
        yield
    finally:
        for name in blocked:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]


# Packages Keras integrates with when it finds them installed; none is one of its dependencies.
_KERAS_EXTRAS = ("sklearn", "pandas", "matplotlib")


def _import_keras_alone() -> None:
    """Import Keras without its integrations with scikit-learn, pandas and matplotlib.

    Keras imports them at start when they are installed (for its estimator
    wrappers, DataFrame inputs and image galleries): 1.3 of the 1.7 s its import
    takes on 2 cores. Keras does not depend on them, so each of those imports is
    guarded; pretraining uses none of the integrations, and the packages import
    normally afterwards for whatever else needs them.
    """
    if "keras" in sys.modules:
        return
    with _imports_blocked(_KERAS_EXTRAS):
        import keras  # noqa: F401


def _import_tensorflow(verbose: int) -> None:
    if verbose:
        import tensorflow  # noqa: F401

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


def column_options(func):
    """`--input-column` and `--label-column`, passed on as `columns` (`None` when neither is given)."""

    @click.option("--input-column", help="Column (or JSON key) of the texts or image paths in CSV/TSV/.xlsx/.parquet/JSON data: "
                                         "its header name, or its position (1, 2, ...) in a file without a header.  "
                                         "[default: found by its header name]")
    @click.option("--label-column", help="Column (or JSON key) of the labels, by name or position.  "
                                         "[default: found by its name]")
    @functools.wraps(func)
    def wrapper(*args, input_column=None, label_column=None, **kwargs):
        columns = (input_column, label_column) if input_column or label_column else None
        return func(*args, columns=columns, **kwargs)

    return wrapper


def input_range_option(func):
    """`--input-range`: the pixel range an image module expects."""
    from tfxfer import config

    return click.option(
        "--input-range", type=click.Choice(["auto", *config.INPUT_RANGES]), default="auto", show_default=True,
        help="Pixel range the image module expects. auto: [0,1] (TF-Hub's convention) unless the module's "
             "features show it wants [0,255] (Keras applications with built-in preprocessing); "
             "-1,1 for Keras MobileNetV2/InceptionV3-style inputs.",
    )(func)


def preprocessor_option(func):
    """`--preprocessor`: the preprocessing model of a BERT-style encoder."""
    return click.option(
        "--preprocessor", help="For a BERT-style encoder (it takes token ids): the TF-Hub handle or SavedModel that "
                               "makes them from text, as the encoder's page names it. Exported with the encoder.  "
                               "[default: TF-Hub's pairing for the encoder's name, e.g. bert_en_uncased_preprocess/3]",
    )(func)


def input_column_option(func):
    """`--input-column` for unlabeled data, passed on as `column`."""
    return click.option("--input-column", "column", help="Column (or JSON key) of the texts or image paths in a "
                        "CSV/TSV/.xlsx/.parquet/JSON pool, by name or position.  [default: found by its header name]")(func)


def library_errors(func=None, *, tensorflow: bool = True, keras: bool = False):
    """Turn tfxfer's typed errors into one-line `Error: ...` exits without traceback.

    Args:
        tensorflow: Start TensorFlow first (its log hidden). `False` for commands that only
            read word vectors with gensim: TensorFlow's import alone takes ~4 s.
        keras: Then import Keras, without the integrations that command does not use.
    """
    if func is None:
        return functools.partial(library_errors, tensorflow=tensorflow, keras=keras)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from tfxfer.errors import TfxferError, TrainingInterrupted

        if tensorflow:
            start_tensorflow()
        if keras:
            _import_keras_alone()
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
        except Exception as e:  # the disk, not the code: a full disk, a path that changed under us
            from tfxfer.atomic import disk_full

            where = f" {e.filename!r}" if getattr(e, "filename", None) else ""
            if disk_full(e):  # where no output of ours named it
                raise click.ClickException(f"The disk is full{where and ' writing' + where}. Free some space, or "
                                           "choose an output on another disk.") from None
            if type(e).__name__ == "ResourceExhaustedError":  # TensorFlow's out of memory: a GPU's, mostly
                raise click.ClickException(f"TensorFlow ran out of memory ({out_of_memory(e)}). Close other "
                                           "programs using the GPU (nvidia-smi lists them), run on the CPU "
                                           "(CUDA_VISIBLE_DEVICES= tfxfer ...), or lower --batch-size where the "
                                           "command has one.") from None
            if not isinstance(e, OSError):
                raise
            raise click.ClickException(f"Cannot access{where}: {e.strerror or e}. Check the path, its "
                                       "permissions and the free disk space.") from None

    return wrapper


def out_of_memory(error: Exception) -> str:
    """What TensorFlow's out-of-memory error says, without its op and function names:
    `OOM when allocating tensor with shape[...] and type float on .../device:GPU:0`."""
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    text = re.sub(r"^\{\{[^}]*\}\}\s*", "", text)
    return re.sub(r"\s*(by allocator \S+)?\s*\[Op:\w+\].*$", "", text)[:300]


# Whether a progress line is drawn on stderr without its newline yet.
_progress_line = {"open": False}


def end_progress_line() -> None:
    """Finish a progress line in place, so that a message printed now starts a line of its own."""
    if _progress_line["open"]:
        click.echo("", err=True)
        _progress_line["open"] = False


def progress_counter(verb: str, what: str):
    """A progress callback `(done)` for work of unknown size: a count rewritten in place on stderr.

    Off a terminal, where a carriage return rewrites nothing, only the final count is printed.
    """
    state = {"shown": 0, "done": 0}
    interactive = sys.stderr.isatty()

    def show(done: int):
        click.echo(f"\r{verb} {done:,} {what}...", err=True, nl=False)
        state["shown"] = done
        _progress_line["open"] = True

    def update(done: int):
        state["done"] = done
        if interactive and (done - state["shown"] >= 10000 or (done and not state["shown"])):
            show(done)

    def close():
        if not interactive:
            if state["done"]:
                click.echo(f"{verb} {state['done']:,} {what}.", err=True)
            return
        # The line ends on the final count, not the last one drawn.
        if state["shown"] and state["done"] != state["shown"]:
            show(state["done"])
        end_progress_line()

    update.close = close
    return update


def progress_bar(label: str):
    """A progress callback `(done, total)` drawing a click progress bar on stderr."""
    state = {"bar": None, "done": 0}

    def update(done: int, total: int):
        if state["bar"] is None:
            state["bar"] = click.progressbar(length=total, label=label, file=sys.stderr, show_eta=True, show_pos=True)
            state["bar"].__enter__()
        state["bar"].update(done - state["done"])
        state["done"] = done
        _progress_line["open"] = sys.stderr.isatty()  # off a terminal, click prints whole lines

    def close():
        if state["bar"] is not None:
            state["bar"].__exit__(None, None, None)
            _progress_line["open"] = False

    update.close = close
    return update
