"""Labeled records in JSON: what dataset libraries and annotation tools export.

JSON Lines (`.jsonl`, one object per line; also what Hugging Face's
`Dataset.to_json` writes under `.json`) or a JSON array of objects (pandas'
`to_json(orient="records")`). Keys are found as CSV headers are
(`names.find_column`, or the names the user gives), and every record is read
or skipped with its reason, as rows of a table are. A label may be a list of
one (doccano's export: `"label": ["positive"]`); a list of several is a
multi-label example, which a head of one label per example cannot learn.
Prodigy's annotations are read by their `answer`: accepted examples as they
are, rejected ones as "not LABEL" where the file annotates one label. Label
Studio's JSON export nests each task's fields and choices: it is flattened
to one record per task first.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Sequence

from tfxfer.data.columnar import PARQUET_SUFFIXES
from tfxfer.data.compressed import format_suffix
from tfxfer.data.delimited import read_text
from tfxfer.data.labeled_data import LabeledData
from tfxfer.data.names import (
    LABEL_COLUMNS,
    TEXT_COLUMNS,
    Columns,
    check_columns,
    find_column,
    unnamed_note,
)
from tfxfer.data.table import column_rows, read_table
from tfxfer.data.workbook import WORKBOOK_SUFFIXES
from tfxfer.errors import DataError, counted

JSON_SUFFIXES = (".jsonl", ".json")
# Files read as tables: delimited text, Excel workbooks, Parquet or JSON records.
TABLE_SUFFIXES = (".csv", ".tsv", *WORKBOOK_SUFFIXES, *PARQUET_SUFFIXES, *JSON_SUFFIXES)


def is_table(path: str | Path) -> bool:
    """Whether `path` is named as a table (`TABLE_SUFFIXES`), compressed or not (`reviews.csv.gz`)."""
    return format_suffix(path) in TABLE_SUFFIXES


def _records(path: Path) -> tuple[list[tuple[int, object]], int, str | None]:
    """`(line or position, value)` of each record, how many lines were not valid UTF-8, and how a JSON
    object that maps inputs to labels (or labels to inputs) was read, if it was one."""
    text, invalid, _ = read_text(path)
    if format_suffix(path) == ".json":
        try:
            whole = json.loads(text)
        except json.JSONDecodeError:
            whole = None  # JSON Lines under .json, as Dataset.to_json writes them
        mapping = None
        if isinstance(whole, dict):
            whole, mapping = _object_records(whole) or (whole, None)
        if isinstance(whole, list):
            return list(enumerate(whole, 1)), invalid, mapping
        if whole is not None:
            raise DataError(f"{str(path)!r} is one JSON {type(whole).__name__}; expected JSON Lines (one object "
                            "per line), an array of objects or a table as pandas' to_json writes it.")
    out = []
    for n, line in enumerate(text.split("\n"), 1):
        if line.strip():
            try:
                out.append((n, json.loads(line)))
            except json.JSONDecodeError as e:
                out.append((n, e))
    return out, invalid, None


def _object_records(whole: dict) -> tuple[list, str | None] | None:
    """The records of one JSON object that holds a table: pandas' `to_json` in its other orients (a
    DataFrame's default, "columns": `{column: {row: value}}`; "index": `{row: {column: value}}`;
    "split"), `{column: [values]}`, `{item: label}` (a Series' `to_json`), `{label: [items]}`, or
    records under one key (`{"data": [...]}`); with how a mapping of the last two kinds was read (its
    records' `item` and `label` are no keys of the file's), else `None`. `None` for other objects."""
    values = list(whole.values())
    if not values:
        return None
    if {"columns", "data"} <= whole.keys() and isinstance(whole["data"], list):  # orient="split"
        return [dict(zip(whole["columns"], row)) if isinstance(row, list) else row for row in whole["data"]], None
    if all(isinstance(v, dict) for v in values):
        rows = list(dict.fromkeys(key for v in values for key in v))
        if len(whole) > len(rows):  # a table has more rows than columns: {row: {column: value}}
            return values, None
        return [{column: cells.get(row) for column, cells in whole.items()} for row in rows], None
    if all(isinstance(v, list) for v in values):
        if len(values) == 1 and all(isinstance(record, dict) for record in values[0]):
            return values[0], None
        if len({len(v) for v in values}) == 1 and find_column([str(k) for k in whole], LABEL_COLUMNS) is not None:
            return [dict(zip(whole, row)) for row in zip(*values)], None  # {column: [values]}: df.to_dict("list")
        if not any(isinstance(item, (dict, list)) for v in values for item in v):
            return ([{"item": item, "label": label} for label, items in whole.items() for item in items],
                    "one JSON object of labels, each with a list of its inputs")
        return None
    if not any(isinstance(v, (dict, list)) for v in values) and len(set(map(str, values))) < len(values):
        # Labels repeat; a record alone ({"text": ..., "label": ...}) is no mapping.
        return ([{"item": item, "label": label} for item, label in whole.items()],
                "one JSON object of inputs and their labels")
    return None


def _keys(records) -> list[str]:
    seen = {}
    for _, record in records[:1000]:
        if isinstance(record, dict):
            seen.update(dict.fromkeys(record))
    return list(seen)


def _key(keys: list[str], names: Sequence[str], words_from: int = 3, named: str | None = None,
         codes: bool = False) -> str | None:
    """The key `find_column` finds among `keys`, as a CSV's header column, if any."""
    index = find_column(keys, names, words_from, named, codes)
    return None if index is None else keys[index]


def text_key(keys: list[str], source: str, column: str | None = None, names: Sequence[str] = TEXT_COLUMNS,
             fix: str = "Name it with --input-column.") -> str:
    """The key of the inputs of records without labels: `column`, a key named as texts (or paths)
    are, or the only key; `DataError` naming the keys, and `fix`, when there is none (or `column`
    is not one of them)."""
    key = _key(keys, names, words_from=2, named=column) or (keys[0] if len(keys) == 1 else None)
    if column and (key or "").lower() != column.strip().lower():  # named, and not there: never another key
        key = None
    if key is None:
        shown = ", ".join(repr(k) for k in keys[:12]) or "none"
        raise DataError(f"{source!r}: no key is named as the inputs are (its records' keys: {shown}). {fix}")
    return key


def _text(value) -> str | None:
    """A field as text: strings, numbers and booleans; `None` for anything else (lists, objects, null)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (str, int, float)):
        return str(value).strip()
    return None


def read_records(path: str | Path, item_columns: Sequence[str] = TEXT_COLUMNS, columns: Columns = None,
                 keep_columns: bool = False) -> LabeledData:
    """Items and labels of JSON records (see the module docstring).

    Args:
        path: A `.jsonl` or `.json` file.
        item_columns: Key names of the item. Defaults to text names.
        columns: `(input key, label key)` to take, either `None` to find.
        keep_columns: Keep the records' other keys (`LabeledData.other_cells`,
            as `field_text`). Defaults to `False`.

    Returns:
        `LabeledData`; records that cannot be used are in `skipped` (call `check`).
    """
    path = Path(path)
    records, invalid, mapping = _records(path)
    check_columns(columns)
    keys = _keys(records)
    named_item, named_label = columns or (None, None)
    studio = None
    if {"data", "annotations"} <= set(keys):  # Label Studio's JSON export: fields and choices nested in tasks
        records, named_label, studio = _label_studio_tasks(records, named_label, str(path))
        keys = _keys(records)
    item = _key(keys, item_columns, named=named_item)
    label = _key(keys, LABEL_COLUMNS, named=named_label, codes=True)
    prodigy = _is_prodigy(keys)
    if prodigy and not named_label:  # its `answer` says accept or reject: the label is elsewhere
        label = "label" if "label" in keys else "accept" if "accept" in keys else label
    if records and (item is None or label is None or item == label):
        shown = ", ".join(repr(k) for k in keys[:12]) or "none"
        raise DataError(f"{str(path)!r}: no key is named as the {'inputs' if item is None else 'labels'} are "
                        f"(its records' keys: {shown}). Name them with --input-column and --label-column.")
    note = f"read as {mapping}." if mapping else unnamed_note(columns, [item, label])
    data = LabeledData([], [], str(path), invalid_utf8=invalid, notes=[note] if note else [],
                       columns=(item, label) if records and not mapping else None)
    if prodigy:
        records = _prodigy_answers(records, label, data)
    records = _one_per_input(records, item, data)
    if studio:
        data.notes.append(studio["note"])
        data.skipped += studio["skipped"]
        data.rows += len(studio["skipped"]) + studio["unlabeled"]
    if keep_columns and not mapping:
        data.other_cells = []
    for line, record in records:
        data.rows += 1
        reason = _problem(record, item, label)
        if reason:
            data.skipped.append({"line": line, "reason": reason})
        else:
            data.items.append(_text(record[item]))
            data.labels.append(_label(record[label]))
            if data.other_cells is not None:
                data.other_cells.append({k: field_text(v) for k, v in record.items() if k not in (item, label)})
    return data


def _one_per_input(records: list, item: str, data: LabeledData) -> list:
    """`records` with each whose input is a list of texts made one record per text, with a note: the
    intents.json of chatbot tutorials, `{"tag": "greeting", "patterns": ["Hi", "Hello"], ...}`."""
    out, lists = [], 0
    for line, record in records:
        values = record.get(item) if isinstance(record, dict) else None
        if isinstance(values, list) and values and all(_text(v) for v in values):
            out += [(line, {**record, item: value}) for value in values]
            lists += 1
        else:
            out.append((line, record))
    if lists:
        data.notes.append(f"{counted(lists, 'record')} {'holds a list' if lists == 1 else 'hold lists'} of inputs "
                          f"under {item!r}: each input is an example of its record's label.")
    return out


def _annotations(task) -> list[dict]:
    """A Label Studio task's annotations that were not cancelled."""
    found = task.get("annotations") if isinstance(task, dict) else None
    return [a for a in found or [] if isinstance(a, dict) and not a.get("was_cancelled")]


