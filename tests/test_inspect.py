"""`tfxfer inspect-data`: labeled data read as fit-head reads it, before any model, without TensorFlow."""

import json
import subprocess
import sys

from tests.conftest import cli_error, make_image_folder, run_cli
from tfxfer.data.inspect import inspect_labeled


def test_inspect_data_lists_classes_notes_and_every_row_fit_head_would_stop_on(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("Review Text,Rating\ngreat film,pos\nawful,neg\nfine acting,Pos\n,neg\nmeh,\n"
                    "a dull, slow film,neg\n")
    result = run_cli(["inspect-data", path, "--input-column", "Review Text", "--label-column", "Rating"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"Read 3 examples of {path} (text): inputs from 'Review Text', labels from 'Rating'."
    assert lines[1] == "3 classes: pos 1, neg 1, Pos 1"
    assert any(l.startswith("Note: ") and "'Pos' and 'pos'" in l for l in lines)  # as fit-head would say
    assert "3 of 6 rows cannot be used (fit-head stops on them; --skip-bad-rows trains without them):" in lines
    assert "  line 5: empty item" in lines and "  line 6: empty label" in lines
    assert lines[-1] == "Ready for fit-head --skip-bad-rows, or fix the rows above."
    found = json.loads(run_cli(["inspect-data", path, "--input-column", "Review Text", "--label-column", "Rating",
                                "--json"]).output)
    assert found["examples"] == 3 and found["rows"] == 6 and found["problem"] is None
    assert [s["line"] for s in found["skipped"]] == [5, 6, 7]


def test_inspect_data_names_imbalance_and_inputs_repeated_with_other_labels(tmp_path):
    path = tmp_path / "chat.tsv"
    path.write_text("text\tlabel\n" + "hi\tGreet\n" * 3 + "lol\tEmotion\nlol\tStatement\nlmao\tEmotion\n"
                    + "".join(f"statement {i}\tStatement\n" for i in range(6)))
    lines = run_cli(["inspect-data", path]).output.splitlines()
    assert lines[1] == "3 classes: Statement 7, Greet 3, Emotion 2"
    assert lines[2].startswith("Imbalanced: 'Statement' has 3.5x the examples of 'Emotion'. fit-head weighs the "
                               "classes equally")
    assert lines[3] == ("Repeated: 3 examples repeat an earlier one; 1 input carries several labels (e.g. 'lol': "
                        "Emotion, Statement), and no model gets every copy right: check them.")
    found = json.loads(run_cli(["inspect-data", path, "--json"]).output)
    assert found["repeated"] == 3 and found["conflicts"] == [["lol", ["Emotion", "Statement"]]]
    # In Python, data in memory as fit_head takes it: the same findings.
    rows = [line.split("\t") for line in path.read_text().splitlines()[1:]]
    in_memory = inspect_labeled(([t for t, _ in rows], [l for _, l in rows]))
    assert in_memory["sources"] == ["data in memory"] and in_memory["classes"] == found["classes"]
    assert in_memory["conflicts"] == found["conflicts"]


def test_inspect_data_exits_1_where_fit_head_would_refuse_the_labels(tmp_path):
    single = tmp_path / "single.tsv"
    single.write_text("text\tlabel\nthe cat\tanimals\nthe dog\tanimals\n")
    result = run_cli(["inspect-data", single])
    assert result.exit_code == 1 and "1 class: animals 2" in result.output
    assert "has a single class (animals); a classifier needs at least two" in cli_error(["inspect-data", single])
    assert "mixes images and text" in cli_error(["inspect-data", single, make_image_folder(tmp_path / "photos")])


def test_inspect_data_on_images_names_missing_files(tmp_path):
    folder = make_image_folder(tmp_path / "photos")
    listed = tmp_path / "list.csv"
    paths = sorted(p.relative_to(tmp_path) for p in folder.rglob("*.*"))
    listed.write_text("path,label\n" + "".join(f"{p},{p.parent.name}\n" for p in paths) + "photos/gone.jpg,red\n")
    result = run_cli(["inspect-data", listed])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Read {len(paths) + 1} examples of {listed} (image)")
    assert f"1 listed images do not exist (fit-head skips them; first: {tmp_path / 'photos' / 'gone.jpg'})." \
        in result.output


def test_inspecting_data_does_not_import_tensorflow(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("text\tlabel\na\tx\nb\ty\n")
    code = ("import sys; from tfxfer.data.inspect import inspect_labeled; "
            f"found = inspect_labeled({str(path)!r}); print(found['examples'], 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ["2", "False"]
