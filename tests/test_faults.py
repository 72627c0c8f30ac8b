"""Every fault a user can meet gives one `Error:` line, exit 1 and nothing left behind."""

import csv
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import cli_error, run_cli, topic_sentences
from tfxfer.atomic import replace_dir

# These tests check other things than the learning curve: one subsample per size (conftest).
pytestmark = pytest.mark.usefixtures("one_curve_draw")


def _no_work(monkeypatch):
    """Make any feature extraction fail the test: checks must come before the work."""
    def refuse(*args, **kwargs):
        raise AssertionError("features were extracted before the checks")

    monkeypatch.setattr("tfxfer.fitting.extract_text_features", refuse)
    monkeypatch.setattr("tfxfer.fitting.extract_image_features", refuse)


@pytest.fixture
def exported(text_module, labeled_tsv, tmp_path):
    out = tmp_path / "export"
    result = run_cli(["fit-head", "-f", text_module, "-t", labeled_tsv, "-o", out, "--name", "m", "--head", "linear"])
    assert result.exit_code == 0, result.output
    return out


def test_fit_head_checks_the_export_before_any_work(exported, text_module, labeled_tsv, tmp_path, monkeypatch,
                                                     read_only_dir):
    _no_work(monkeypatch)
    base = ["fit-head", "-f", text_module, "-t", labeled_tsv]
    assert "`version` must be a positive integer. Received: version=0" in cli_error(base + ["-o", exported, "--version", "0"])
    assert "Version 1 of 'm' already exists" in cli_error(base + ["-o", exported, "--name", "m", "--version", "1"])
    other = tmp_path / "other.tsv"
    other.write_text("text\tlabel\nthe cat\tpets\nthe dog\tpets\nthe bus\tcars\nthe van\tcars\n")
    line = cli_error(["fit-head", "-f", text_module, "-t", other, "-o", exported, "--name", "m"])
    assert "disagree with version 1 of 'm' (new: cars, pets; missing: animals, vehicles)" in line
    assert "another --name (e.g. --name m-2-classes)" in line
    # The model's own directory, or a version of it, named as the export directory (where predict takes it).
    line = cli_error(base + ["-o", exported / "m"])
    assert f"is the model 'm' (version 1), not an export directory. For its next version pass --out " \
           f"'{exported}' --name m." in line
    line = cli_error(base + ["-o", exported / "m" / "1"])
    assert f"is a SavedModel (a version of a model?), not an export directory. Pass the directory that holds " \
           f"the models: --out '{exported}' --name m." in line
    assert not (exported / "m" / "model").exists()
    (exported / "afile").write_text("x")
    assert "is a file, not a directory" in cli_error(base + ["-o", exported, "--name", "afile"])
    (exported / "m" / "7").write_text("x")
    assert "m/7' is a file, not a version directory" in cli_error(base + ["-o", exported, "--name", "m", "--version", "7"])
    line = cli_error(base + ["-o", read_only_dir / "export"])
    assert "Cannot write in" in line and "read-only" in line
    assert not list(read_only_dir.iterdir())
    # A name that is no one folder and URL segment: "a/b" nested folders, "" wrote versions into the export
    # directory itself, "7" read as a version.
    for name, fixed in (("a/b", "a_b"), ("my model", "my_model"), ("", "model"), ("..", "model"), ("7", "model")):
        assert cli_error(base + ["-o", tmp_path / "named", "--name", name]) == (
            "Error: `name` must name one model folder and URL: letters, digits, '_', '.' and '-', not starting with "
            f"'.' or '-', and not a number. Received: name={name!r}. Try --name {fixed}.")
    assert not (tmp_path / "named").exists()