def _choices(task, control: str | None = None) -> list[tuple[str | None, tuple]]:
    """`(control name, choices)` of each choice a Label Studio task's annotations made (of `control` only)."""
    return [(r.get("from_name"), tuple(r["value"].get("choices") or ())) for a in _annotations(task)
            for r in a.get("result") or [] if isinstance(r, dict) and r.get("type") == "choices"
            and isinstance(r.get("value"), dict) and (control is None or r.get("from_name") == control)]


def _label_studio_tasks(records, named: str | None, source: str) -> tuple[list, str, dict]:
    """Label Studio's JSON export flattened to one record per task: its `data` fields and the choice
    of one control (`named`, or the only one) under that control's name.

    Returns:
        `(records, control, account)`: `account` has a `note`, the `skipped` tasks whose annotators
        disagree, and how many tasks are `unlabeled` (not annotated yet: left out, as in a `suggest` list).
    """
    controls = collections.Counter(name for _, task in records for name, _ in _choices(task))
    if named is None and len(controls) != 1:
        if not controls:
            raise DataError(f"{source!r} is Label Studio's JSON export with no choices made in it (a "
                            "classification's labels): annotate some tasks, or export a project of choices.")
        raise DataError(f"{source!r} is Label Studio's JSON export with several choice controls "
                        f"({', '.join(map(repr, controls))}): name the one to train on with --label-column.")
    control = named or next(iter(controls))
    flat, skipped, unlabeled = [], [], 0
    for line, task in records:
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            flat.append((line, task))  # named as any record that is not one
            continue
        made = {choice for _, choice in _choices(task, control)}
        if not made:
            unlabeled += 1
        elif len(made) > 1:
            shown = "; ".join(", ".join(choice) for choice in sorted(made))
            skipped.append({"line": line, "reason": f"its annotators disagree ({shown})"})
        else:
            flat.append((line, {**task["data"], control: list(made.pop())}))
    note = f"read as Label Studio's JSON export: labels from its {control!r} choices"
    if unlabeled:
        note += f"; {counted(unlabeled, 'task')} not annotated yet left out"
    return flat, control, {"note": note, "skipped": skipped, "unlabeled": unlabeled}


