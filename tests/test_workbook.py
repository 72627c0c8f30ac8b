"""Excel workbooks: read wherever a CSV is (labels, pools, image lists, corpora), written by suggest and predict."""

import datetime
import zipfile

import openpyxl
import pytest

from tests.conftest import cli_error, labeled_topic_rows, run_cli, solid_image_bytes
from tfxfer.data.delimited import write_table
from tfxfer.data.image_files import holds_images, load_image_list
from tfxfer.data.labeled import load_labeled_text
from tfxfer.data.records import read_values
from tfxfer.data.table import read_table
from tfxfer.data.text import TextCorpus
from tfxfer.errors import DataError
from tfxfer.fitting import fit_head


def save_workbook(path, sheets):
    """`sheets`: {title: rows}, rows as lists of cell values (`None` leaves a cell empty)."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def test_a_workbook_reads_as_its_csv_would(tmp_path):
    rows = [["Review", "Stars", "label", "Added"],
            ["a fine film", 5, "pos", datetime.datetime(2026, 1, 2)],
            ["a dull film", 1.0, "neg", datetime.date(2026, 1, 3)],
            [None, None, None, None],  # a blank row between the data
            ["no label yet", 3, None, None],
            ["  padded  ", 2.5, "neg", None]]
    path = save_workbook(tmp_path / "labels.xlsx", {"train": [[None], *rows], "test": [["text", "label"]]})
    book = openpyxl.load_workbook(path)
    book["train"]["H9"].number_format = "0.00"  # a formatted, empty cell far right: no column
    book.save(path)
    data = read_table(path)
    assert data.items == ["a fine film", "a dull film", "padded"] and data.labels == ["pos", "neg", "neg"]
    assert data.columns == ("Review", "label")
    assert data.skipped == [{"line": 6, "reason": "empty label"}]  # the sheet's row number
    assert data.notes == [("read its first sheet, 'train', and not the others ('test'): to use another, "
                           "move it first in the workbook")]
    # Cells read as Excel shows them: whole numbers without .0, dates as dates.
    values = read_table(path, columns=("Stars", "Added")).check(skip_bad_rows=True)
    assert values.items == ["5", "1"] and values.labels == ["2026-01-02", "2026-01-03"]
    # Whatever takes a table takes a workbook: a pool's column, a corpus.
    assert read_values(path, "Review") == ["a fine film", "a dull film", "no label yet", "padded"]
    assert list(TextCorpus([path])) == ["a fine film", "a dull film", "no label yet", "padded"]


def test_a_title_above_the_header_is_left_out_with_a_note(tmp_path):
    # A report saved from a dashboard: a title, a blank row, then the table and a total under it.
    rows = [["Customer feedback export, Q3 2026"], [None], ["Date", "Feedback", "Sentiment"],
            ["2026-07-01", "fast delivery, well packed", "positive"], ["2026-07-02", "arrived broken", "negative"],
            ["2026-07-02", "works as described", "positive"], [None], ["Total", 3]]
    data = read_table(save_workbook(tmp_path / "report.xlsx", {"export": rows}))
    assert data.columns == ("Feedback", "Sentiment") and data.labels == ["positive", "negative", "positive"]
    assert data.items[1] == "arrived broken" and data.skipped == [{"line": 8, "reason": "empty label"}]
    assert "1 line above the header (line 3) left out: a title, not examples." in data.notes
    # As a pool (suggest, --unlabeled) or a corpus: the texts, not the title.
    pool = ["fast delivery, well packed", "arrived broken", "works as described", "3"]  # the total's 3
    assert read_values(tmp_path / "report.xlsx") == pool and list(TextCorpus([tmp_path / "report.xlsx"])) == pool
    # Rows of data above a header are not a title: the file stays refused, its first row shown.
    rows[0] = ["2026-06-30", "a row", "positive"]
    with pytest.raises(DataError, match=r"its first row is '2026-06-30', 'a row', 'positive'"):
        read_table(save_workbook(tmp_path / "report.xlsx", {"export": rows}), columns=("Feedback", None))


def test_a_label_merged_down_its_rows_labels_each_of_them(tmp_path):
    # Labels typed once per group, the group's label cells merged: openpyxl reads the first alone.
    rows = [["text", "label"], ["a cat", "animal"], ["a dog", None], ["a cow", None], ["an oak", "plant"],
            ["a fern", None], ["a bus", None]]
    path = save_workbook(tmp_path / "merged.xlsx", {"labels": rows})
    book = openpyxl.load_workbook(path)
    book["labels"].merge_cells("B5:B6")  # not B7: "a bus" stays without a label
    book["labels"].merge_cells("B2:B4")
    book.save(path)
    data = read_table(path).check(skip_bad_rows=True)
    assert data.items == ["a cat", "a dog", "a cow", "an oak", "a fern"]
    assert data.labels == ["animal"] * 3 + ["plant"] * 2 and data.skipped == [{"line": 7, "reason": "empty label"}]
    assert data.notes == ["merged cells (B2:B4, B5:B6) read as their value in each row they span"]


def test_a_workbook_lists_images(tmp_path):
    (tmp_path / "photos").mkdir()
    for name in ("a.png", "b.png", "c.png"):
        (tmp_path / "photos" / name).write_bytes(solid_image_bytes((200, 10, 10), "png"))
    path = save_workbook(tmp_path / "list.xlsx", {"Sheet1": [["path", "label"], ["photos/a.png", "red"],
                                                             ["photos/b.png", "red"], ["photos/c.png", "blue"]]})
    assert holds_images(path)
    paths, labels = load_image_list(path)
    assert paths == [str(tmp_path / "photos" / n) for n in ("a.png", "b.png", "c.png")]
    assert labels == ["red", "red", "blue"]
    assert not holds_images(save_workbook(tmp_path / "texts.xlsx", {"s": [["text", "label"], ["a film", "pos"]]}))


def test_written_tables_keep_text_as_text_and_read_back(tmp_path, caplog):
    path = tmp_path / "to_label.xlsx"
    write_table(path, [["item", "label", "guess", "score"], ["=1+1 is two", "", "maths", 0.51],
                       ["a bell\x07 rang", "", "sound", 0.9], ["a goat", "animals", "animals", 0.97]])
    sheet = openpyxl.load_workbook(path).active
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [
        ["item", "label", "guess", "score"], ["=1+1 is two", None, "maths", 0.51],
        ["a bell rang", None, "sound", 0.9], ["a goat", "animals", "animals", 0.97]]
    assert sheet["A2"].data_type == "s" and sheet["A1"].font.bold and sheet.freeze_panes == "A2"
    data = read_table(path).check(skip_bad_rows=False)  # a suggest list filled in part way
    assert not openpyxl.load_workbook(path).worksheets[0].data_validations.dataValidation  # no choices given
    assert data.items == ["a goat"] and data.notes == ["2 rows of this `suggest` list are not labeled yet and left out."]
    assert not list(tmp_path.glob(".*.tmp"))
    # A text longer than an Excel cell holds is cut to its limit, with a warning (Excel would refuse the file).
    with caplog.at_level("WARNING", logger="tfxfer"):
        write_table(tmp_path / "long.xlsx", [["item"], ["x" * 40000]])
    assert len(openpyxl.load_workbook(tmp_path / "long.xlsx").active["A2"].value) == 32767
    assert "A text of 40,000 characters was cut to Excel's 32,767" in caplog.text
    write_table(tmp_path / "t.csv", [["input", "probability"], ["a, b", 0.5]])
    assert (tmp_path / "t.csv").read_text() == 'input,probability\n"a, b",0.5\n'


def test_spreadsheets_that_cannot_be_read_name_the_fix(tmp_path):
    (tmp_path / "saved.xlsx").write_text("text,label\na,b\n")  # a CSV under the wrong name
    with pytest.raises(DataError, match=r"cannot be read as an Excel workbook .* save a copy without one, or save "
                                        r"the sheet as CSV"):
        load_labeled_text(tmp_path / "saved.xlsx")
    with zipfile.ZipFile(tmp_path / "parts.xlsx", "w") as z:  # a zip, not a workbook
        z.writestr("hello.txt", "hi")
    with pytest.raises(DataError, match="cannot be read as an Excel workbook"):
        load_labeled_text(tmp_path / "parts.xlsx")
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500))
    with pytest.raises(DataError, match=r"'.*old.xls' is a spreadsheet in Excel 97-2003 format: save it as .xlsx "
                                        r"\(Excel Workbook\) or as CSV"):
        load_labeled_text(tmp_path / "old.xls")


def test_fit_suggest_and_predict_with_workbooks(text_module, tmp_path):
    rows = labeled_topic_rows(per_class=8)
    train = save_workbook(tmp_path / "labels.xlsx", {"labels": [["text", "label"], *map(list, rows)]})
    export = fit_head(text_module, train, head="linear", export_dir=tmp_path / "export").export_path
    pool = save_workbook(tmp_path / "pool.xlsx", {"pool": [["text"], ["the cat bus"], ["the dog tram"],
                                                           ["the goat van"], ["the cow truck"]]})
    out = tmp_path / "to_label.xlsx"
    result = run_cli(["suggest", export.parent.parent, "--pool", pool, "-n", "2", "--out", out])
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(out)
    suggested = [[c.value for c in row] for row in book.worksheets[0].iter_rows()]
    # The label column offers the model's classes in a drop-down list, kept in a hidden sheet.
    (menu,) = book.worksheets[0].data_validations.dataValidation
    assert (menu.type, menu.formula1, str(menu.sqref)) == ("list", "choices!$A$1:$A$2", "B2:B3")
    assert [c.value for c in book["choices"]["A"]] == ["animals", "vehicles"] and book["choices"].sheet_state == "hidden"
    book.worksheets[0]["B2"] = "animals"  # filled in: read back without a word about the hidden sheet
    book.save(out)
    notes = read_table(out).check(skip_bad_rows=False).notes
    assert notes == ["1 row of this `suggest` list is not labeled yet and left out."]
    assert suggested[0] == ["item", "label", "guess", "score"] and len(suggested) == 3
    assert all(r[0] in {"the cat bus", "the dog tram", "the goat van", "the cow truck"} and r[1] is None
               and r[2] in {"animals", "vehicles"} and 0 < r[3] <= 1 for r in suggested[1:])
    result = run_cli(["predict", export.parent.parent, "@" + str(pool), "--out", tmp_path / "p.xlsx"])
    assert result.exit_code == 0, result.output
    predicted = [[c.value for c in row] for row in openpyxl.load_workbook(tmp_path / "p.xlsx").active.iter_rows()]
    assert predicted[0] == ["input", "label", "probability", "score_animals", "score_vehicles"]
    assert [r[0] for r in predicted[1:]] == ["the cat bus", "the dog tram", "the goat van", "the cow truck"]
    assert all(isinstance(r[2], float) and abs(r[3] + r[4] - 1) < 1e-3 for r in predicted[1:])
    (tmp_path / "bad.xlsx").write_bytes(b"PK\x03\x04 truncated")
    assert "cannot be read as an Excel workbook" in cli_error(["fit-head", "-f", text_module, "-t",
                                                               tmp_path / "bad.xlsx", "-o", tmp_path / "e2"])
    assert not (tmp_path / "e2").exists()