def test_an_export_given_as_feature_module_names_the_module_it_was_trained_on(exported, text_module, labeled_tsv,
                                                                             tmp_path):
    fix = (f"is a fit-head export (a classifier), not a feature module. Pass the feature module it was trained on, "
           f"--features {text_module}; `tfxfer predict`, `evaluate` and `suggest` take the export.")
    for where in (exported, exported / "m", exported / "m" / "1", exported / "m" / "1" / "saved_model.pb"):
        assert fix in cli_error(["embed", labeled_tsv, "-f", where, "--out", tmp_path / "f.npz"])
    assert fix in cli_error(["fit-head", "-f", exported / "m" / "1", "-t", labeled_tsv, "-o", tmp_path / "again"])
    assert not (tmp_path / "f.npz").exists() and not (tmp_path / "again").exists()


def test_pretrain_and_embed_check_their_outputs_first(topic_corpus, read_only_dir, tiny_image_module, image_folder,
                                                      tmp_path):
    line = cli_error(["pretrain-text", topic_corpus, "--out", read_only_dir / "vectors"])
    assert "Cannot write in" in line
    out = tmp_path / "missing" / "deeper" / "f.npz"
    result = run_cli(["embed", image_folder, "-f", tiny_image_module, "--out", out, "--image-size", "16",
                   "--cache-dir", tmp_path / "c"])
    assert result.exit_code == 0, result.output
    assert np.load(out)["features"].shape == (14, 11) and [p.name for p in out.parent.iterdir()] == ["f.npz"]


def test_two_fit_head_runs_into_one_export_get_two_versions(text_module, labeled_tsv, tmp_path):
    out = tmp_path / "export"
    cmd = [sys.executable, "-m", "tfxfer", "fit-head", "-f", str(text_module), "-t", str(labeled_tsv), "-o", str(out),
           "--name", "m", "--head", "linear"]
    runs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [r.communicate(timeout=300) for r in runs]
    assert [r.returncode for r in runs] == [0, 0], outputs
    exported = sorted(line for o, _ in outputs for line in o.splitlines() if line.startswith("Exported"))
    assert [e.split("/m/")[1][:2] for e in exported] == ["1/", "2/"]
    assert sorted(p.name for p in (out / "m").iterdir()) == ["1", "2", "reports"]


def test_replacing_a_directory_swaps_it_in_whole(tmp_path):
    old, new = tmp_path / "target", tmp_path / "new"
    old.mkdir()
    (old / "old.txt").write_text("old")
    new.mkdir()
    (new / "new.txt").write_text("new")
    replace_dir(new, old)
    assert [p.name for p in old.iterdir()] == ["new.txt"] and [p.name for p in tmp_path.iterdir()] == ["target"]


def test_module_archives_leave_no_temporary_folders(tiny_image_module, tmp_path, monkeypatch):
    monkeypatch.setenv("TFXFER_CACHE_DIR", str(tmp_path / "cache"))
    good = tmp_path / "good.tar.gz"
    with tarfile.open(good, "w:gz") as tar:
        tar.add(tiny_image_module, arcname="tiny")
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not a tar file")
    from tfxfer.features.load import load_features

    load_features(good)
    with pytest.raises(Exception, match="Cannot extract"):
        load_features(bad)
    assert [p.name for p in (tmp_path / "cache" / "modules").iterdir() if ".tmp" in p.name] == []


def test_damaged_exports_are_named(exported):
    version = exported / "m" / "1"
    (version / "variables" / "variables.index").unlink()
    line = cli_error(["predict", exported, "the cat"])
    assert f"Cannot load the SavedModel at '{version}'" in line and "export or download it again" in line
    (version / "saved_model.pb").write_bytes(b"\x08\x01garbage")
    assert "Cannot load the SavedModel" in cli_error(["predict", exported / "m" / "1", "the cat"])


def test_evaluate_prints_metrics_before_a_plot_it_cannot_write(exported, labeled_tsv, tmp_path):
    plot = tmp_path / "no" / "such" / "dir" / "cm.png"
    plot.parent.parent.mkdir(parents=True)
    (plot.parent).write_text("a file where a folder should be")
    result = run_cli(["evaluate", exported, "--data", labeled_tsv, "--plot", plot])
    assert result.exit_code == 1
    assert "accuracy 1.000 on 24 examples" in result.output
    assert "Error: Cannot write the plot" in result.output