def _is_prodigy(keys: list[str]) -> bool:
    """Whether records are Prodigy's annotations (`prodigy db-out`): an `answer` and its hashes."""
    return "answer" in keys and bool({"_input_hash", "_task_hash"} & set(keys))


def _prodigy_answers(records, label: str, data: LabeledData) -> list:
    """Prodigy's records as examples of their label: accepted ones as they are; ignored ones left out;
    rejected ones, which say which label a text is *not*, as `not LABEL` where the file annotates one
    label (a yes/no model), else left out. Counted in a note."""
    answers = collections.Counter(r.get("answer") for _, r in records if isinstance(r, dict))
    labels = {_label(r.get(label)) for _, r in records if isinstance(r, dict)} - {None}
    one = next(iter(labels)) if len(labels) == 1 and label != "accept" else None
    kept = []
    for line, record in records:
        answer = record.get("answer") if isinstance(record, dict) else "accept"
        if answer == "reject" and one is not None:
            kept.append((line, {**record, label: f"not {one}"}))
        elif answer not in ("reject", "ignore"):
            kept.append((line, record))
    said = [f"{counted(answers['accept'], 'accepted example')} read"]
    if answers["reject"]:
        said.append(f"{answers['reject']:,} rejected read as 'not {one}'" if one is not None else
                    f"{answers['reject']:,} rejected left out (a reject says which label a text is not)")
    if answers["ignore"]:
        said.append(f"{answers['ignore']:,} ignored left out")
    data.notes.append(f"read as Prodigy annotations (their 'answer'): {', '.join(said)}")
    data.rows += len(records) - len(kept)
    return kept


