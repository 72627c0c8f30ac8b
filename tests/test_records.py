"""Labeled JSON records as dataset libraries and annotation tools write them: Hugging Face, pandas,
doccano, Label Studio (JSON-MIN and its full JSON export), Prodigy."""

import json

import pytest

from tfxfer.data.labeled import load_labeled_text
from tfxfer.errors import DataError


def test_json_lines_and_json_arrays_as_dataset_libraries_write_them(tmp_path):
    from tfxfer.data.records import read_values

    rows = [{"text": "fits well", "label": 1}, {"text": "too small", "label": 0}, {"text": "fine", "label": 1}]
    lines = tmp_path / "train.jsonl"  # Hugging Face's Dataset.to_json, integer labels
    lines.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert list(zip(*load_labeled_text(lines))) == [("fits well", "1"), ("too small", "0"), ("fine", "1")]
    array = tmp_path / "train.json"  # pandas' to_json(orient="records"), other key names
    array.write_text(json.dumps([{"idx": i, "sentence": r["text"], "sentiment": r["label"]} for i, r in enumerate(rows)]))
    assert load_labeled_text(array).labels == ["1", "0", "1"]
    assert load_labeled_text(array, columns=("sentence", "idx")).labels == ["0", "1", "2"]
    lines.write_text(lines.read_text() + '{"text": "both", "label": [0, 1]}\n{broken\n')
    with pytest.raises(DataError, match=r"2 of 5 rows .*line 4: a list of labels under 'label': tfxfer fits one "
                                         r"label per example; line 5: not valid JSON"):
        load_labeled_text(lines)
    assert len(load_labeled_text(lines, skip_bad_rows=True).items) == 3
    (tmp_path / "odd.json").write_text('{"text": {"0": "a"}, "label": ["b"]}')
    with pytest.raises(DataError, match=r"one JSON dict; expected JSON Lines .*, an array of objects or a table as "
                                        r"pandas' to_json writes it"):
        load_labeled_text(tmp_path / "odd.json")
    (tmp_path / "keys.jsonl").write_text('{"a": "x", "b": "y"}\n')
    with pytest.raises(DataError, match=r"no key is named as the inputs are \(its records' keys: 'a', 'b'\)"):
        load_labeled_text(tmp_path / "keys.jsonl")
    assert read_values(array) == ["fits well", "too small", "fine"]  # an unlabeled pool: the text key
    doccano = tmp_path / "doccano.jsonl"  # doccano's export: each label a list of one
    doccano.write_text("".join(json.dumps({"id": i, "text": r["text"], "label": [["neg", "pos"][r["label"]]],
                                           "Comments": []}) + "\n" for i, r in enumerate(rows))
                       + '{"id": 3, "text": "not yet", "label": []}\n')
    data = load_labeled_text(doccano, skip_bad_rows=True)
    assert list(zip(*data)) == [("fits well", "pos"), ("too small", "neg"), ("fine", "pos")]
    assert data.skipped == [{"line": 4, "reason": "no label ('label' missing, empty or not text)"}]
    # Label Studio's JSON export nests each task's text and its annotators' choices: one example per task.
    def task(text, *choices, control="sentiment", cancelled=False):
        return {"id": 1, "data": {"text": text, "meta": 1}, "annotations": [
            {"was_cancelled": cancelled, "result": [{"value": {"choices": [c]}, "from_name": control,
                                                     "to_name": "text", "type": "choices"}]} for c in choices]}

    studio = tmp_path / "label-studio.json"
    studio.write_text(json.dumps([task("great", "Positive"), task("awful", "Negative", "Negative"), task("todo"),
                                  task("meh", "Positive", "Negative"), task("fine", "Negative", cancelled=True)]))
    data = load_labeled_text(studio, skip_bad_rows=True)
    assert list(zip(*data)) == [("great", "Positive"), ("awful", "Negative")]
    assert data.skipped == [{"line": 4, "reason": "its annotators disagree (Negative; Positive)"}]
    assert data.notes == [("read as Label Studio's JSON export: labels from its 'sentiment' choices; 2 tasks not "
                           "annotated yet left out")] and data.rows == 5
    studio.write_text(json.dumps([task("great", "Positive"), task("a cat", "Animal", control="topic")]))
    with pytest.raises(DataError, match=r"several choice controls \('sentiment', 'topic'\): name the one to "
                                        r"train on with --label-column"):
        load_labeled_text(studio)
    assert list(zip(*load_labeled_text(studio, columns=(None, "topic")))) == [("a cat", "Animal")]
    (tmp_path / "label-studio-min.json").write_text(json.dumps([{"id": 1, "text": "great", "sentiment": "Positive",
                                                                 "annotator": 1, "lead_time": 2.5}]))
    assert list(zip(*load_labeled_text(tmp_path / "label-studio-min.json"))) == [("great", "Positive")]


