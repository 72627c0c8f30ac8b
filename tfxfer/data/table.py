"""Labeled tables (CSV/TSV, Excel workbooks, Parquet): one reader that accounts for every line.

A file is decoded and parsed whole by `tfxfer.data.delimited` (its
encoding and quoting detected); a workbook's first sheet is read by
`tfxfer.data.workbook`, a Parquet file by `tfxfer.data.columnar`. Every
data row is either read or skipped with a reason; `LabeledData` keeps the
count. Rows that cannot be used (too few or too many columns, an empty text
or label, the header met again, a label that looks like a sentence
fragment) are errors unless the caller accepts skipping them. Which column
is which comes from a header's names, or from the positions the user gives.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from tfxfer.data.columnar import PARQUET_SUFFIXES, read_parquet
from tfxfer.data.compressed import format_suffix
from tfxfer.data.delimited import parse, read_text, sniff_delimiter
from tfxfer.data.labeled_data import LabeledData, looks_like_classes
from tfxfer.data.names import (
    LABEL_COLUMNS,
    SUGGEST_COLUMNS,
    TEXT_COLUMNS,
    Columns,
    check_columns,
    find_column,
    header_row,
    unnamed_note,
)
from tfxfer.data.workbook import WORKBOOK_SUFFIXES, read_workbook
from tfxfer.errors import DataError, counted

logger = logging.getLogger(__name__)

# Columns without a name are left out where at most this share of the rows holds text in them.
SPILLED_SHARE = 0.05
# At most this many rows of one cell (a title, a date, blank rows) are looked past for a header.
TITLE_ROWS = 10
# A class column's marks in a one-hot table (`filename,ants,bees`): yes or no.
ONE_HOT = {"0": False, "1": True, "0.0": False, "1.0": True, "false": False, "true": True}
# What Excel shows, and saves, for a formula it cannot compute. Opening a CSV, it takes a text starting
# with =, +, - or @ for a formula ("- battery life is poor", "@united thanks"): such a cell is the text lost.
# Google Sheets does the same, and says #ERROR! where it cannot parse one.
FORMULA_STARTS = ("=", "+", "-", "@")
EXCEL_ERRORS = {"#NAME?", "#VALUE!", "#REF!", "#DIV/0!", "#NUM!", "#NULL!", "#N/A", "#SPILL!", "#CALC!", "#FIELD!",
                "#ERROR!"}


def _header(first: list[str], item_columns: Sequence[str], named: Columns = None) -> tuple[int, int] | None:
    """Column indices of item and label if `first` names them (`named` first, then the usual names)."""
    named_item, named_label = named or (None, None)
    item = find_column(first, item_columns, named=named_item)
    label = find_column(first, LABEL_COLUMNS, named=named_label, codes=True)
    if len(first) == 2 and (item is None) != (label is None):  # one named, the other is the other column
        item, label = (1 - label, label) if item is None else (item, 1 - item)
    if item is None or label is None or item == label:
        return None
    return item, label


def _past_title(records, is_header: Callable[[list[str]], bool]) -> tuple[list, str | None]:
    """`records` from the header on, where a report put a title above it: rows of one cell at most
    (a title, a date, blank rows; `TITLE_ROWS` of them at most) in a table of wider rows, then a
    row `is_header` accepts. Also a note saying which lines were left out, or `None`."""
    def filled(cells):
        return sum(bool(c.strip()) for c in cells)

    # A title's words may name a column ("Customer feedback export"): one cell is never a header here.
    if collections.Counter(min(filled(c), 2) for _, c in records[:100]).most_common(1)[0][0] < 2:
        return records, None
    i, (line, cells) = next(((i, r) for i, r in enumerate(records[:TITLE_ROWS + 1]) if filled(r[1]) > 1),
                            (0, records[0]))
    if not i or not is_header(cells):
        return records, None
    return records[i:], f"{counted(i, 'line')} above the header (line {line}) left out: a title, not examples."


def _two_named(records, data: LabeledData) -> list | None:
    """`records` cut to the two columns their first row names, where it names no other and the
    other columns are empty in all but `SPILLED_SHARE` of the rows (the SMS Spam Collection as
    Kaggle shares it: `v1,v2,,,`, a few texts cut at an unquoted comma spilling into the rest);
    `None` where that is not so. A note counts the rows whose spilled text is left out."""
    first = records[0][1]
    kept = [i for i, c in enumerate(first) if c.strip()]
    if len(first) <= 2 or len(kept) != 2:
        return None
    spilled = sum(any(c.strip() for i, c in enumerate(cells) if i not in kept) for _, cells in records[1:])
    if spilled > SPILLED_SHARE * (len(records) - 1):
        return None
    spill = f" ({counted(spilled, 'row')} had text there: cut at an unquoted comma?)." if spilled else "."
    data.notes.append(f"its {len(first) - 2} columns without a name left out{spill}")
    return [(line, [cells[i] if i < len(cells) else "" for i in kept]) for line, cells in records]


def _positions(named: Columns, first: list[str], source: str) -> tuple[int, int] | None:
    """0-based `(input, label)` indices when the user named both columns by their 1-based
    position (`--input-column 3 --label-column 1`: files without a header, as AG News)."""
    if not named or not all(n and n.strip().isdigit() for n in named):
        return None
    positions = tuple(int(n) - 1 for n in named)
    bad = next((n for n, i in zip(named, positions) if not 0 <= i < len(first)), None)
    if bad is not None:
        raise DataError(f"{source!r} has no column {bad.strip()}: its rows have {len(first)} columns "
                        f"(numbered 1 to {len(first)}).")
    return positions


def _no_columns(source: str, first: list[str], rows, named: Columns, delimiter: str, width: int,
                item_columns: Sequence[str]) -> DataError:
    shown = ", ".join(repr(c.strip()) for c in first[:12]) + (", ..." if len(first) > 12 else "")
    missing = [n for n in (named or ()) if n and n.strip().lower() not in [c.strip().lower() for c in first]]
    if missing and all(n and n.strip().isdigit() for n in missing) and not all(named):
        return DataError(f"{source!r} has no column named {missing[0]!r}; to take columns by position (a file "
                         "without a header), give both: --input-column 3 --label-column 1.")
    if missing:
        return DataError(f"{source!r} has no column {missing[0]!r}; its first row is {shown}.")
    marked = _mark_columns(first, rows)
    unmarked = [i for i in range(len(first)) if i not in marked]
    named_marks = not any(c.strip().lower() in ONE_HOT for i, c in enumerate(first) if i not in unmarked)
    if len(unmarked) == 1 and len(first) >= 3 and rows and named_marks:  # one-hot classes, the input's name unusual
        return DataError(f"{source!r}: its columns {', '.join(repr(c.strip()) for c in first if c != first[unmarked[0]])}"
                         f" look like 0/1 marks of classes; name its input column: --input-column "
                         f"{first[unmarked[0]].strip()!r}.")
    found = [(find_column(first, names), what, option) for names, what, option in
             ((item_columns, "inputs", "--input-column"), (LABEL_COLUMNS, "labels", "--label-column"))]
    known = [(i, what) for i, what, _ in found if i is not None]
    if len(first) > 2 and len(known) == 1:
        (i, what), option = known[0], next(o for j, _, o in found if j is None)
        return DataError(f"{source!r}: its {what} are in {first[i].strip()!r}, but no column is named as the "
                         f"{'labels' if what == 'inputs' else 'inputs'} are (its first row is {shown}). "
                         f"Name it with {option}.")
    likely = _likely_positions(first, rows)
    example = (f"here likely --input-column {likely[0] + 1} --label-column {likely[1] + 1}: the longest texts, "
               "and the fewest values" if likely else "--input-column 3 --label-column 1")
    return DataError(
        f"{source!r} needs a header naming its text and label columns (e.g. text{delimiter}label) or exactly two "
        f"columns per row; most rows have {width}. Its first row is {shown}: pick two with --input-column and "
        f"--label-column (columns=(INPUT, LABEL)), by header name or, without a header, by position ({example})."
    )


def _likely_positions(first: list[str], rows) -> tuple[int, int] | None:
    """`(input, label)` columns of a table without a header (Sentiment140: polarity, id, date, query,
    user, text): the one of the longest cells, and the one of the fewest distinct values (two or
    more); `None` when the first row may be a header (its label cell is no label below it)."""
    sample = [cells for _, cells in rows[:1000] if len(cells) == len(first)]
    if len(first) < 3 or len(sample) < 10:
        return None
    columns = list(zip(*sample))
    item = max(range(len(first)), key=lambda i: sum(map(len, columns[i])))
    distinct = {i: len(set(column)) for i, column in enumerate(columns) if i != item}
    label = min((i for i, n in distinct.items() if n > 1), key=distinct.get, default=None)
    if label is None or not looks_like_classes(columns[label]) or first[label] not in columns[label]:
        return None
    return item, label


def table_records(path: Path, limit: int | None = None, delimiter: str | None = None,
                  ) -> tuple[list[tuple[int, list[str]]], str, list[str], int]:
    """A table's records (`(line, fields)`; a workbook's `(row, cells)`; a Parquet file's column names
    and rows), its delimiter, notes on how it was read, and how many lines were not valid UTF-8.
    `limit`: a workbook's or Parquet file's first rows only, for a look at its start (a delimited
    file is parsed whole, its quoting found from all of it). `delimiter`: a delimited file's, where
    the caller knows it (else tab for .tsv, sniffed for the rest)."""
    suffix = format_suffix(path)
    if suffix in WORKBOOK_SUFFIXES or suffix in PARQUET_SUFFIXES:
        records, note = (read_workbook if suffix in WORKBOOK_SUFFIXES else read_parquet)(path, limit)
        return records, ",", [note] if note else [], 0
    text, invalid, encoding = read_text(path)
    delimiter = delimiter or ("\t" if suffix == ".tsv" else sniff_delimiter(text))
    records, note = parse(text, delimiter, str(path))
    notes = [note] if note else []
    if encoding not in ("utf-8", "UTF-16"):  # guessed, where UTF-16 says so with its byte-order mark
        notes.append(f"read as {encoding}, not UTF-8 (as Excel saves CSV on Windows); save it as UTF-8 "
                     "if its letters look wrong.")
    if invalid:
        notes.append(f"{counted(invalid, 'line')} {'was' if invalid == 1 else 'were'} not valid UTF-8 "
                     "and read with replacement characters; save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8).")
    return records, delimiter, notes, invalid


def _two_columns(records: list, data: LabeledData, named: Columns, delimiter: str, item_columns: Sequence[str]):
    """A table without a header naming its columns: two columns, the label the one with fewer distinct
    values. Returns its records (past a first row read as a header), `(item, label)` positions, and
    that header row's cells (`None` without one)."""
    source = data.source
    records = (None if named and any(named) else _two_named(records, data)) or records
    first_line, first = records[0]
    widths = collections.Counter(len(r) for _, r in records)
    if widths.most_common(1)[0][0] != 2 or (named and any(named)):
        raise _no_columns(source, first, records[1:], named, delimiter, widths.most_common(1)[0][0], item_columns)
    two = [r for _, r in records if len(r) == 2]
    distinct = [len({r[i].strip() for r in two}) for i in (0, 1)]
    columns = (0, 1) if distinct[1] <= distinct[0] else (1, 0)
    counts = collections.Counter(r[columns[1]].strip() for r in two)
    label = first[columns[1]].strip() if len(first) == 2 else None
    if label is not None and counts[label] == 1 and len(counts) >= 3 and \
            all(c > 1 for l, c in counts.items() if l != label):
        # Unknown column names: a first row whose label is unique while every other repeats.
        data.notes.append(f"line {first_line} read as a header ({', '.join(first)}): its label appears "
                          "nowhere else.")
        return records[1:], columns, first
    return records, columns, None