def _problem(record, item: str, label: str) -> str | None:
    if isinstance(record, json.JSONDecodeError):
        return f"not valid JSON ({record.msg})"
    if not isinstance(record, dict):
        return f"a JSON {type(record).__name__}, not an object"
    value = record.get(label)
    if isinstance(value, list) and not _one_label(value):
        return f"a list of labels under {label!r}: tfxfer fits one label per example"
    if not _text(record.get(item)):
        return f"no input ({item!r} missing, empty or not text)"
    if not _label(value):
        return f"no label ({label!r} missing, empty or not text)"
    return None


def _one_label(values: list) -> bool:
    """Whether a list holds one label (once or more): doccano's `["positive"]`; empty is no label."""
    return all(v == values[0] for v in values)


def _label(value) -> str | None:
    """A record's label: as `_text`, or the one label of a list holding it."""
    if isinstance(value, list) and value and _one_label(value):
        value = value[0]
    return _text(value)


def read_labeled(path: str | Path, item_columns: Sequence[str] = TEXT_COLUMNS, columns: Columns = None,
                 keep_columns: bool = False) -> LabeledData:
    """Items and labels of a CSV/TSV (`table.read_table`) or JSON records (`read_records`), with their
    rows' other columns if `keep_columns`."""
    if format_suffix(path) in JSON_SUFFIXES:
        return read_records(path, item_columns, columns, keep_columns)
    return read_table(path, item_columns, columns, keep_columns=keep_columns)


def value_rows(path: str | Path, column: str | None = None, names: Sequence[str] = TEXT_COLUMNS,
               first_by_default: bool = False) -> tuple[list[str], list[list[str]], int]:
    """One column of a table read without labels, with the rest of its rows: `table.column_rows` of a
    CSV/TSV, workbook or Parquet file; of JSON records, their keys as the header (of their `data`, in
    Label Studio's tasks: a pool of the tasks still to label), a key's nested value as JSON."""
    path = Path(path)
    if format_suffix(path) not in JSON_SUFFIXES:
        return column_rows(path, column, names, first_by_default)
    records, _, _ = _records(path)
    if records and all(isinstance(r, dict) and isinstance(r.get("data"), dict) for _, r in records[:100]):
        records = [(n, r["data"]) for n, r in records if isinstance(r, dict) and isinstance(r.get("data"), dict)]
    key = text_key(_keys(records), str(path), column, names)
    records = [r for _, r in records if isinstance(r, dict)]
    header = list(dict.fromkeys(k for r in records for k in r))
    cells = [[field_text(r.get(k)) for k in header] for r in records]
    return header, cells, header.index(key) if records else 0


def field_text(value) -> str:
    """A field as a table's cell: `_text`'s, `""` for null, a list or object as JSON."""
    text = _text(value)
    return text if text is not None else "" if value is None else json.dumps(value, ensure_ascii=False)


def read_values(path: str | Path, column: str | None = None, names: Sequence[str] = TEXT_COLUMNS,
                first_by_default: bool = False) -> list[str]:
    """The non-empty values of one column of a table (`value_rows`, whose arguments these are)."""
    _, rows, index = value_rows(path, column, names, first_by_default)
    return [value for row in rows if (value := cell(row, index).strip())]


def cell(row: Sequence[str], index: int) -> str:
    """`row[index]`, `""` past a short row's end."""
    return row[index] if index < len(row) else ""
