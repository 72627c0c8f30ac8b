"""What `predict` is given, read: texts, image paths and folders, and files listing them.

A table of inputs (`@new.csv`) usually holds more than its text or path
column: an id to join the predictions back on, a date, a source. Its rows'
other columns are kept beside the inputs (`Inputs.columns`), so that the
predictions written for it carry them, as a batch prediction in Vertex AI or
SageMaker keeps its input's fields: a Kaggle submission is its `id` and `label`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path

from tfxfer.data.compressed import OPENERS, READ_ERRORS, format_suffix
from tfxfer.data.image_files import IMAGE_SUFFIXES
from tfxfer.data.patterns import expand, path_exists
from tfxfer.data.records import TABLE_SUFFIXES, is_table
from tfxfer.data.text import check_not_archive, looks_binary, open_text
from tfxfer.data.unlabeled import image_paths, item_rows
from tfxfer.errors import DataError, counted

logger = logging.getLogger(__name__)

# The columns predictions are written in: a table's own columns of these names are kept as `given_<name>`.
PREDICTION_COLUMNS = ("input", "label", "probability", "true_label", "right")


@dataclasses.dataclass
class Inputs:
    """Inputs read, with the other columns of the tables they were read from.

    Attributes:
        items: Texts or image paths, in the order given.
        columns: The other columns of the tables read (their order, the first
            table's first), named as their headers name them; `[]` when no
            table was given.
        cells: Each item's values in `columns`, `""` where its table has no
            such column or it was not read from a table.
    """

    items: list[str] = dataclasses.field(default_factory=list)
    columns: list[str] = dataclasses.field(default_factory=list)
    cells: list[list[str]] = dataclasses.field(default_factory=list)

    def add(self, items: Sequence[str], rows: Sequence[dict[str, str]] | None = None):
        """Append `items`, each with its table row's other cells by column name (none: blank)."""
        for item, cells in zip(items, rows if rows is not None else [{}] * len(items)):
            positions = [self._position(column) for column in cells]
            row = [""] * len(self.columns)
            for position, value in zip(positions, cells.values()):
                row[position] = value
            self.items.append(item)
            self.cells.append(row)

    def _position(self, column: str) -> int:
        """Where a table's `column` is in `columns`, added (blank for the items before) if new."""
        name = f"given_{column}" if column in PREDICTION_COLUMNS or column.startswith("score_") else column
        if name not in self.columns:
            self.columns.append(name)
            for row in self.cells:
                row.append("")
        return self.columns.index(name)


def names_a_list(item: str) -> bool:
    """Whether `item` is the name of a file of inputs (a table or a .txt, compressed or not), which no
    input is."""
    compression = Path(item).suffix.lower()
    plain = item[: -len(compression)] if compression in OPENERS else item  # `new.txt.gz`: a .txt
    if item.startswith("@") or format_suffix(plain) not in (*TABLE_SUFFIXES, ".txt"):
        return False
    return path_exists(item) and Path(item).is_file()  # a long text ending "notes.txt" is not a path


def read_inputs(inputs: Sequence[str], kind: str, column: str | None = None) -> Inputs:
    """What `predict` was given, read: texts as they are, folders as the images under them (for an
    image model), and `@FILE` as its lines or, for a table, its text or path column (`column`, or
    found by its name) with the other columns of its rows.

    Args:
        inputs: Texts, image paths or folders, `@FILE`s.
        kind: The model's, `"text"` or `"image"`.
        column: A table's column of inputs. Defaults to the one named as texts (paths) are.

    Raises:
        DataError: A file that cannot be read or holds no inputs.
    """
    read = Inputs()
    for item in inputs:
        if names_a_list(item):
            # Without the @, a text model would classify the file's name, an image model fail to decode it.
            logger.warning("Reading the inputs of the file %r (as @%s).", item, item)
            item = "@" + item
        if not item.startswith("@"):  # a text with a "?" is a text; an image model's input, a path
            read.add(expand_folders((expand(item, "Image input") if kind == "image" else None) or [item], kind))
            continue
        for name in expand(item[1:], "Input list") or [item[1:]]:
            _read_list(Path(name), kind, column, read)
    return read


def _read_list(path: Path, kind: str, column: str | None, read: Inputs) -> None:
    """The inputs `@path` names, added to `read`: a table's text or path column (with its other
    columns), else its lines."""
    added = len(read.items)
    if is_table(path) and path.is_file():  # as pools and unlabeled data are read
        empty = 0
        for item, cells in item_rows(path, column, kind == "image"):
            if not item:
                empty += 1
                continue
            found = expand_folders([item], kind)
            read.add(found, [cells] * len(found))
        if empty:  # its rows no longer all have a prediction: say so before an id goes missing
            logger.warning("%s of %s %s no %s: left out, without a prediction.", counted(empty, "row"), path,
                           "has" if empty == 1 else "have", "image path" if kind == "image" else "text")
    else:
        check_not_archive(path, "Input list")
        if path.is_file() and looks_binary(path):  # a photo or a binary table: its bytes are no inputs
            raise DataError(f"{str(path)!r} is not a text file: @FILE reads one text or image path per line, or "
                            "the column of a table (.csv, .tsv, .xlsx, .parquet, .jsonl).")
        try:
            with open_text(path) as f:
                lines = list(f)
        except READ_ERRORS as e:
            raise DataError(f"Cannot read {str(path)!r}: {getattr(e, 'strerror', None) or e}.") from None
        read.add(expand_folders(nonblank_lines(lines, str(path)), kind))
    if len(read.items) == added:
        raise DataError(f"{str(path)!r} holds no inputs (one text or image path per line, or a table's "
                        "text or path column).")


def nonblank_lines(lines: Sequence[str], source: str) -> list[str]:
    """`lines` stripped, without the blank ones; those before the last text are counted in a warning,
    since a user pasting the predictions beside the lines (`paste`) would find them shifted from there on.

    Args:
        lines: Lines of a file or of standard input.
        source: What they were read from, for the warning.
    """
    lines = [line.strip() for line in lines]
    while lines and not lines[-1]:
        lines.pop()
    blank = lines.count("")
    if blank:
        logger.warning("%s of %s %s blank: left out, without a prediction (the predictions are one per "
                       "non-blank line).", counted(blank, "line"), source, "is" if blank == 1 else "are")
    return [line for line in lines if line]


def expand_folders(items: Sequence[str], kind: str) -> list[str]:
    """`items` with each folder replaced by the images under it (recursively), for an image model.

    A text model takes every item as a text.
    """
    if kind != "image":
        return list(items)
    out = []
    for item in items:
        if path_exists(item) and Path(item).is_dir():
            found = list(image_paths(Path(item)))
            if not found:
                logger.warning("No images (%s) under %s.", ", ".join(IMAGE_SUFFIXES), item)
            out += found
        else:
            check_not_archive(item, "Image input")
            out.append(item)
    return out