def read_table(path: str | Path, item_columns: Sequence[str] = TEXT_COLUMNS, columns: Columns = None,
               delimiter: str | None = None, keep_columns: bool = False) -> LabeledData:
    """A CSV (`,`, or `;`/tab when sniffed), TSV (tab), Excel workbook or Parquet file with an item and a
    label column.

    A header naming the columns (text/sentence/review... or path/file...,
    and label/class/category/sentiment...) is detected; without one a file
    must have two columns, the one with fewer distinct values being the label.

    Args:
        path: The file.
        item_columns: Header names of the item column. Defaults to text names.
        columns: `(input column, label column)` names to take, either `None`
            to detect; a file whose header lacks them is read as if not given.
        delimiter: A delimited file's delimiter. Defaults to tab for .tsv, else sniffed
            (`sniff_delimiter`).
        keep_columns: Keep the cells of a header's other columns
            (`LabeledData.other_cells`), to write beside each example's
            predictions. Defaults to `False`.

    Returns:
        `LabeledData`; rows that cannot be used are in `skipped`, not raised
        (call `check`).
    """
    path = Path(path)
    source = str(path)
    check_columns(columns)
    records, delimiter, notes, invalid = table_records(path, delimiter=delimiter)
    data = LabeledData([], [], source, invalid_utf8=invalid, notes=notes)
    if not records:
        raise DataError(f"{source!r} is empty. Expected rows of text{delimiter}label.")
    named = columns
    records, note = _past_title(records, lambda cells: _header(cells, item_columns, named) is not None)
    data.notes += [note] if note else []
    first = records[0][1]
    marks = None if _header(first, item_columns, named) else _one_hot(first, records[1:], item_columns, named)
    if marks:
        records = _labels_of_marks(records, *marks, data)
        first = records[0][1]
    columns = _header(first, item_columns, named)
    header = [c.strip().lower() for c in first] if columns else None
    positions = None if columns else _positions(named, first, source)
    if columns:
        records = records[1:]
        width = len(header)
        data.columns = (first[columns[0]].strip(), first[columns[1]].strip())
        note = unnamed_note(named, data.columns)
        data.notes += [note] if note else []
    elif positions:
        columns = positions
        width = collections.Counter(len(r) for _, r in records).most_common(1)[0][0]
        data.notes.append(f"no header: inputs from column {columns[0] + 1}, labels from column {columns[1] + 1}.")
    else:
        width = 2
        records, columns, header_row = _two_columns(records, data, named, delimiter, item_columns)
        if header_row is not None:
            first, header = header_row, [c.strip().lower() for c in header_row]
    item_col, label_col = columns
    # A `suggest` CSV is filled in a few rows at a time: its empty labels are not labeled yet, not faults.
    to_fill = header is not None and tuple(header[:len(SUGGEST_COLUMNS)]) == SUGGEST_COLUMNS
    others = {n: first[n].strip() or f"column {n + 1}" for n in range(len(header or ())) if n not in columns}
    if keep_columns:
        data.other_cells = []
    kept, unlabeled = [], 0
    for line, fields in records:
        data.rows += 1
        cells = [f.strip() for f in fields]
        reason = _row_problem(cells, header, width, item_col, label_col, delimiter)
        if reason == "empty label" and to_fill and cells[item_col]:
            unlabeled += 1
        elif reason:
            data.skipped.append({"line": line, "reason": reason})
        else:
            other = {name: cells[n] if n < len(cells) else "" for n, name in others.items()} if keep_columns else None
            kept.append((line, cells[item_col], cells[label_col], other))
    if unlabeled:
        if not kept and not data.skipped:
            raise DataError(f"{source!r} is a `tfxfer suggest` list with no label filled in yet: write each "
                            "example's class in its label column (the guess column holds the model's), then train.")
        data.notes.append(f"{counted(unlabeled, 'row')} of this `suggest` list {'is' if unlabeled == 1 else 'are'} "
                          "not labeled yet and left out.")
    counts = collections.Counter(l for _, _, l, _ in kept)
    spaced = sum(" " in l for l in counts)
    for line, item, label, other in kept:
        reason = _label_problem(item, label, counts, spaced)
        if reason:
            data.skipped.append({"line": line, "reason": reason})
        else:
            data.items.append(item)
            data.labels.append(label)
            if keep_columns:
                data.other_cells.append(other)
    data.skipped.sort(key=lambda s: s["line"])
    return data