def test_evaluate_checks_its_data_before_scoring_any(exported, image_folder, tmp_path, monkeypatch):
    # Scoring 10,000 sentences took a minute before "no label ... is a class of the model"; photos given to
    # a text model were scored row by row as "not a text file", and the error asked for --skip-bad-rows.
    def refuse(*args, **kwargs):
        raise AssertionError("inputs were scored before the checks")

    monkeypatch.setattr("tfxfer.export.predict.ExportedModel.run", refuse)
    renamed = tmp_path / "renamed.tsv"
    renamed.write_text("text\tlabel\nthe cow\tanimal\nthe bus\tvehicle\n")
    for exports in ([exported], [exported, exported]):
        assert cli_error(["evaluate", *exports, "--data", renamed]).endswith("do the label names match?")
        line = cli_error(["evaluate", *exports, "--data", image_folder])
        assert line == (f"Error: {str(image_folder)!r} holds images, but {str(exported / 'm' / '1')!r} is a text "
                        "module. Pass labeled texts (a CSV/TSV of text and label) instead.")


def test_read_only_cache_falls_back_to_computing(tiny_image_module, image_folder, read_only_dir, caplog):
    from tfxfer.data.image_files import load_image_list
    from tfxfer.features.extract import extract_image_features
    from tfxfer.features.load import load_features

    paths, labels = load_image_list(image_folder)
    result = extract_image_features(load_features(tiny_image_module, 16), paths, labels, cache_dir=read_only_dir)
    assert result.extracted == len(paths)
    assert "cannot be written" in caplog.text


def test_corpus_that_is_not_text(tmp_path, topic_corpus):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 20)
    assert "is not text (binary data" in cli_error(["pretrain-text", photo, "--out", tmp_path / "o"])
    folder = tmp_path / "corpus"
    (folder / ".git" / "objects").mkdir(parents=True)
    (folder / ".git" / "objects" / "ab12").write_bytes(b"x\x9c\x00binary")
    (folder / "notes").write_bytes(b"\x00\x01\x02" * 100)
    (folder / "text.txt").write_text(topic_corpus.read_text())
    from tfxfer.data.text import TextCorpus

    corpus = TextCorpus([folder])
    assert corpus.skipped_files == [str(folder / "notes")] and len(list(corpus)) == 1500


def test_one_long_line_trains_like_many(tmp_path):
    from tests.test_pretrain import FAST_ARGS

    corpus = tmp_path / "one-line.txt"
    corpus.write_text(" ".join(topic_sentences()) + "\n")  # 30,000 words, no line break
    out = tmp_path / "v"
    result = run_cli(["pretrain-text", corpus, "--out", out, *FAST_ARGS])
    assert result.exit_code == 0, result.output
    run = json.loads((out / "config.json").read_text())
    assert run["corpus"]["lines"] > 1  # cut into pieces
    result = run_cli(["similar", out, "cat", "--topn", "3", "--json"])
    top = [w for w, _ in json.loads(result.output)["cat"]]
    assert set(top) & {"dog", "horse", "cow", "sheep", "goat"}, top


