import csv
import gzip
import html
import json
import re
import shutil
import subprocess
import sys
import textwrap
import unicodedata
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import (
    cli_error,
    labeled_topic_rows,
    run_cli,
    run_without_tfxfer,
    write_csv,
)
from tfxfer.export.warmup import read_warmup
from tfxfer.fitting import fit_head
from tfxfer.head.report import summary_text


def test_text_fit_export_reload_matches_in_memory(text_module, labeled_tsv, tmp_path):
    fitted = fit_head(text_module, labeled_tsv, lexical=True)  # the export computes the words and n-grams too
    report = fitted.report
    assert report["labels"] == ["animals", "vehicles"]
    assert report["cross_validation"]["accuracy_mean"] >= 0.95
    assert report["learning_curve"][0]["per_class"] == 1 and report["labels_needed"]["message"]
    texts = ["a cow and the goat", "the tram", "nothing known here"]
    expected = fitted.classifier.predict_proba(fitted.features(texts).features)
    path = fitted.export(tmp_path / "export", "topics")
    assert path == tmp_path / "export" / "topics" / "1"
    assert (path / "assets" / "labels.txt").read_text() == "animals\nvehicles\n"
    out = run_without_tfxfer(f"""
        m = tf.saved_model.load({str(path)!r})
        out = m.signatures["serving_default"](text=tf.constant({texts!r}))
        print(json.dumps({{"scores": out["scores"].numpy().tolist(), "classes": [c.decode() for c in out["classes"].numpy()],
                          "outputs": sorted(out)}}))
    """)
    np.testing.assert_allclose(out["scores"], expected, atol=1e-5)
    assert out["outputs"] == ["classes", "probabilities", "scores"]
    assert out["classes"][:2] == ["animals", "vehicles"]
    # A text written decomposed (NFD, as on a Mac) is the text written composed, to words and n-grams alike.
    accented = ["the cöw and the vän", unicodedata.normalize("NFD", "the cöw and the vän")]
    served = run_without_tfxfer(f"""
        m = tf.saved_model.load({str(path)!r})
        print(json.dumps(m.signatures["serving_default"](text=tf.constant({accented!r}))["scores"].numpy().tolist()))
    """)
    assert fitted.report["lexical"]["columns"] and served[0] == served[1]
    # After a restart, the export is the model: tfxfer.ExportedModel answers as the FittedHead did.
    import tfxfer

    reloaded = tfxfer.ExportedModel(tmp_path / "export")
    assert reloaded.labels == fitted.labels and reloaded.kind == "text"
    assert [label for label, _ in reloaded.predict(texts)] == [label for label, _ in fitted.predict(texts)]
    np.testing.assert_allclose(reloaded.scores(texts), expected, atol=1e-5)
    assert reloaded.evaluate(labeled_tsv)["accuracy"] == fitted.evaluate(labeled_tsv)["accuracy"]
    # joblib.dump(head), as scikit-learn users save models: the error names the export (it was a lambda's).
    import pickle

    with pytest.raises(TypeError, match=r"cannot be pickled. Save it with head.export\(DIR\) .* head.classifier"):
        pickle.dumps(fitted)
    with pytest.raises(TypeError, match=r"cannot be pickled: keep its path .* tfxfer.ExportedModel\(path\)"):
        pickle.dumps(reloaded)
    head = pickle.loads(pickle.dumps(fitted.classifier))
    np.testing.assert_allclose(head.predict_proba(fitted.features(texts).features), expected, atol=1e-6)
    reports = tmp_path / "export" / "topics" / "reports" / "1"
    assert {p.name for p in reports.iterdir()} >= {"report.json", "report.txt", "learning_curve.png", "confusion_matrix.png"}
    # report.html: the text report and every plot on one page, the plots found beside it.
    page = (reports / "report.html").read_text()
    assert "<title>topics, version 1: fit report</title>" in page
    assert html.escape((reports / "report.txt").read_text().strip()) in page
    shown = re.findall(r'<img src="([^"]+)"', page)
    assert shown == ["learning_curve.png", "confusion_matrix.png", "reliability.png"]
    assert all((reports / name).is_file() for name in shown)