def column_rows(path: str | Path, column: str | None = None, names: Sequence[str] = TEXT_COLUMNS,
                first_by_default: bool = False) -> tuple[list[str], list[list[str]], int]:
    """The rows of a CSV/TSV read without labels (unlabeled examples, a pool, inputs to predict), and
    which column holds the values.

    Args:
        path: The file.
        column: The column's header name, or its 1-based position in a file
            without a header; a file without it is read as if not given: one
            of `names` in the header, else the only column, or with
            `first_by_default` the first.
        names: Header names to look for. Defaults to the text column names.
        first_by_default: Take the first column of a file with several and no
            header naming one (lists of image paths). Defaults to `False`.

    Returns:
        `(header, rows, index)`: the names of the columns (`column N` in a file
        without a header), the cells of each row (the header left out; a value
        may be empty, or missing from a short row), and the position of the values' column.
    """
    path = Path(path)
    source = str(path)
    records, _, _, _ = table_records(path)
    if not records:
        return [], [], 0
    records, note = _past_title(records,
                                lambda cells: find_column(cells, names, words_from=2, named=column) is not None)
    if note:
        logger.warning("%s: %s", source, note)
    header = None
    index = find_column(records[0][1], names, words_from=2, named=column)  # no labels: two cells say it
    if index is not None:
        header, records = records[0][1], records[1:]
    elif column and column.strip().isdigit():  # a position, in a file without a header
        index = int(column) - 1
        if not 0 <= index < len(records[0][1]):
            raise DataError(f"{source!r} has no column {column.strip()}: its rows have {len(records[0][1])} "
                            f"columns (numbered 1 to {len(records[0][1])}).")
    else:
        widths = collections.Counter(len(r) for _, r in records)
        if not (first_by_default or widths.most_common(1)[0][0] == 1):
            shown = ", ".join(repr(c.strip()) for c in records[0][1][:12])
            what = f"column {column!r}" if column else f"column named {', '.join(names[:3])}..."
            raise DataError(f"{source!r} has no {what} (its first row is {shown}). Name the column to read "
                            "with --input-column.")
        index = 0
    if header is None:  # no header: the columns are numbered
        header = [f"column {n}" for n in range(1, max((len(r) for _, r in records), default=0) + 1)]
    return header, [r for _, r in records], index