def test_images_that_cannot_be_decoded_are_skipped_and_named(tiny_image_module, image_folder, tmp_path):
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (230, 20, 20)).save(buf, "WEBP")
    (image_folder / "red" / "photo.webp").write_bytes(buf.getvalue())
    broken = image_folder / "green" / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not a jpeg")
    out = tmp_path / "export"
    result = run_cli(["fit-head", "-f", tiny_image_module, "-t", image_folder, "-o", out, "--image-size", "16",
                   "--head", "linear", "--cache-dir", tmp_path / "c"])
    assert result.exit_code == 0, result.output
    assert f"Warning: Skipped {broken}" in result.output
    # TensorFlow reads WebP from 2.20 on; before, the photo is skipped with the upgrade that reads it.
    webp = hasattr(tf.io, "decode_webp")
    needs = f"Skipped {image_folder / 'red' / 'photo.webp'}: WebP images need TensorFlow 2.20 or later"
    assert (needs in result.output) != webp, result.output
    report = json.loads((out / "model" / "reports" / "1" / "report.json").read_text())
    assert report["class_counts"]["red"] == 5 + webp  # the WebP is trained on
    result = run_cli(["predict", out, image_folder / "red" / "photo.webp", broken, image_folder / "blue" / "blue0.jpg"])
    assert result.exit_code == 0, result.output
    assert f"Warning: Skipped {broken}: Unknown image file format" in result.output
    assert (needs in result.output) != webp, result.output
    rows = [l.split("\t") for l in result.output.splitlines() if "\t" in l]
    assert [(r[0], Path(r[2]).name) for r in rows] == [("red", "photo.webp"), ("blue", "blue0.jpg")][1 - webp:]
    result = run_cli(["predict", out, image_folder / "red"])  # a folder: its images, searched recursively
    rows = [l.split("\t") for l in result.output.splitlines() if "\t" in l]
    assert result.exit_code == 0 and len(rows) == 5 + webp and {r[0] for r in rows} == {"red"}, result.output
    listed = tmp_path / "photos.csv"  # a list of photos without the @: its photos, not the CSV as one
    listed.write_text(f"path\n{image_folder / 'blue' / 'blue0.jpg'}\n")
    result = run_cli(["predict", out, listed])
    rows = [l.split("\t") for l in result.output.splitlines() if "\t" in l]
    assert "Reading the inputs of the file" in result.output and [r[0] for r in rows] == ["blue"], result.output
    # Its other columns are kept in --out, each row's beside its photo's prediction; a photo skipped has no row.
    listed.write_text(f"id,path\nb0,{image_folder / 'blue' / 'blue0.jpg'}\nx,{broken}\nr0,red/red0.jpg\n")
    (tmp_path / "red").symlink_to(image_folder / "red")  # a path relative to the CSV
    result = run_cli(["predict", out, f"@{listed}", "--out", tmp_path / "p.csv"])
    assert result.exit_code == 0 and "Wrote 2 predictions" in result.output and "(1 skipped)" in result.output
    rows = list(csv.DictReader((tmp_path / "p.csv").open()))
    assert [(r["id"], r["label"]) for r in rows] == [("b0", "blue"), ("r0", "red")]
    (tmp_path / "none").mkdir()
    assert "the folders given hold no images" in cli_error(["predict", out, tmp_path / "none"])
    assert "a URL: nothing is downloaded" in run_cli(["predict", out, "https://example.com/a.jpg"]).output
    import shutil  # photos as downloaded: was "Skipped photos.zip: Unknown image file format"

    archive = shutil.make_archive(str(tmp_path / "photos"), "zip", image_folder)
    assert cli_error(["predict", out, archive]).startswith(f"Error: Image input {archive!r} is an archive of files.")
    result = run_cli(["evaluate", out, "--data", image_folder, "--plot", tmp_path / "cm.png"])
    assert result.exit_code == 0 and f"; {2 - webp} skipped)" in result.output