def test_saved_model_cli_show_and_run(text_module, labeled_tsv, tmp_path):
    path = fit_head(text_module, labeled_tsv, head="linear").export(tmp_path / "e")
    cli = shutil.which("saved_model_cli", path=str(Path(sys.executable).parent))
    show = subprocess.run([cli, "show", "--dir", str(path), "--all"], capture_output=True, text=True, timeout=120)
    assert show.returncode == 0 and "inputs['text']" in show.stdout and "outputs['scores']" in show.stdout
    run = subprocess.run([cli, "run", "--dir", str(path), "--tag_set", "serve", "--signature_def", "serving_default",
                          "--input_exprs", 'text=["the dog", "the bus"]'], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "[b'animals' b'vehicles']" in run.stdout
    # TF Serving's warmup file: requests of 1 and 8 texts that the model answers.
    model = tf.saved_model.load(str(path))
    requests = read_warmup(path)
    assert [(signature, list(inputs), len(inputs["text"])) for signature, inputs in requests] == \
        [("serving_default", ["text"], 1), ("serving_default", ["text"], 8)]
    assert model.signatures["serving_default"](text=tf.constant(requests[1][1]["text"]))["scores"].shape == (8, 2)


def test_verbose_shows_tfxfer_and_not_tensorflow_info(text_module, labeled_tsv, tmp_path):
    # Each SavedModel save makes TensorFlow log hundreds of renamed inputs at INFO: -v is tfxfer's steps.
    command = [sys.executable, "-m", "tfxfer", "-v", "fit-head", "--features", str(text_module), "--train",
               str(labeled_tsv), "--out", str(tmp_path / "e"), "--head", "linear"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Loaded FeatureModule(" in run.stderr and "INFO absl" not in run.stderr
    assert "INFO tensorflow" not in run.stderr


def test_fit_head_and_predict_start_and_end_tensorflow_quickly(text_module, labeled_tsv, tmp_path):
    # `import tensorflow` imports Keras eagerly (~1.7 s of a 5 s start on 2 cores); writing and running
    # a SavedModel need none of it, so these commands skip it: a module-level `import keras` on their
    # path would cost every run that time again.
    fit = ["fit-head", "--features", str(text_module), "--train", str(labeled_tsv), "--out", str(tmp_path / "e")]
    predict = ["predict", str(tmp_path / "e"), "the cat chased the dog"]
    # Nor do they end with a last collection over TensorFlow's objects (1 - 1.5 s each): an object
    # kept alive by a cycle is still there when the process exits.
    code = textwrap.dedent(f"""
        import os, sys
        from tfxfer.cli import main
        for args in ({fit!r}, {predict!r}):
            main(args, standalone_mode=False)
            print("keras imported:", "keras" in sys.modules, "tensorflow imported:", "tensorflow" in sys.modules)
        class Cycle:
            def __del__(self):
                os.write(1, b"collected at exit")
        cycle = Cycle()
        cycle.itself = cycle
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.count("keras imported: False tensorflow imported: True") == 2, run.stdout
    assert re.search(r"^animals\t", run.stdout, re.M), run.stdout
    assert "collected at exit" not in run.stdout


def test_cli_fit_predict_evaluate(text_module, labeled_tsv, tmp_path):
    out = tmp_path / "export"
    result = run_cli(["fit-head", "-f", text_module, "-t", labeled_tsv, "-o", out, "--name", "topics", "--validation-split", "0.25"])
    assert result.exit_code == 0, result.output
    assert "Cross-validated accuracy" in result.output and "Held-out validation accuracy" in result.output
    # The topic rows repeat 6 texts: the split holds out copies of training examples, and says so.
    assert re.search(r"\(6 examples; 95% interval [0-9.]+ - 1.000; \d of them also training examples\)", result.output)
    assert "(chosen by cross-validated log loss, stratified" in result.output
    assert f"Exported {out}/topics/1/" in result.output
    result = run_cli(["predict", out, "the goat and a cow", "the truck and a van", "--json"])
    assert result.exit_code == 0, result.output
    assert [r["label"] for r in json.loads(result.output)] == ["animals", "vehicles"]
    (tmp_path / "inputs.txt").write_text("the sheep and a dog\nthe train and a bus\n")
    result = run_cli(["predict", out / "topics", f"@{tmp_path / 'inputs.txt'}"])
    assert result.output.split("\n")[0].startswith("animals\t") and result.output.split("\n")[1].startswith("vehicles\t")
    assert "blank" not in result.output
    # A blank line in between moves every later prediction off its line: said (blank lines at the end are not).
    (tmp_path / "gaps.txt").write_text("the sheep and a dog\n\n  \nthe train and a bus\n\n\n")
    result = run_cli(["predict", out / "topics", f"@{tmp_path / 'gaps.txt'}"])
    assert f"2 lines of {tmp_path / 'gaps.txt'} are blank: left out, without a prediction (the predictions are " \
           "one per non-blank line)." in result.output
    assert [line.split("\t")[0] for line in result.output.splitlines()[1:]] == ["animals", "vehicles"], result.output
    # The @ forgotten: the file's lines are classified, not its name, and the command says so.
    result = run_cli(["predict", out / "topics", str(tmp_path / "inputs.txt")])
    lines = result.output.split("\n")
    assert "Reading the inputs of the file" in lines[0] and lines[1].startswith("animals\t") and len(lines) == 4
    with gzip.open(tmp_path / "inputs.txt.gz", "wt") as f:  # compressed, as lists are shared
        f.write("the sheep and a dog\nthe train and a bus\n")
    result = run_cli(["predict", out / "topics", str(tmp_path / "inputs.txt.gz")])
    assert [line.split("\t")[0] for line in result.output.splitlines()[1:]] == ["animals", "vehicles"], result.output
    long_text = "the goat and a cow " * 20 + "see notes.txt"  # too long a name for any file: a text
    result = run_cli(["predict", out / "topics", long_text + "\n\nP.S. a second paragraph"])
    assert result.exit_code == 0 and result.output.startswith("animals\t"), result.output
    # Printed on one line, cut short, so a document does not fill the terminal; --json keeps it whole.
    assert len(result.output.splitlines()) == 1 and len(result.output) < 130, result.output
    result = run_cli(["predict", out / "topics", long_text + "\n\nP.S.", "--json"])
    assert json.loads(result.output)[0]["input"] == long_text + "\n\nP.S."
    # A table's text column, scored into a CSV with a score column per class.
    predictions = tmp_path / "predictions.csv"
    result = run_cli(["predict", out, f"@{labeled_tsv}", "--out", predictions])
    assert result.exit_code == 0 and f"Wrote 24 predictions to {predictions}" in result.output, result.output
    rows = list(csv.DictReader(predictions.open()))
    texts, labels = zip(*(line.split("\t") for line in labeled_tsv.read_text().splitlines()[1:]))
    assert [r["input"] for r in rows] == list(texts) and [r["label"] for r in rows] == list(labels)
    # The table's other columns come first: its own label column, beside the model's, as given_label.
    assert list(rows[0]) == ["given_label", "input", "label", "probability", "score_animals", "score_vehicles"]
    assert [r["given_label"] for r in rows] == list(labels)
    assert abs(float(rows[0]["score_animals"]) + float(rows[0]["score_vehicles"]) - 1) < 1e-3
    # An id to join the predictions on is kept, from each table, and typed inputs have none.
    new = tmp_path / "new.csv"
    new.write_text('id,text,source\n17,the goat and a cow,web\n20,,web\n18,"a truck, a van",app\n21,  \n')
    (tmp_path / "new.jsonl").write_text('{"id": 19, "text": "the cat", "meta": {"lang": "en"}}\n{"id": 22}\n')
    result = run_cli(["predict", out, f"@{new}", f"@{tmp_path / 'new.jsonl'}", "the bus", "-o", tmp_path / "p.csv"])
    assert result.exit_code == 0, result.output
    # Rows without a text get no prediction: said, before someone joins on ids 20, 21 and 22 and finds them gone.
    assert f"2 rows of {new} have no text: left out, without a prediction." in result.output
    assert f"1 row of {tmp_path / 'new.jsonl'} has no text: left out" in result.output
    rows = list(csv.reader((tmp_path / "p.csv").open()))
    assert [r[:6] for r in rows] == [["id", "source", "meta", "input", "label", "probability"],
                                     ["17", "web", "", "the goat and a cow", "animals", rows[1][5]],
                                     ["18", "app", "", "a truck, a van", "vehicles", rows[2][5]],
                                     ["19", "", '{"lang": "en"}', "the cat", "animals", rows[3][5]],
                                     ["", "", "", "the bus", "vehicles", rows[4][5]]]
    result = run_cli(["predict", out, f"@{new}", "--json"])  # the warning on stderr: stdout stays JSON
    assert [(r["id"], r["source"], r["input"], r["label"]) for r in json.loads(result.stdout)] == \
        [("17", "web", "the goat and a cow", "animals"), ("18", "app", "a truck, a van", "vehicles")]
    assert "already exists" in cli_error(["predict", out, "a cow", "--out", predictions])
    plot = tmp_path / "cm.png"
    result = run_cli(["evaluate", out, "--data", labeled_tsv, "--plot", plot])
    assert result.exit_code == 0, result.output
    assert "accuracy 1.000 on 24 examples" in result.output and plot.stat().st_size > 1000
    # 18 rows trained the model, and 2 of the 6 held out repeat their texts: said, with the accuracy on the rest.
    assert f"20 of the 24 examples of {labeled_tsv} were in the training data of" in result.output
    assert "on the other 4, accuracy 1.000" in result.output
    assert "Guessing would score 0.500 (the classes are the same size)." in result.output  # 12 and 12
    # A file of the user's where the plot goes is kept: refused before any scoring (its own plot is redrawn).
    (tmp_path / "figure.png").write_bytes(b"\x89PNG my own figure")
    assert cli_error(["evaluate", out, "--data", labeled_tsv, "--plot", tmp_path / "figure.png"]) == \
        f"Error: {str(tmp_path / 'figure.png')!r} exists and is not a plot tfxfer drew: choose another --plot, or delete it."
    assert (tmp_path / "figure.png").read_bytes() == b"\x89PNG my own figure"
    # A class the model was never trained on: its rows are real misses, counted and named.
    extra = tmp_path / "extra.tsv"
    extra.write_text(labeled_tsv.read_text() + "the rose and a tulip\tplants\nthe oak\tplants\n")
    examples = tmp_path / "examples.csv"
    result = run_cli(["evaluate", out, "--data", extra, "--plot", plot, "--out", examples])
    assert result.exit_code == 0, result.output
    # --out: every example with its label, the model's and whether it is right, to read the mistakes.
    rows = list(csv.DictReader(examples.open()))
    assert list(rows[0])[:5] == ["input", "true_label", "label", "right", "probability"] and len(rows) == 26
    assert [(r["input"], r["true_label"], r["right"]) for r in rows if r["right"] != "True"] == \
        [("the rose and a tulip", "plants", "False"), ("the oak", "plants", "False")]
    assert "already exists" in cli_error(["evaluate", out, "--data", extra, "--out", examples])
    assert "2 rows of" in result.output and "labels the model was not trained on (plants): they count as missed" \
        in result.output
    # 24 of 26 right: the interval says what another 26 examples could show; the misses are listed.
    assert "accuracy 0.923 on 26 examples (95% interval 0.759 - 0.979)" in result.output
    # 12, 12 and 2: imbalanced, so compared in balanced accuracy, where the unknown class scores 0.
    assert ("Always answering 'animals' would score 0.462 but find no other class: balanced accuracy (the mean "
            "recall of the classes) 0.333, against 0.667 here.") in result.output
    assert "Misclassified, 2 most confident:\n  plants -> " in result.output and "the rose and a tulip" in result.output
    assert "Calibration: expected calibration error" in result.output
    assert "calibrated scores would show about 0." in result.output and "by chance on 26 examples)" in result.output
    assert [l.split() for l in result.output.splitlines() if l.startswith("plants")][0][:4] == \
        ["plants", "0.000", "0.000", "0.000"]
    assert "training labels' class mix" not in result.output  # animals and vehicles as in training
    # Three animals to a vehicle, where the labels were one to one: the scores know only the labels'
    # mix, so the calibration error is also given with the examples weighted back to it.
    lines = labeled_tsv.read_text().splitlines()
    shifted = tmp_path / "shifted.tsv"
    shifted.write_text("\n".join(lines[:13] + [l for l in lines if l.endswith("vehicles")][:4]) + "\n")
    result = run_cli(["evaluate", out, "--data", shifted])
    assert ("At the training labels' class mix ('animals' is 25 points more common here): expected calibration "
            "error") in result.output, result.output
    mix = json.loads(run_cli(["evaluate", out, "--data", shifted, "--json"]).stdout)["calibration"]["training_mix"]
    assert mix["training_shares"] == {"animals": 0.5, "vehicles": 0.5} and mix["of"] == "scores"
    assert mix["largest_shift"] == {"class": "animals", "points": pytest.approx(25)}
    # A test table's other columns come first, to join the mistakes back on: from each table read.
    (tmp_path / "test").mkdir()
    write_csv(tmp_path / "test" / "a.csv", [("7", "the goat and a cow", "animals", "web"),
                                            ("8", "the oak", "plants", "")], header=("id", "text", "label", "source"))
    (tmp_path / "test" / "b.jsonl").write_text('{"id": 9, "text": "the bus", "label": "vehicles", "meta": {"n": 1}}\n')
    result = run_cli(["evaluate", out, "--data", tmp_path / "test" / "*.*", "--plot", plot,
                      "--out", tmp_path / "t.csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader((tmp_path / "t.csv").open()))
    assert [r[:7] for r in rows] == [["id", "source", "meta", "input", "true_label", "label", "right"],
                                     ["7", "web", "", "the goat and a cow", "animals", "animals", "True"],
                                     ["8", "", "", "the oak", "plants", rows[2][5], "False"],
                                     ["9", "", '{"n": 1}', "the bus", "vehicles", "vehicles", "True"]]
    # A test file of one class: its accuracy is that class's recall, and "guessing" is not a comparison.
    (tmp_path / "animals.tsv").write_text("text\tlabel\nthe cow\tanimals\nthe goat and a sheep\tanimals\n")
    result = run_cli(["evaluate", out, "--data", tmp_path / "animals.tsv", "--plot", plot])
    assert "Every example is labeled 'animals': the accuracy is that class's recall alone" in result.output
    assert "Guessing would score" not in result.output and "same size" not in result.output
    renamed = tmp_path / "renamed.tsv"
    renamed.write_text("text\tlabel\nthe cow\tanimal\nthe bus\tvehicle\n")
    assert cli_error(["evaluate", out, "--data", renamed]).endswith("do the label names match?")
    # A table with an id beside its text and no labels: the ids were read as labels, and the error says so.
    ids = write_csv(tmp_path / "ids.csv", [(f"R{i}", f"the cow {i}") for i in range(30)], header=("review_id", "text"))
    assert cli_error(["evaluate", out, "--data", ids]).endswith(
        "a column of ids or texts read as the labels? Name the column of labels with --label-column "
        "(columns=(None, NAME) in Python).")
    # Spelled another way (a spreadsheet's capitals): said, with the model's spelling.
    renamed.write_text("text\tlabel\nthe cow\tAnimals\nthe bus\tvehicles \nthe cat\tanimals\n")
    result = run_cli(["evaluate", out, "--data", renamed])
    assert "1 row of" in result.output and ("1 label differs from the model's classes only in case, spacing or "
                                            "number format ('Animals' for 'animals'): spell it as the model does.") \
        in result.output, result.output
    # Rows --skip-bad-rows leaves out are named, as fit-head names them: they were scored silently before.
    renamed.write_text("text\tlabel\nthe cow\tanimals\nthe bus\t\n\tanimals\nthe cat\tanimals\n")
    result = run_cli(["evaluate", out, "--data", renamed, "--skip-bad-rows"])
    assert result.exit_code == 0 and "accuracy 1.000 on 2 examples" in result.output, result.output
    assert f"Warning: 2 of 4 rows of {renamed} skipped:\n  line 3: empty label\n  line 4: empty item" in result.output


def test_predictions_are_written_a_part_at_a_time(text_module, labeled_tsv, tmp_path, monkeypatch):
    # A file of millions of inputs is written as it is scored: the same table, never all in memory.
    from tfxfer.export.predict import ExportedModel

    fit_head(text_module, labeled_tsv, head="linear").export(tmp_path / "export")
    model = ExportedModel(tmp_path / "export")
    texts = [line.split("\t")[0] for line in labeled_tsv.read_text().splitlines()[1:]] * 10
    whole = model.run(texts).rows(texts, model.labels)
    monkeypatch.setattr("tfxfer.export.predict.WRITE_CHUNK", 100)
    calls = []
    out = tmp_path / "predictions.csv"
    assert model.write_predictions(texts, out, lambda done, total: calls.append((done, total))) == (240, [])
    assert list(csv.reader(out.open())) == [[str(cell) for cell in row] for row in whole]
    assert calls == sorted(calls) and calls[-1] == (240, 240) and (200, 240) in calls
    # Failing part-way (a full disk, an interrupt) leaves neither the file nor a part of it.
    run, parts = model.run, []

    def failing_run(items, progress=None, **kwargs):
        parts.append(len(items))
        if len(parts) == 2:
            raise OSError("disk full")
        return run(items, **kwargs)

    monkeypatch.setattr(model, "run", failing_run)
    with pytest.raises(OSError, match="disk full"):
        model.write_predictions(texts, tmp_path / "failed.csv")
    assert parts == [100, 100] and sorted(p.name for p in tmp_path.iterdir()) == ["export", "predictions.csv", "train.tsv"]


def test_cli_columns_named_by_the_user(text_module, tmp_path):
    import csv

    wide = tmp_path / "reviews.csv"
    with open(wide, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "Copy", "likes", "Group"])  # names nothing could guess
        writer.writerows([i, text, 5, topic] for i, (text, topic) in enumerate(labeled_topic_rows()))
    out = tmp_path / "export"
    assert "pick two with --input-column and --label-column" in cli_error(["fit-head", "-f", text_module, "-t", wide, "-o", out])
    columns = ["--input-column", "Copy", "--label-column", "Group"]
    result = run_cli(["fit-head", "-f", text_module, "-t", wide, "-o", out, *columns])
    assert result.exit_code == 0 and "Cross-validated accuracy: 1.000" in result.output, result.output
    assert "Data: 24 examples of " in result.output and "inputs from 'Copy', labels from 'Group'" in result.output
    result = run_cli(["evaluate", out, "--data", wide, "--plot", tmp_path / "cm.png", "--json", *columns])
    assert json.loads(result.stdout)["accuracy"] == 1.0 and json.loads(result.stdout)["classes"] == ["animals", "vehicles"]


def test_cli_bad_inputs(text_module, tiny_image_module, image_folder, labeled_tsv, tmp_path):
    out = tmp_path / "export"
    # The data given where an argument goes, without its option: the usage error names the option with it.
    spaced = shutil.copy(labeled_tsv, tmp_path / "my labels.tsv")
    for args, hint in ((["fit-head", spaced, "-f", text_module, "-o", out], f"--train '{spaced}'"),
                       (["fit-head", "-f", text_module, "nltk:names", "-o", out], "--train nltk:names"),
                       (["evaluate", text_module, labeled_tsv], f"--data {labeled_tsv}"),
                       (["embed", labeled_tsv, text_module, "-o", out], f"--features {text_module}")):
        result = run_cli(args)
        assert result.exit_code == 2 and result.output.splitlines()[-1].endswith(f". Did you mean {hint}?"), \
            result.output
    result = run_cli(["fit-head", "-f", text_module, "-o", out])
    assert result.exit_code == 2 and result.output.splitlines()[-1] == "Error: Missing option '--train' / '-t'."
    single = tmp_path / "single.tsv"
    single.write_text("text\tlabel\nthe cat\tanimals\nthe dog\tanimals\n")
    assert "single class" in cli_error(["fit-head", "-f", text_module, "-t", single, "-o", out])
    scores = tmp_path / "scores.csv"  # a regression target: each example its own "class"
    scores.write_text("text,score\n" + "".join(f"text number {i},{i / 37:.3f}\n" for i in range(30)))
    assert "look like numbers on a continuous scale" in cli_error(["fit-head", "-f", text_module, "-t", scores, "-o", out])
    ids = tmp_path / "ids.csv"
    ids.write_text("text,label\n" + "".join(f"text number {i},row{i}\n" for i in range(28)) + "a,x\nb,x\n")
    assert "has 29 labels for 30 examples, 28 of them seen once ('row0', 'row1', 'row2'...)" in \
        cli_error(["fit-head", "-f", text_module, "-t", ids, "-o", out])
    pickled = tmp_path / "labels.pkl"  # binary: NUL bytes
    pickled.write_bytes(b"\x80\x04\x95\x15\x00\x00\x00\x00\x00\x00\x00text")
    assert "is not a text file (pickle, Feather or another binary format?)" in \
        cli_error(["fit-head", "-f", text_module, "-t", pickled, "-o", out])
    assert not out.exists()
    assert "holds images, but" in cli_error(["fit-head", "-f", text_module, "-t", image_folder, "-o", out])
    assert "holds text, but" in cli_error(["fit-head", "-f", tiny_image_module, "-t", labeled_tsv, "-o", out])
    inside = image_folder / "export"  # its plots would be read as a class of photos next time
    assert "is inside the training data" in cli_error(["fit-head", "-f", tiny_image_module, "-t", image_folder, "-o", inside])
    assert not inside.exists()
    texts = labeled_tsv.parent / "texts"  # a pattern of folders: each one it matches
    (texts / "part1").mkdir(parents=True)
    shutil.copy(labeled_tsv, texts / "part1" / "train.tsv")
    inside = texts / "part1" / "export"
    assert "is inside the training data" in cli_error(["fit-head", "-f", text_module, "-t", texts / "part*", "-o", inside])
    assert not inside.exists()
    assert "not found" in cli_error(["fit-head", "-f", text_module, "-t", tmp_path / "nope.tsv", "-o", out])
    garbage = tmp_path / "garbage.txt"
    garbage.write_bytes(bytes(range(256)) * 4)
    assert "is not a text file" in cli_error(["fit-head", "-f", text_module, "-t", garbage, "-o", out])  # binary bytes
    assert not out.exists()
    # Too few examples for every fold to train on two classes: cross-validation is skipped, and the report says so.
    tiny = tmp_path / "tiny.tsv"
    tiny.write_text("text\tlabel\nthe cat\tanimals\nthe dog\tanimals\nthe bus\tvehicles\n")
    result = run_cli(["fit-head", "-f", text_module, "-t", tiny, "-o", out])
    assert result.exit_code == 0 and result.output.count("Cross-validation skipped: too few examples (3)") == 1
    assert "(the default; cross-validation skipped)" in result.output
    # Labels that disagree with the existing export.
    other = tmp_path / "other.tsv"
    other.write_text("text\tlabel\nthe cat\tpets\nthe dog\tpets\nthe bus\tcars\nthe van\tcars\n")
    assert "disagree with version 1" in cli_error(["fit-head", "-f", text_module, "-t", other, "-o", out])


def test_commands_given_word_vectors_instead_of_an_export_name_the_fix(text_module, labeled_tsv, tmp_path):
    vectors = text_module.parent  # laid out as a pretrain-text output: its module/ inside
    for where in (vectors, text_module):
        fix = f"tfxfer fit-head --features {text_module} --train DATA --out EXPORT_DIR"
        assert fix in cli_error(["predict", where, "the cat"])
        assert fix in cli_error(["evaluate", where, "--data", labeled_tsv])
        assert fix in cli_error(["suggest", where, "--pool", labeled_tsv, "--out", tmp_path / "s.csv"])
        assert fix in cli_error(["serve", where, "--port", "0", "--grpc-port", "0"])
    assert "a pretrain-text output" in cli_error(["predict", vectors, "the cat"])
    assert "a SavedModel without labels" in cli_error(["predict", text_module, "the cat"])
    assert not (tmp_path / "s.csv").exists()


def test_report_counts_examples_with_no_known_word(text_module, tmp_path):
    path = tmp_path / "train.tsv"
    rows = labeled_topic_rows() + [("zzqx wubbly", "animals"), ("frobnitz", "vehicles"), ("qqq", "animals")]
    rows += [("The cat", "animals"), ("the  CAT", "vehicles")]  # one input to the module, labeled both ways
    path.write_text("text\tlabel\n" + "".join(f"{t}\t{l}\n" for t, l in rows))
    fitted = fit_head(text_module, path, head="linear")
    note = "3 of 29 training examples (10%) have no word the text module knows"
    assert any(n.startswith(note) for n in fitted.report["data"]["notes"])
    assert f"Note: {note}; the head reads them by their words and character n-grams alone" in summary_text(fitted.report)
    no_lexical = fit_head(text_module, path, head="linear", lexical=False)
    assert f"Note: {note}; their feature vectors are zeros and only the class balance can be learned from them." \
        in summary_text(no_lexical.report)
    assert "Note: 1 input the head cannot tell apart has different labels ('The cat': animals 1, vehicles 1)" \
        in summary_text(fitted.report)
    assert not any("words of the training texts are not in" in n for n in fitted.report["data"]["notes"])
    # Text of another language: a known word in each (here, the animal or vehicle), the rest unknown.
    foreign = [(f"der {t.split()[-1]} und ein sehr kleiner hund gehen nach hause", l) for t, l in labeled_topic_rows()]
    path.write_text("text\tlabel\n" + "".join(f"{t}\t{l}\n" for t, l in foreign))
    notes = fit_head(text_module, path, head="linear", lexical=False).report["data"]["notes"]
    assert not any("have no word the text module knows" in n for n in notes)
    assert ("90% of the words of the training texts are not in the text module's vocabulary (most often 'der', "
            "'und', 'ein'): their sentence vectors come from the other words. Pretrain on text of your data's "
            "language and field") in " ".join(notes)


def test_report_notes_texts_repeated_under_one_label(text_module):
    rows = [(f"the {animal} near a {other}", "animals") for animal, other in
            [("cat", "dog"), ("cow", "horse"), ("sheep", "cat"), ("dog", "cow"), ("horse", "sheep"), ("cat", "cow")]]
    rows += [(f"the {vehicle} by a {other}", "vehicles") for vehicle, other in
             [("car", "bus"), ("van", "train"), ("tram", "car"), ("bus", "van"), ("train", "tram"), ("car", "van")]]
    plain = fit_head(text_module, ([t for t, _ in rows], [l for _, l in rows]), head="linear").report["data"]
    assert not any("training texts repeat" in n for n in plain["notes"])
    repeated = rows + [rows[0], (rows[0][0].upper(), "animals"), rows[6]]
    notes = fit_head(text_module, ([t for t, _ in repeated], [l for _, l in repeated]),
                     head="linear").report["data"]["notes"]
    assert any(n.startswith("3 of 15 training texts repeat another word for word under the same label (e.g. "
                            "'the cat near a dog', 3 times). Where such repeats are copies") for n in notes)


def test_what_a_notebook_shows_of_each_result(text_module, labeled_tsv, tmp_path):
    # A notebook shows the last value of a cell: one line that says what it is, not a dump of its fields
    # (a FittedHead's was 18,000 characters), and for a fitted head its report, as fit-head prints it.
    from tfxfer.export.predict import ExportedModel
    from tfxfer.text.vectors import WordVectors

    fitted = fit_head(text_module, labeled_tsv, head="linear")
    assert repr(fitted) == (f"FittedHead(text module {str(text_module)!r}; 2 classes: animals, vehicles; 24 labels; "
                            "cross-validated accuracy 1.000; not exported)")
    page = fitted._repr_html_()
    assert page.startswith("<pre>") and "Cross-validated accuracy: 1.000" in page
    path = fitted.export(tmp_path / "export")
    assert repr(fitted).endswith(f"; exported to {str(path)!r})")
    assert repr(ExportedModel(tmp_path / "export")) == f"ExportedModel({str(path)!r}; text; 2 classes: animals, vehicles)"
    vectors = WordVectors(["cat", "dog", "car"], np.eye(3, 4, dtype=np.float32))
    assert repr(vectors) == "WordVectors(3 words of 4 dimensions)"
    many = [f"c{i}" for i in range(12)]
    fitted.classifier.classes_ = np.array(many)  # past 8 classes, the first ones and a count
    assert "; 12 classes: c0, c1, c2, c3, c4, c5, c6, c7 and 4 more; " in repr(fitted)
