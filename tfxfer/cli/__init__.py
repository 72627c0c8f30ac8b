"""The `tfxfer` command line: each command parses options, calls one library
function and formats its result. Library errors become `Error: ...` lines.

The commands live beside this module, by what they work on: `text` (word
vectors), `models` (features, heads, exports), `serving` (the server),
`data` (labeled data before any model), `cache` (the cache directory).
"""

from __future__ import annotations

import logging
import os
import shlex

import click

try:
    import tfxfer.atomic  # noqa: F401 - where outputs cannot be kept whole (native Windows), it says why
except ImportError as e:
    raise SystemExit(f"Error: {e}") from None

from tfxfer import config
from tfxfer.cli.common import end_progress_line, tolerant_output

# Before TensorFlow is imported anywhere: keep its C++ start-up chatter out of the CLI, and take
# GPU memory as it is needed, not all of it at start: a GPU is shared with notebooks and other
# jobs, and `tfxfer serve` keeps what it took for as long as it runs. Either can be set otherwise.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
# tfxfer's Keras models run TensorFlow ops; a backend set for the user's own work (KERAS_BACKEND=jax,
# or ~/.keras/keras.json) would make pretraining fail inside JAX. The command decides for its process.
os.environ["KERAS_BACKEND"] = "tensorflow"


def _print_version(ctx, _, value):
    """tfxfer's version and those of what it runs on, read from the installed packages' metadata:
    what a bug report needs, in a tenth of a second (importing TensorFlow would take seconds)."""
    if not value or ctx.resilient_parsing:
        return
    import platform
    from importlib import metadata

    def version(package):
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"

    parts = ", ".join(f"{name} {version(package)}" for name, package in (
        ("TensorFlow", "tensorflow"), ("Keras", "keras"), ("tensorflow-hub", "tensorflow-hub"), ("gensim", "gensim")))
    click.echo(f"tfxfer {version('tfxfer')} ({parts}; Python {platform.python_version()} on {platform.system()})")
    ctx.exit()


class _Command(click.Command):
    """A command whose missing option names the path given without it: `tfxfer fit-head labeled.tsv -f M`
    is "Missing option '--train' / '-t'. Did you mean --train labeled.tsv?"."""

    def parse_args(self, ctx, args):
        given_args = list(args)  # parsing consumes the list
        try:
            return super().parse_args(ctx, args)
        except click.MissingParameter as e:
            given = self._loose_path(given_args) if isinstance(e.param, click.Option) else None
            if given is None:
                raise
            raise click.UsageError(f"{e.format_message()} Did you mean {e.param.opts[0]} {shlex.quote(given)}?",
                                   ctx) from None

    def _loose_path(self, args) -> str | None:
        """The last argument beyond the command's own that is an existing path (or nltk:NAME)."""
        from pathlib import Path

        takes_value = {name for p in self.params if isinstance(p, click.Option) and not (p.is_flag or p.count)
                       for name in p.opts}
        loose, skip = [], False
        for arg in args:
            if skip or arg.startswith("-"):
                skip = not skip and arg in takes_value
                continue
            loose.append(arg)
        extra = loose[sum(1 for p in self.params if isinstance(p, click.Argument)):]
        return next((a for a in reversed(extra) if a.startswith("nltk:") or Path(a).exists()), None)


class _Commands(click.Group):
    """Commands listed in the order of the work they do, not alphabetically."""

    command_class = _Command

    ORDER = ("pretrain-text", "embed", "inspect-data", "fit-head", "evaluate", "predict", "suggest", "serve",
             "similar", "evaluate-embeddings", "cache")

    def list_commands(self, ctx):
        return sorted(self.commands, key=lambda name: (self.ORDER.index(name) if name in self.ORDER else len(self.ORDER), name))


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the versions of tfxfer, TensorFlow, Keras, tensorflow-hub, gensim and Python, and exit.")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(verbose):
    """tfxfer: transfer learning for small labeled data.

    Pretrain word vectors on your text (or take an image or TF-Hub module),
    fit a small head on a few labels, and export one SavedModel for TF
    Serving. Run `tfxfer COMMAND --help` for each command's options.
    """
    # A scheduler's stop (SLURM, Kubernetes, `timeout`) is SIGTERM: met as Ctrl-C is, pretraining keeps
    # a checkpoint for --resume and outputs being written are removed, where Python's default would
    # end the process on the spot and leave them half-written.
    from tfxfer import interrupts

    interrupts.install()
    tolerant_output()
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    # TensorFlow's own INFO lines (each SavedModel save lists hundreds of renamed inputs) bury
    # tfxfer's at -v: they show from -vv.
    for name in ("absl", "tensorflow"):
        logging.getLogger(name).setLevel(logging.WARNING if verbose < 2 else logging.DEBUG)
    library = logging.getLogger("tfxfer")
    library.setLevel(level)
    logging.getLogger(config.PROGRESS_LOG).setLevel(min(level, logging.INFO))
    library.handlers = [_EchoHandler()]
    library.propagate = False


class _EchoHandler(logging.Handler):
    """The library's log records on stderr as the CLI's own lines: `Warning: ...`."""

    def emit(self, record):
        prefix = {logging.WARNING: "Warning: ", logging.ERROR: "Error: ", logging.CRITICAL: "Error: ",
                  logging.INFO: ""}.get(record.levelno, f"{record.levelname} {record.name}: ")
        end_progress_line()
        click.echo(prefix + record.getMessage(), err=True)


# The commands register themselves on `main`.
from tfxfer.cli import cache, data, models, serving, text  # noqa: F401