def test_inputs_that_used_to_be_accepted_silently(exported, tmp_path, image_folder, topic_corpus):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    assert "holds no inputs" in cli_error(["predict", exported, f"@{empty}"])
    # A photo or a zip after @: its bytes were read as lines of text and each "line" classified.
    photo = next(image_folder.rglob("*.jpg"))
    assert cli_error(["predict", exported, f"@{photo}"]) == (
        f"Error: {str(photo)!r} is not a text file: @FILE reads one text or image path per line, or the column of a "
        "table (.csv, .tsv, .xlsx, .parquet, .jsonl).")
    import shutil

    archive = shutil.make_archive(str(tmp_path / "texts"), "zip", image_folder)
    assert cli_error(["predict", exported, f"@{archive}"]).startswith(f"Error: Input list {archive!r} is an archive")
    # @- reads standard input, one input per line, beside inputs given as arguments; UTF-16 lists are read too.
    from click.testing import CliRunner

    from tfxfer.cli import main

    result = CliRunner().invoke(main, ["predict", str(exported), "@-", "the bus"], input="the cat\n\nthe truck\n")
    assert result.exit_code == 0 and [line.split("\t")[-1] for line in result.stdout.splitlines()] == \
        ["the cat", "the truck", "the bus"], result.output
    # The blank line is said (`paste` would put "the truck"'s prediction beside it), on stderr.
    assert "1 line of standard input is blank: left out, without a prediction" in result.stderr
    result = CliRunner().invoke(main, ["predict", str(exported), "@-"], input="")
    assert result.exit_code == 1 and "Error: No inputs: standard input (@-) was empty." in result.output
    # As Unix tools read: "-", or no inputs at all from a pipe; at a terminal no inputs is a usage error.
    for args in (["-"], []):
        result = CliRunner().invoke(main, ["predict", str(exported), *args], input="the cat\nthe truck\n")
        assert result.exit_code == 0 and [line.split("\t")[-1] for line in result.output.splitlines()] == \
            ["the cat", "the truck"], result.output
    import pty

    terminal, attached = pty.openpty()
    try:
        probe = subprocess.run([sys.executable, "-m", "tfxfer", "predict", str(exported)], stdin=attached,
                               capture_output=True, text=True, timeout=120)
    finally:
        os.close(terminal)
        os.close(attached)
    assert probe.returncode == 2 and probe.stderr.endswith(
        "Error: Missing argument 'INPUTS...': texts or image paths, @FILE, or @- for standard input.\n"), probe.stderr
    # A text without a word the model knows gets an empty text's scores: a guess, said as one (once for a file).
    result = CliRunner().invoke(main, ["predict", str(exported), "-", "zzqx wubbly"], input="the cat\n!!!\n")
    assert result.exit_code == 0 and result.stdout.splitlines()[0].endswith("\tthe cat"), result.output
    unknown = ("Warning: 2 inputs hold no word the model knows ('!!!', 'zzqx wubbly'): they get the scores of an "
               "empty text, a guess without evidence.")
    assert result.stderr.splitlines() == [unknown]
    table = tmp_path / "predictions.csv"
    result = CliRunner().invoke(main, ["predict", str(exported), "-", "zzqx wubbly", "-o", str(table)],
                                input="the cat\n!!!\n")
    assert result.exit_code == 0 and result.stderr.splitlines() == [unknown], result.output
    result = CliRunner().invoke(main, ["predict", str(exported), "the cat"])
    assert result.exit_code == 0 and not result.stderr, result.stderr
    listed = tmp_path / "listed.txt"
    listed.write_bytes("\ufeffthe cat\r\nthe bus\r\n".encode("utf-16-le"))
    assert [line.split("\t")[-1] for line in run_cli(["predict", exported, f"@{listed}"]).output.splitlines()] == \
        ["the cat", "the bus"]
    result = run_cli(["predict", exported, image_folder / "red" / "red0.jpg"])
    assert "1 input looks like an image path (" in result.output
    from tests.test_pretrain import FAST_ARGS

    out = tmp_path / "v"
    assert run_cli(["pretrain-text", topic_corpus, "--out", out, *FAST_ARGS]).exit_code == 0
    result = run_cli(["similar", out, "cat", "spaceship"])
    assert result.exit_code == 0 and "cat:" in result.output and "'spaceship' is not in the vocabulary" in result.output
    result = run_cli(["evaluate-embeddings", out])
    assert "n/a (too few pairs in the vocabulary)" in result.output


