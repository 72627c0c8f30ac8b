"""Every fault a user can meet gives one `Error:` line, exit 1 and nothing left behind."""

import csv
import io
import json
import os
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import cli_error, run_cli, topic_sentences
from tfxfer.atomic import replace_dir


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


def test_an_export_given_as_feature_module_names_the_module_it_was_trained_on(exported, text_module, labeled_tsv,
                                                                             tmp_path):
    fix = (f"is a fit-head export (a classifier), not a feature module. Pass the feature module it was trained on, "
           f"--features {text_module}; `tfxfer predict`, `evaluate` and `suggest` take the export.")
    for where in (exported, exported / "m", exported / "m" / "1"):
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
    report = json.loads((out / "model" / "reports" / "1" / "report.json").read_text())
    assert report["class_counts"]["red"] == 6  # the WebP is trained on
    result = run_cli(["predict", out, image_folder / "red" / "photo.webp", broken, image_folder / "blue" / "blue0.jpg"])
    assert result.exit_code == 0, result.output
    assert f"Warning: Skipped {broken}: Unknown image file format" in result.output
    rows = [l.split("\t") for l in result.output.splitlines() if "\t" in l]
    assert [(r[0], Path(r[2]).name) for r in rows] == [("red", "photo.webp"), ("blue", "blue0.jpg")]
    result = run_cli(["predict", out, image_folder / "red"])  # a folder: its images, searched recursively
    rows = [l.split("\t") for l in result.output.splitlines() if "\t" in l]
    assert result.exit_code == 0 and len(rows) == 6 and {r[0] for r in rows} == {"red"}, result.output
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
    assert result.exit_code == 0 and "; 1 skipped)" in result.output


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
    assert result.exit_code == 0 and [line.split("\t")[-1] for line in result.output.splitlines()] == \
        ["the cat", "the truck", "the bus"], result.output
    result = CliRunner().invoke(main, ["predict", str(exported), "@-"], input="")
    assert result.exit_code == 1 and "Error: No inputs: standard input (@-) was empty." in result.output
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


def _on_a_small_disk(size: str, mount: Path, args: list) -> subprocess.CompletedProcess:
    """Run `tfxfer ARGS` with a `size` tmpfs mounted at `mount`: a real full disk, in a user namespace.

    What the run left on that disk, which goes with the namespace, is listed in `mount`.left (one path a line).
    """
    mount.mkdir()
    command = (f"mount -t tmpfs -o size={size} tmpfs {mount} && {{ {sys.executable} -m tfxfer "
               + " ".join(map(str, args)) + f"; rc=$?; find {mount} -mindepth 1 > {mount}.left; exit $rc; }}")
    return subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", command],
                          capture_output=True, text=True, timeout=300)


def _can_mount() -> bool:
    try:
        probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                                "mount -t tmpfs tmpfs /mnt"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


@pytest.mark.skipif(not _can_mount(), reason="needs user namespaces to mount a small tmpfs")
def test_a_full_disk_is_named_and_leaves_no_version(text_module, labeled_tsv, tmp_path):
    # The SavedModel is written by TF ops, whose full disk is a ResourceExhaustedError, not an OSError. At 300 KB
    # the model does not fit; at 700 KB it does and its report does not: a version without its report is removed.
    for size in ("300k", "700k"):
        mount = tmp_path / size
        result = _on_a_small_disk(size, mount, ["fit-head", "-f", text_module, "-t", labeled_tsv, "-o",
                                                mount / "export", "--head", "linear"])
        assert result.returncode == 1, result.stderr[-2000:]
        assert result.stderr.strip().splitlines()[-1] == (
            f"Error: The disk holding '{mount}/export/model/1' is full: writing it needs more than the "
            f"{int(size[:-1]) * 1024 / 1e6:.1f} MB free there. Nothing was written. Free some space, or choose an "
            "output on another disk."), result.stderr[-2000:]
        assert "Traceback" not in result.stderr
        # Nothing at all: not even the export's empty folders, which TF Serving would poll for versions.
        assert Path(f"{mount}.left").read_text() == ""


@pytest.mark.skipif(not _can_mount(), reason="needs user namespaces to mount a small tmpfs")
def test_a_full_cache_disk_costs_only_the_caching(tiny_image_module, image_folder, tmp_path):
    mount = tmp_path / "cache"
    result = _on_a_small_disk("8k", mount, ["fit-head", "-f", tiny_image_module, "-t", image_folder, "-o",
                                            tmp_path / "export", "--head", "linear", "--cache-dir", mount])
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"The feature cache {mount}" in result.stderr and "cannot be written" in result.stderr
    assert (tmp_path / "export" / "model" / "1" / "saved_model.pb").is_file()


def test_a_full_disk_while_saving_vectors_keeps_the_checkpoint_to_resume(topic_corpus, tmp_path, monkeypatch):
    from tests.test_pretrain import FAST_ARGS

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    out = tmp_path / "v"
    with monkeypatch.context() as patch:
        patch.setattr("tfxfer.text.pretrain.save_text_module", full)
        line = cli_error(["pretrain-text", topic_corpus, "--out", out, *FAST_ARGS])
    assert line == (f"Error: The disk holding '{out}' is full. The run's checkpoint in '{tmp_path}/.v.partial' is kept: "
                    "free some space, and run the same command with --resume to continue.")
    assert not out.exists() and not list(tmp_path.glob(".v.tmp-*"))
    result = run_cli(["pretrain-text", topic_corpus, "--out", out, *FAST_ARGS, "--resume"])
    assert result.exit_code == 0, result.output
    assert (out / "module" / "saved_model.pb").is_file() and not (tmp_path / ".v.partial").exists()
    # Before the first checkpoint there is nothing to resume: the run's work is removed, giving its space back.
    with monkeypatch.context() as patch:
        patch.setattr("tfxfer.text.pretrain.save_checkpoint", full)
        line = cli_error(["pretrain-text", topic_corpus, "--out", tmp_path / "w", *FAST_ARGS])
    assert line.startswith(f"Error: The disk holding '{tmp_path / 'w'}' is full: writing it needs more than the ")
    assert not list(tmp_path.glob(".w*"))