def _one_hot(first: list[str], rows, item_columns: Sequence[str], named: Columns) -> tuple[int, list[int]] | None:
    """`(input column, class columns)` of a table whose classes are columns of 0/1 marks, one per class
    (Roboflow's `_classes.csv`, many Kaggle sets: `filename,ants,bees`), else `None`."""
    if named and named[1]:
        return None
    item = find_column(first, item_columns, named=named[0] if named else None)
    marks = [i for i in range(len(first)) if i != item]
    if item is None or len(marks) < 2 or not rows:
        return None
    return (item, marks) if set(marks) <= set(_mark_columns(first, rows)) else None


def _mark_columns(first: list[str], rows) -> list[int]:
    """The columns holding a 0/1 mark (`ONE_HOT`) in every row; none where a row is not as wide as `first`."""
    if any(len(cells) != len(first) for _, cells in rows):
        return []
    return [i for i in range(len(first)) if all(cells[i].strip().lower() in ONE_HOT for _, cells in rows)]


def _labels_of_marks(records, item: int, marks: list[int], data: LabeledData) -> list[tuple[int, list[str]]]:
    """`records` of a one-hot table as `input,label` ones: each row's class the one column it marks;
    rows that mark none or several are skipped with that reason."""
    (line, first), rows = records[0], records[1:]
    names = [first[i].strip() for i in marks]
    out = [(line, [first[item], "label"])]
    for n, cells in rows:
        marked = [name for i, name in zip(marks, names) if ONE_HOT[cells[i].strip().lower()]]
        if len(marked) == 1:
            out.append((n, [cells[item], marked[0]]))
            continue
        data.rows += 1
        data.skipped.append({"line": n, "reason": "no class marked" if not marked else
                             f"{len(marked)} classes marked ({', '.join(marked[:3])}): one label per example"})
    shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
    data.notes.append(f"classes read from its columns of 0/1 marks, one per class ({shown})")
    return out