def test_text_the_terminal_cannot_encode_is_escaped_not_a_traceback(exported):
    # A pipe on Windows is cp1252, some locales Latin-1: an emoji in a text was a UnicodeEncodeError
    # traceback after the work was done. Escaped in plain output; JSON stays JSON, read back to the same text.
    text = "the cat \U0001f408 at the café"
    env = {**os.environ, "PYTHONIOENCODING": "latin-1"}

    def run(*args):
        return subprocess.run([sys.executable, "-m", "tfxfer", "predict", str(exported), text, *args],
                              capture_output=True, timeout=120, env=env, check=False)

    plain = run()
    assert plain.returncode == 0 and plain.stdout.decode("latin-1").endswith(
        "\tthe cat \\U0001f408 at the café\n"), plain.stdout + plain.stderr
    as_json = run("--json")
    assert as_json.returncode == 0 and json.loads(as_json.stdout)[0]["input"] == text, as_json.stderr


def test_a_text_whose_scores_match_an_empty_texts_by_chance_is_not_called_unknown(exported, tmp_path, caplog):
    # One of sentence_polarity's 10,662 reviews scored within 7e-7 of an empty text on an export of
    # pros_cons, and was named as holding no word the model knows. Here "the cat" scores as the empty text.
    from tfxfer.export.predict import ExportedModel

    model = ExportedModel(exported)
    model._empty_text_scores = model.run(["the cat"]).scores[0]
    texts = ["the bus", "the cat"]
    result = model.run(texts)
    model.write_predictions(texts, tmp_path / "p.csv")
    assert model.without_known_words(result, texts) == []
    assert not [r for r in caplog.records if "no word" in r.getMessage()]
    # An export without the features signature (not tfxfer's) can go by the scores alone.
    model._features = None
    assert model.without_known_words(result, texts) == [1]


def test_outputs_get_ordinary_permissions(exported, topic_corpus, tmp_path):
    from tests.test_pretrain import FAST_ARGS

    old = os.umask(0o022)
    try:
        out = tmp_path / "v"
        assert run_cli(["pretrain-text", topic_corpus, "--out", out, *FAST_ARGS]).exit_code == 0
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o755
    reports = exported / "m" / "reports" / "1"
    assert reports.stat().st_mode & 0o055 == 0o055 and (exported / "m" / "1").stat().st_mode & 0o055 == 0o055


def test_report_keeps_whole_paths_and_readable_plots(tiny_image_module, image_folder, tmp_path):
    deep = image_folder / ("a-very-long-folder-name-" * 4)
    deep.mkdir()
    for colour in ("red", "green"):
        (image_folder / colour / f"{colour}1.png").rename(deep / f"{colour}1.png")
    lst = tmp_path / "list.csv"
    rows = [(p, p.parent.name if p.parent.name in ("red", "green", "blue") else "blue")
            for p in sorted(image_folder.rglob("*.*"))]
    lst.write_text("path,label\n" + "".join(f"{p},{l}\n" for p, l in rows))
    out = tmp_path / "export"
    assert run_cli(["fit-head", "-f", tiny_image_module, "-t", lst, "-o", out, "--image-size", "16",
                 "--cache-dir", tmp_path / "c", "--head", "linear"]).exit_code == 0
    text = (out / "model" / "reports" / "1" / "report.txt").read_text()
    for line in text.splitlines():
        if "->" in line and deep.name in line:
            assert line.split(": ", 1)[1] in {str(p) for p, _ in rows}


def test_labels_in_any_script_are_drawn(tmp_path, caplog):
    from tfxfer.metrics import plot_confusion_matrix
    from tfxfer.plotting import drawable

    labels = ["猫", "犬", "cat"]
    shown = drawable(labels)
    assert shown[2] == "cat" and all(s == l or s.startswith("\\u") for s, l in zip(shown, labels))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns of every glyph it cannot draw
        plot_confusion_matrix([[1, 0, 0], [0, 1, 0], [0, 0, 1]], labels, tmp_path / "cm.png")
    assert (tmp_path / "cm.png").stat().st_size > 1000


