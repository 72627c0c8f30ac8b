"""How tfxfer reads labeled data, without a model: the check before a fit (`tfxfer inspect-data`).

A new file is read exactly as `fit-head --train` reads it (the same readers,
the same notes), but nothing stops at the first fault: every row that cannot
be used is listed, and what would make fit-head refuse the labels is given as
a finding. No feature module is loaded and TensorFlow is not imported.
"""

from __future__ import annotations

import collections
import unicodedata
from pathlib import Path

from tfxfer.data.image_check import check_image_files, image_check_text
from tfxfer.data.image_files import holds_images, load_image_list
from tfxfer.data.labeled import load_labeled_text
from tfxfer.data.labeled_data import LabeledData, imbalanced, skipped_lines
from tfxfer.data.memory import labeled_from_memory
from tfxfer.data.names import Columns
from tfxfer.data.patterns import expand_all, path_exists
from tfxfer.errors import ConfigError, DataError, counted

KINDS = ("auto", "text", "images")
# What each `kind` asked for reads as (`auto` is decided per source).
_READ_AS = {"text": "text", "images": "image"}


def inspect_labeled(sources, kind: str = "auto", columns: Columns = None) -> dict:
    """Read labeled data as `fit-head --train` would, and say what it holds.

    Args:
        sources: A source in any form `fit_head` takes (a table, a workbook,
            JSON records, a class folder, `nltk:NAME`...; an `(items, labels)`
            pair or a DataFrame), or a list of files, merged as repeated
            `--train` options are.
        kind: `text`, `images`, or `auto`: images where the data lists or
            holds image files (`holds_images`). Defaults to `auto`.
        columns: `(input, label)` column names of tables, either `None` to
            find it by its name. Defaults to finding both.

    Returns:
        A dict: `kind` (`text` or `image`), `sources`, `rows` (read),
        `examples` (usable), `columns` (the input and label columns used, or
        `None`), `classes` (`[label, count]`, the commonest first),
        `repeated` (examples that repeat an earlier one), `conflicts`
        (`[input, labels]` of inputs given several labels), `notes`,
        `skipped` (`{"line", "reason"}` of each row that cannot be used),
        `missing_images` (listed image files that do not exist), `images`
        (`check_image_files`' formats, sizes, odd ones out and copies; `None`
        for text) and `problem` (why fit-head would refuse these labels, or
        `None`).

    Raises:
        DataError: The data cannot be read at all (not found, empty, no
            columns to take), as fit-head would say it.
        ConfigError: `kind` is not one of `KINDS`.
    """
    if kind not in KINDS:
        raise ConfigError(f"`kind` must be one of {', '.join(KINDS)}. Received: kind={kind!r}.")
    memory = labeled_from_memory(sources, columns)
    if memory is not None:  # an (items, labels) pair or a DataFrame, as fit_head takes them
        data, kinds = memory.check(skip_bad_rows=True), [_READ_AS.get(kind, "text")]
        sources = ["data in memory"]
    else:
        sources = [sources] if isinstance(sources, (str, Path)) else list(sources)
        sources = expand_all(sources, "Labeled data")
        kinds = [_READ_AS.get(kind) or ("image" if holds_images(s) else "text") for s in sources]
        if len(set(kinds)) > 1:
            shown = ", ".join(f"{s} ({k})" for s, k in zip(sources, kinds))
            raise DataError(f"The data mixes images and text ({shown}): a model takes one kind.")
        parts = [(load_image_list if k == "image" else load_labeled_text)(s, skip_bad_rows=True, columns=columns)
                 for s, k in zip(sources, kinds)]
        data = LabeledData.merge(parts)
    problem = None
    try:
        data.check_trainable()  # may add notes (labels spelled two ways...), as in a fit
    except DataError as e:
        problem = str(e)
    labels_of = collections.defaultdict(collections.Counter)
    for item, label in zip(data.items, data.labels):
        # A text and its decomposed spelling (NFD) are one text to the model; a path names its file.
        labels_of[unicodedata.normalize("NFC", item) if kinds[0] == "text" else item][label] += 1
    conflicts = sorted(([item, sorted(labels)] for item, labels in labels_of.items() if len(labels) > 1),
                       key=lambda c: -sum(labels_of[c[0]].values()))
    return {"kind": kinds[0], "sources": [str(s) for s in sources], "rows": data.rows, "examples": len(data.items),
            "columns": list(data.columns) if data.columns else None,
            "classes": [list(c) for c in collections.Counter(data.labels).most_common()],
            "repeated": len(data.items) - len(labels_of), "conflicts": conflicts,
            "notes": list(data.notes), "skipped": list(data.skipped),
            "missing_images": [p for p in data.items if not path_exists(p)] if kinds[0] == "image" else [],
            "images": check_image_files(data.items, data.labels) if kinds[0] == "image" else None,
            "problem": problem}


def inspection_text(found: dict, shown: int = 20) -> str:
    """`inspect_labeled`'s findings as the lines `tfxfer inspect-data` prints (its `problem` aside)."""
    columns = f": inputs from {found['columns'][0]!r}, labels from {found['columns'][1]!r}" if found["columns"] else ""
    lines = [f"Read {found['examples']:,} examples of {' + '.join(found['sources'])} ({found['kind']}){columns}."]
    classes = found["classes"]
    listed = ", ".join(f"{label} {count:,}" for label, count in classes[:shown])
    more = f", and {len(classes) - shown:,} more" if len(classes) > shown else ""
    lines.append(f"{len(classes):,} {'class' if len(classes) == 1 else 'classes'}: {listed}{more}")
    if imbalanced(count for _, count in classes):
        lines.append(f"Imbalanced: {classes[0][0]!r} has {classes[0][1] / classes[-1][1]:.1f}x the examples of "
                     f"{classes[-1][0]!r}. fit-head weighs the classes equally and reports balanced accuracy "
                     "beside accuracy (--class-weight none: every example the same).")
    if found["repeated"]:
        conflicts = found["conflicts"]
        item, labels = conflicts[0] if conflicts else (None, [])
        named = ", ".join(labels[:4]) + (f"... ({len(labels)} labels)" if len(labels) > 4 else "")
        said = (f"; {len(conflicts):,} {'input carries' if len(conflicts) == 1 else 'inputs carry'} several labels "
                f"(e.g. {item!r}: {named}), and no model gets every copy right: check them" if conflicts else "")
        repeat = "repeats" if found["repeated"] == 1 else "repeat"
        lines.append(f"Repeated: {counted(found['repeated'], 'example')} {repeat} an earlier one{said}.")
    lines += [f"Note: {note}" for note in found["notes"]]
    skipped = found["skipped"]
    if skipped:
        lines.append(f"{len(skipped):,} of {found['rows']:,} rows cannot be used (fit-head stops on them; "
                     "--skip-bad-rows trains without them):")
        lines += [f"  {line}" for line in skipped_lines(skipped, shown)]
    if found["images"]:
        lines += image_check_text(found["images"])
    missing = found["missing_images"]
    if missing:
        lines.append(f"{len(missing):,} listed images do not exist (fit-head skips them; first: {missing[0]}).")
    return "\n".join(lines)


def ready(found: dict) -> bool:
    """Whether fit-head would train on the data as it is (no refusal, no row it stops on)."""
    return found["problem"] is None and not found["skipped"]
