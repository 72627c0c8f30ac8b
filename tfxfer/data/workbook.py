"""Excel workbooks (`.xlsx`): a sheet's rows as the records of a delimited file.

A handful of labels often lives in a spreadsheet. Its rows go through the
same reader as a CSV's (`tfxfer.data.table`: header names, columns by name or
position, every row read or skipped with its reason), so whatever takes a
table takes a workbook. openpyxl reads it in read-only mode, each cell as
Excel last computed it (a formula's saved value), written as Excel shows
it: whole numbers without `.0`, dates as `2026-12-02`.
"""

from __future__ import annotations

import datetime
import logging
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from tfxfer.errors import DataError

logger = logging.getLogger(__name__)

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
# Formats that only look like workbooks here: what to do with them instead.
OTHER_SPREADSHEETS = {".xls": "Excel 97-2003", ".ods": "OpenDocument", ".numbers": "Numbers"}
# The hidden sheet of a written workbook that holds its drop-down lists.
CHOICES_SHEET = "choices"
# The most characters an Excel cell holds.
CELL_CHARACTERS = 32767


def cell_text(value) -> str:
    """A cell's value as text, as Excel displays it (an empty cell: `""`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat(sep=" ")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return str(value)


def _open(path: Path):
    try:
        import openpyxl
    except ImportError:  # a dependency of tfxfer; missing only from an environment set up by hand
        raise DataError(f"Reading {str(path)!r} needs openpyxl: pip install openpyxl, or save the sheet as "
                        "CSV (UTF-8).") from None
    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except OSError as e:
        raise DataError(f"Cannot read {str(path)!r}: {e.strerror or e}.") from None
    except (zipfile.BadZipFile, KeyError, ValueError) as e:  # not a zip, parts missing, malformed XML
        raise DataError(f"{str(path)!r} cannot be read as an Excel workbook ({e}). A workbook saved with a "
                        "password is encrypted: save a copy without one, or save the sheet as CSV (UTF-8).") from None


def read_workbook(path: str | Path, limit: int | None = None) -> tuple[list[tuple[int, list[str]]], str | None]:
    """The first sheet's non-blank rows, each as wide as the widest.

    Args:
        path: An `.xlsx` (or `.xlsm`) file.
        limit: Read the sheet's first `limit` rows only (a look at its start).
            Defaults to all.

    Returns:
        `(records, note)`: `(row number, cells)` per non-blank row, cells as
        `cell_text`, trailing empty columns left out, each cell of a merged
        range its value; and a note naming the sheet read when the workbook
        has other visible sheets and the merged ranges filled, else `None`.

    Raises:
        DataError: The file is not a workbook openpyxl can read (damaged,
            encrypted), with the fix.
    """
    path = Path(path)
    book = _open(path)
    try:
        sheets = book.worksheets
        if not sheets:
            raise DataError(f"{str(path)!r} has no worksheet (only charts?). Put the data in a sheet.")
        rows = [(n, [cell_text(v) for v in row])
                for n, row in enumerate(sheets[0].iter_rows(min_row=1, max_row=limit, values_only=True), 1)]
        names = [sheets[0].title, *(sheet.title for sheet in sheets[1:] if sheet.sheet_state == "visible")]
    finally:
        book.close()
    rows = [(n, cells) for n, cells in rows if any(c.strip() for c in cells)]
    width = max((i + 1 for _, cells in rows for i, c in enumerate(cells) if c.strip()), default=0)
    records = [(n, (cells + [""] * width)[:width]) for n, cells in rows]
    notes = []
    if len(names) > 1:
        others = ", ".join(repr(name) for name in names[1:4]) + (", ..." if len(names) > 4 else "")
        notes.append(f"read its first sheet, {names[0]!r}, and not the others ({others}): to use another, move it "
                     "first in the workbook")
    # Only where a cell is empty can a merged range matter; a look at the start (`limit`) goes without.
    if limit is None and any(not c.strip() for _, cells in records for c in cells):
        filled = _fill_merged(path, records)
        if filled:
            shown = ", ".join(filled[:3]) + (", ..." if len(filled) > 3 else "")
            notes.append(f"merged cells ({shown}) read as their value in each row they span")
    return records, "; ".join(notes) or None


def _fill_merged(path: Path, records: list[tuple[int, list[str]]]) -> list[str]:
    """Give every cell of the first sheet's merged ranges its range's value (a label merged down a
    group of rows labels each row), in place; the ranges filled (`B2:B4`). A read-only sheet does
    not know its merged cells: the workbook is opened whole for them."""
    import openpyxl

    book = openpyxl.load_workbook(path, data_only=True)
    try:
        ranges = sorted(book.worksheets[0].merged_cells.ranges, key=lambda r: (r.min_row, r.min_col))
    finally:
        book.close()
    by_row, filled = dict(records), []
    for merged in ranges:
        top = by_row.get(merged.min_row)
        if top is None or merged.min_col > len(top) or not top[merged.min_col - 1].strip():
            continue
        value = top[merged.min_col - 1]
        for row in range(merged.min_row, merged.max_row + 1):
            cells = by_row.get(row)  # a row of the range left blank apart from it holds nothing else: no record
            for col in range(merged.min_col, min(merged.max_col, len(cells or [])) + 1):
                cells[col - 1] = value
        filled.append(merged.coord)
    return filled


def write_workbook(path: str | Path, rows: Iterable[Sequence], choices: dict[str, Sequence[str]] | None = None,
                   ) -> None:
    """`rows` as the first sheet of a new workbook at `path`, the first row as a header.

    Strings stay text (one starting with `=` is no formula), less the control
    characters a workbook cannot hold; numbers stay numbers.

    Args:
        path: The file to write.
        rows: A header, then data.
        choices: Header name -> values offered in a drop-down list in that
            column's cells (other values may still be typed), kept in a
            hidden sheet. Defaults to none.
    """
    import openpyxl
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    rows = [list(row) for row in rows]
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.freeze_panes = "A2"
    offered = {name: list(values) for name, values in (choices or {}).items() if name in rows[0] and values}
    if offered:
        lists = book.create_sheet(CHOICES_SHEET)
        lists.sheet_state = "hidden"
        for i in range(max(map(len, offered.values()))):  # each list a column
            lists.append([_cell(lists, values[i]) if i < len(values) else None for values in offered.values()])
        for column, (name, values) in enumerate(offered.items(), 1):
            letter, target = get_column_letter(column), get_column_letter(rows[0].index(name) + 1)
            menu = DataValidation(type="list", formula1=f"{CHOICES_SHEET}!${letter}$1:${letter}${len(values)}",
                                  allow_blank=True, showErrorMessage=False)
            menu.add(f"{target}2:{target}{max(len(rows), 2)}")
            sheet.data_validations.append(menu)  # a write-only sheet has no add_data_validation
    for n, row in enumerate(rows):
        sheet.append([_cell(sheet, value, bold=n == 0) for value in row])
    book.save(path)


def _cell(sheet, value, bold: bool = False):
    """A write-only cell of `value`: a string stays text (never a formula), without the control
    characters a workbook cannot hold, and at most `CELL_CHARACTERS` long (Excel's limit)."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
        if len(value) > CELL_CHARACTERS:  # Excel would call the file damaged
            logger.warning("A text of %s characters was cut to Excel's %s in a cell of the workbook.",
                           f"{len(value):,}", f"{CELL_CHARACTERS:,}")
            value = value[:CELL_CHARACTERS]
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
    if bold:
        cell.font = Font(bold=True)
    return cell


def other_spreadsheet(path: Path) -> str | None:
    """The fix for a spreadsheet format tfxfer does not read (`.xls`, `.ods`, `.numbers`), else `None`."""
    kind = OTHER_SPREADSHEETS.get(path.suffix.lower())
    if kind is None:
        return None
    return f"{str(path)!r} is a spreadsheet in {kind} format: save it as .xlsx (Excel Workbook) or as CSV (UTF-8)."