def test_a_plot_that_fails_midway_leaves_the_one_before(tmp_path, monkeypatch):
    import matplotlib.figure

    from tfxfer.metrics import plot_confusion_matrix

    plot = tmp_path / "cm.png"
    plot_confusion_matrix([[2, 0], [1, 3]], ["a", "b"], plot)
    before = plot.read_bytes()

    def full_disk(self, fname, **kwargs):  # a disk that fills up half-way through the PNG
        Path(fname).write_bytes(before[:100])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", full_disk)
    with pytest.raises(OSError, match=f"The disk holding '{plot}' is full"):  # an OSError still, naming the plot
        plot_confusion_matrix([[3, 0], [0, 3]], ["a", "b"], plot)
    assert plot.read_bytes() == before and os.listdir(tmp_path) == ["cm.png"]


def test_inputs_without_labels_where_labels_go_are_named_so(text_module, tiny_image_module, image_folder, tmp_path):
    from tfxfer import fit_head
    from tfxfer.errors import DataError

    # Photos matched by a pattern: each is one image without a label (was "holds text, but ... is an image module").
    photos = str(image_folder / "red" / "*.jpg")
    for module in (tiny_image_module, text_module):
        assert cli_error(["fit-head", "-f", module, "-t", photos, "-o", tmp_path / "e"]).startswith(
            f"Error: {str(min(image_folder.glob('red/*.jpg')))!r} is an image, without a label. Labeled "
            "images are a folder with a subfolder per class")
    # Sentences without their labels (was "Labeled data 'the cat sat on the mat' not found").
    with pytest.raises(DataError, match=r"^3 texts without labels, where labeled data goes. Pass them with their "
                                        r"labels as an \(items, labels\) pair"):
        fit_head(text_module, ["the cat sat on the mat", "a red bus", "the dog barked"])
    assert not (tmp_path / "e").exists()
    # Neither a file nor texts (was a TypeError from pathlib).
    with pytest.raises(DataError, match=r"^Inputs must be a file, folder or pattern, or a list, array or Series of "
                                        r"texts or image paths. Received: int 123.$"):
        fit_head(text_module, (["a cat", "a bus"] * 4, ["animals", "vehicles"] * 4), unlabeled=123)


def test_inputs_that_are_not_there_are_named_so_whatever_the_module(text_module, tiny_image_module, labeled_tsv,
                                                                    tmp_path):
    gone = tmp_path / "gone.parquet"  # was "holds text, but ... is an image module"
    for module in (tiny_image_module, text_module):
        assert cli_error(["embed", gone, "-f", module, "-o", tmp_path / "x.npz"]) == (
            f"Error: Input data {str(gone)!r} not found. Pass a folder or file of images or texts.")
    line = cli_error(["fit-head", "-f", text_module, "-t", labeled_tsv, "-o", tmp_path / "e", "--unlabeled", gone])
    assert line.startswith(f"Error: Unlabeled data {str(gone)!r} not found. Pass a text file")  # was "Corpus"
    assert not (tmp_path / "e").exists() and not (tmp_path / "x.npz").exists()


def test_a_zip_of_photos_is_named_as_an_archive_to_extract(tiny_image_module, image_folder, tmp_path):
    import shutil

    archive = shutil.make_archive(str(tmp_path / "photos"), "zip", image_folder)  # as a download comes
    fix = f"{archive!r} is an archive of files. Extract it (unzip, tar -xf) and pass the folder it holds"
    # Was "'photos.zip' holds text, but ... is an image module" and, for inspect-data, "not a text file".
    assert cli_error(["fit-head", "-f", tiny_image_module, "-t", archive, "-o", tmp_path / "e"]) == (
        f"Error: Input data {fix} (it is read recursively).")
    assert cli_error(["inspect-data", archive]) == f"Error: Labeled data {fix} (it is read recursively)."
    assert cli_error(["fit-head", "-f", tiny_image_module, "-t", image_folder, "-o", tmp_path / "e",
                      "--unlabeled", archive]).startswith(f"Error: Input data {fix}")
    assert not (tmp_path / "e").exists()