def _row_problem(cells, header, width, item_col, label_col, delimiter) -> str | None:
    if header and [c.lower() for c in cells] == header:
        return "the header line again"
    if len(cells) < width:
        return f"{counted(len(cells), 'column')}, expected {width}"
    if len(cells) > width:
        name = "tab" if delimiter == "\t" else repr(delimiter)
        return f"{len(cells)} columns, expected {width}: a {name} inside the text? Quote the text"
    if not cells[label_col]:
        return "empty label"
    if not cells[item_col]:
        return "empty item"
    if cells[item_col].upper() in EXCEL_ERRORS:
        return ("an Excel error (#NAME?, #VALUE!...) in place of the text: Excel took a text starting with =, +, "
                "- or @ for a formula and saved the error. Put the text back, and fill in labels in a suggest list "
                "written as .xlsx (--out to_label.xlsx), where texts stay text")
    return None


def _label_problem(item: str, label: str, counts: collections.Counter, spaced: int) -> str | None:
    """A label that looks like a header name or a sentence fragment, not a class.

    `counts` counts every label; `spaced` is how many distinct labels hold a space.
    """
    if counts[label] > 1:
        return None
    if header_row(item, label):
        return f"row {item!r}, {label!r} looks like a header line in the middle of the file"
    if " " in label and spaced < len(counts) / 2:
        return (f"label {label!r} has one example and holds spaces, unlike the other labels: a sentence "
                "fragment split off by an unquoted delimiter? Quote the text")
    return None