def test_prodigy_annotations_are_read_by_their_answer(tmp_path):
    def write(name, records):  # as `prodigy db-out` writes them, with its hashes
        path = tmp_path / name
        path.write_text("".join(json.dumps({**r, "_input_hash": i, "_task_hash": -i}) + "\n"
                                for i, r in enumerate(records)))
        return path

    # One label, accepted or rejected (a yes/no model): a reject is an example of its absence.
    binary = write("sports.jsonl", [{"text": t, "label": "SPORTS", "answer": a} for t, a in (
        ("goal scored", "accept"), ("election day", "reject"), ("hmm", "ignore"), ("match won", "accept"))])
    data = load_labeled_text(binary)
    assert list(zip(*data)) == [("goal scored", "SPORTS"), ("election day", "not SPORTS"), ("match won", "SPORTS")]
    assert data.notes == [("read as Prodigy annotations (their 'answer'): 2 accepted examples read, 1 rejected read "
                           "as 'not SPORTS', 1 ignored left out")] and data.rows == 4
    # Choices: the label is the option accepted, not the answer (which a plain reader took for the label).
    options = [{"id": "POS", "text": "good"}, {"id": "NEG", "text": "bad"}]
    choice = write("choice.jsonl", [{"text": t, "options": options, "accept": [c], "answer": a} for t, c, a in (
        ("great", "POS", "accept"), ("awful", "NEG", "accept"), ("meh", "NEG", "reject"))])
    data = load_labeled_text(choice)
    assert list(zip(*data)) == [("great", "POS"), ("awful", "NEG")]
    assert data.notes == [("read as Prodigy annotations (their 'answer'): 2 accepted examples read, 1 rejected left "
                           "out (a reject says which label a text is not)")]


def test_a_table_in_one_json_object_as_pandas_and_python_write_it(tmp_path):
    # DataFrame.to_json()'s default orient ("columns"), its other orients, a Series' to_json, and what
    # json.dump of a dict of lists writes.
    texts, labels = ["fits well", "too small", "fine"], ["pos", "neg", "pos"]
    written = {
        "columns": {"text": dict(enumerate(texts)), "label": dict(enumerate(labels))},
        "index": {i: {"text": t, "label": l} for i, (t, l) in enumerate(zip(texts, labels))},
        "split": {"columns": ["text", "label"], "index": [0, 1, 2], "data": [list(r) for r in zip(texts, labels)]},
        "series": dict(zip(texts, labels)),
        "lists": {"text": texts, "label": labels},
        "wrapped": {"data": [{"text": t, "label": l} for t, l in zip(texts, labels)]},
        "by_label": {"pos": ["fits well", "fine"], "neg": ["too small"]},
    }
    for orient, table in written.items():
        (tmp_path / f"{orient}.json").write_text(json.dumps(table))
        data = load_labeled_text(tmp_path / f"{orient}.json")
        assert sorted(zip(*data)) == sorted(zip(texts, labels)), orient
        # A mapping has no input or label key to report ('item' and 'label' were tfxfer's): it says how it read.
        mapping = {"series": "inputs and their labels", "by_label": "labels, each with a list of its inputs"}
        assert data.columns == (None if orient in mapping else ("text", "label")), orient
        if orient in mapping:
            assert data.notes == [f"read as one JSON object of {mapping[orient]}."]


def test_a_chatbots_intents_give_an_example_per_pattern(tmp_path):
    path = tmp_path / "intents.json"
    path.write_text(json.dumps({"intents": [
        {"tag": "greeting", "patterns": ["Hi", "Is anyone there?"], "responses": ["Hello!"]},
        {"tag": "goodbye", "patterns": ["Bye", "See you later", "Goodbye"], "responses": ["Bye!"]}]}))
    data = load_labeled_text(path)
    assert list(zip(*data)) == [("Hi", "greeting"), ("Is anyone there?", "greeting"), ("Bye", "goodbye"),
                                ("See you later", "goodbye"), ("Goodbye", "goodbye")]
    assert data.notes == ["2 records hold lists of inputs under 'patterns': each input is an example of its "
                          "record's label."]
