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
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from tfxfer.errors import DataError

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
# Formats that only look like workbooks here: what to do with them instead.
OTHER_SPREADSHEETS = {".xls": "Excel 97-2003", ".ods": "OpenDocument", ".numbers": "Numbers"}


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


def read_workbook(path: str | Path) -> tuple[list[tuple[int, list[str]]], str | None]:
    """The first sheet's non-blank rows, each as wide as the widest.

    Args:
        path: An `.xlsx` (or `.xlsm`) file.

    Returns:
        `(records, note)`: `(row number, cells)` per non-blank row, cells as
        `cell_text`, trailing empty columns left out; and a note naming the
        sheet read when the workbook has others (`None` when it has one).

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
                for n, row in enumerate(sheets[0].iter_rows(min_row=1, values_only=True), 1)]
        names = [sheet.title for sheet in sheets]
    finally:
        book.close()
    rows = [(n, cells) for n, cells in rows if any(c.strip() for c in cells)]
    width = max((i + 1 for _, cells in rows for i, c in enumerate(cells) if c.strip()), default=0)
    records = [(n, (cells + [""] * width)[:width]) for n, cells in rows]
    note = None
    if len(names) > 1:
        others = ", ".join(repr(name) for name in names[1:4]) + (", ..." if len(names) > 4 else "")
        note = (f"read its first sheet, {names[0]!r}, and not the others ({others}): to use another, move it "
                "first in the workbook")
    return records, note


def write_workbook(path: str | Path, rows: Iterable[Sequence]) -> None:
    """`rows` as the one sheet of a new workbook at `path`, the first row as a header.

    Strings stay text (one starting with `=` is no formula), less the control
    characters a workbook cannot hold; numbers stay numbers.
    """
    import openpyxl
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.freeze_panes = "A2"
    for n, row in enumerate(rows):
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value)
            if isinstance(value, str):
                cell.data_type = "s"
            if n == 0:
                cell.font = Font(bold=True)
            cells.append(cell)
        sheet.append(cells)
    book.save(path)


def other_spreadsheet(path: Path) -> str | None:
    """The fix for a spreadsheet format tfxfer does not read (`.xls`, `.ods`, `.numbers`), else `None`."""
    kind = OTHER_SPREADSHEETS.get(path.suffix.lower())
    if kind is None:
        return None
    return f"{str(path)!r} is a spreadsheet in {kind} format: save it as .xlsx (Excel Workbook) or as CSV (UTF-8)."
