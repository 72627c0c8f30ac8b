"""`tfxfer inspect-data`: how tfxfer reads labeled data, before any model."""

from __future__ import annotations

import logging

import click

from tfxfer.cli import main
from tfxfer.cli.common import column_options, echo_json, library_errors


@main.command("inspect-data", short_help="How labeled data reads, before any model.")
@click.argument("data", nargs=-1, required=True)
@click.option("--kind", type=click.Choice(["auto", "text", "images"]), default="auto", show_default=True,
              help="Read DATA as texts or as image files; auto: images where it lists or holds image files.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@column_options
@library_errors(tensorflow=False)
def inspect_data_command(data, kind, as_json, columns):
    """Check labeled DATA as fit-head --train would read it, without a model.

    Prints the columns used, the classes and their counts, the notes fit-head
    would give, every row that cannot be used, and listed images that do not
    exist; for images, their formats and sizes, odd ones out (a placeholder
    GIF among JPEGs, a thumbnail), files that are no image, photos stored
    turned (an EXIF orientation, which TensorFlow ignores) and byte-for-byte
    copies. Exits with status 1 where fit-head would refuse the labels (one
    class, a column of ids...). Several DATA are merged, as repeated --train
    are. Takes a second: no feature module, no TensorFlow.

    Example: tfxfer inspect-data reviews.xlsx --input-column "Review Text"
    """
    from tfxfer.data.inspect import inspect_labeled, inspection_text, ready

    said = _Said()
    logging.getLogger("tfxfer").addHandler(said)
    try:
        found = inspect_labeled(list(data), kind, columns)
    finally:
        logging.getLogger("tfxfer").removeHandler(said)
    unsaid = {**found, "notes": [note for note in found["notes"] if note not in said.messages]}
    if as_json:
        echo_json(found)
    else:
        click.echo(inspection_text(unsaid))
    if found["problem"]:
        raise click.ClickException(found["problem"])
    if not as_json:
        click.echo("Ready for fit-head." if ready(found) else
                   "Ready for fit-head --skip-bad-rows, or fix the rows above.")


class _Said(logging.Handler):
    """The warnings printed while the data was read: a note that is one of them is not printed
    again (images left out for their format are warned of as they are listed)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: set[str] = set()

    def emit(self, record):
        self.messages.add(record.getMessage())