def test_full_disks_are_told_apart_from_other_errors(tmp_path, monkeypatch):
    import tensorflow as tf

    from tfxfer.atomic import disk_full, write_text_atomic

    assert disk_full(OSError(28, "No space left on device")) and disk_full(OSError(122, "Disk quota exceeded"))
    assert disk_full(OSError("20000 requested and 4032 written"))  # NumPy's short write: no errno
    assert disk_full(tf.errors.ResourceExhaustedError(None, None, "/x/variables_temp; No space left on device"))
    assert not disk_full(tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor"))
    assert not disk_full(OSError(13, "Permission denied")) and not disk_full(ValueError("No space left on device"))
    # Ours names the output and is an OSError still, for code that carries on when a write fails (caches).
    monkeypatch.setattr(Path, "write_text", lambda *a, **k: (_ for _ in ()).throw(OSError(28, "No space left")))
    with pytest.raises(OSError, match=f"The disk holding '{tmp_path / 'memo.json'}' is full") as raised:
        write_text_atomic(tmp_path / "memo.json", "{}")
    assert raised.value.errno == 28 and not list(tmp_path.iterdir())


def test_a_schedulers_sigterm_is_met_as_ctrl_c(topic_corpus, text_module, labeled_tsv, tmp_path):
    """SLURM, Kubernetes and `timeout` stop a job with SIGTERM: pretraining keeps a checkpoint to resume,
    and an export being written is removed, where Python's default would end the process on the spot."""
    import signal
    import time

    from tests.test_pretrain import FAST_ARGS

    out = tmp_path / "v"
    args = [sys.executable, "-m", "tfxfer", "pretrain-text", str(topic_corpus), "--out", str(out), *FAST_ARGS]
    run = subprocess.Popen([*args, "--epochs", "1000"], stderr=subprocess.PIPE, text=True)
    assert any("Training" in line for line in iter(run.stderr.readline, ""))  # the first epoch has begun
    time.sleep(1)
    run.send_signal(signal.SIGTERM)  # in an epoch, or between two while a checkpoint is written
    status, told = run.wait(timeout=60), run.stderr.read()
    assert status == 130 and "a checkpoint is in" in told, told[-2000:]
    assert (tmp_path / ".v.partial" / "checkpoint.npz").is_file()
    resumed = subprocess.run([*args, "--epochs", "1", "--resume"], capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert (out / "module" / "saved_model.pb").is_file() and not (tmp_path / ".v.partial").exists()
    # fit-head, signalled while its SavedModel is in a temporary folder of the export.
    export = tmp_path / "export"
    code = textwrap.dedent(f"""
        import os, signal
        import tfxfer.export.saved_model as saved
        from tfxfer.cli import main
        write_warmup = saved.write_warmup
        def signalled(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGTERM)
            write_warmup(*args, **kwargs)
        saved.write_warmup = signalled
        main(["fit-head", "-f", {str(text_module)!r}, "-t", {str(labeled_tsv)!r}, "-o", {str(export)!r}, "--head",
              "linear"])
    """)
    stopped = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert stopped.returncode == 1 and "Aborted!" in stopped.stderr, stopped.stderr[-2000:]
    assert not export.exists()  # no version, no temporary folder, no empty folders of a first export


def test_running_out_of_memory_names_the_ways_out(text_module, labeled_tsv, tmp_path, monkeypatch):
    import tensorflow as tf

    def oom(*args, **kwargs):  # TensorFlow's own error for it, as a GPU would raise it: asked for 4 TiB
        return tf.zeros([2**40], tf.float32)

    monkeypatch.setattr("tfxfer.fitting.extract_text_features", oom)
    line = cli_error(["fit-head", "-f", text_module, "-t", labeled_tsv, "-o", tmp_path / "export"])
    assert line == ("Error: TensorFlow ran out of memory (OOM when allocating tensor with shape[1099511627776] and "
                    "type float on /job:localhost/replica:0/task:0/device:CPU:0). Close other programs using the GPU "
                    "(nvidia-smi lists them), run on the CPU (CUDA_VISIBLE_DEVICES= tfxfer ...), or lower "
                    "--batch-size where the command has one.")
    assert not (tmp_path / "export").exists()


def test_native_windows_is_told_to_use_wsl(tmp_path):
    # Windows lacks fcntl, whose locks make two runs into one output take turns: where it is missing, a command
    # says so in one line, and the Python API in its ImportError, instead of a traceback ending in "fcntl".
    without_fcntl = "import sys; sys.modules['fcntl'] = None; "
    command = subprocess.run(
        [sys.executable, "-c", without_fcntl + "from tfxfer.cli import main; main(['inspect-data', 'x.tsv'])"],
        capture_output=True, text=True, timeout=120)
    assert command.returncode == 1 and command.stderr == (
        "Error: tfxfer runs on Linux and macOS: two runs writing one output take turns through POSIX file locks "
        "(fcntl), which Windows lacks. On Windows, run it in WSL2 (wsl --install), as TensorFlow advises for GPUs "
        "too.\n"), command.stderr[-2000:]
    api = subprocess.run([sys.executable, "-c", without_fcntl + "import tfxfer; tfxfer.fit_head"],
                         capture_output=True, text=True, timeout=120)
    assert api.stderr.strip().splitlines()[-1].startswith("ImportError: tfxfer runs on Linux and macOS"), api.stderr

