"""A glob pattern naming data (the shards of a Hugging Face split) is read as one source wherever
data is named, as a shell that expands nothing (Windows) or a quoted argument leaves it."""

import csv

import numpy as np
import pytest

from tests.conftest import cli_error, labeled_topic_rows, run_cli
from tfxfer.data.text import TextCorpus
from tfxfer.data.unlabeled import load_unlabeled
from tfxfer.errors import DataError

# These tests check other things than the learning curve: one subsample per size (conftest).
pytestmark = pytest.mark.usefixtures("one_curve_draw")


def _shards(folder, rows, name="train"):
    folder.mkdir(exist_ok=True)
    for i in range(2):
        with open(folder / f"{name}-0000{i}-of-00002.csv", "w", newline="") as f:
            csv.writer(f).writerows([("text", "label"), *rows[i::2]])
    return str(folder / f"{name}-*.csv")


def test_labeled_shards_read_as_one_and_a_pattern_matching_nothing_is_named(tmp_path):
    pattern = _shards(tmp_path / "data", labeled_topic_rows())
    result = run_cli(["inspect-data", pattern])
    assert result.exit_code == 0, result.output
    shards = [f"{tmp_path}/data/train-0000{i}-of-00002.csv" for i in range(2)]
    assert result.output.startswith(f"Read 24 examples of {shards[0]} + {shards[1]} (text)")
    assert cli_error(["inspect-data", tmp_path / "data" / "val-*.csv"]) == (
        f"Error: Labeled data '{tmp_path}/data/val-*.csv' matches no file. Check the pattern: * matches within a "
        "folder, ** across folders.")
    # A file whose name holds pattern characters is itself, not a pattern.
    (tmp_path / "data" / "[draft] labels?.csv").write_text("text,label\n" + "".join(
        f"{t},{l}\n" for t, l in labeled_topic_rows(per_class=3)))
    result = run_cli(["inspect-data", tmp_path / "data" / "[draft] labels?.csv"])
    assert result.exit_code == 0 and "Read 6 examples" in result.output, result.output


def test_fit_head_evaluate_suggest_and_predict_take_patterns(text_module, tmp_path):
    rows = labeled_topic_rows(per_class=16)
    train = _shards(tmp_path / "data", rows[:8] + rows[16:24] + rows[8:12] + rows[24:28])
    test = _shards(tmp_path / "data", rows[12:16] + rows[28:32], name="test")
    result = run_cli(["fit-head", "-f", text_module, "-t", train, "-o", tmp_path / "export", "--head", "linear"])
    assert result.exit_code == 0, result.output
    assert "Data: 24 examples of " in result.output and "train-00001-of-00002.csv" in result.output
    # A file named again, or by a pattern and by name: read once (twice, every example had a copy).
    shard = min((tmp_path / "data").glob("train-*.csv"))
    result = run_cli(["fit-head", "-f", text_module, "-t", train, "-t", shard, "-t", shard, "-o", tmp_path / "twice",
                      "--head", "linear"])
    assert result.exit_code == 0 and "Data: 24 examples of " in result.output, result.output
    assert result.stderr.count(f"Warning: {str(shard)!r} is given twice: read once.") == 2
    result = run_cli(["evaluate", tmp_path / "export", "--data", test])
    assert result.exit_code == 0, result.output
    assert " on 8 examples " in result.output
    result = run_cli(["embed", train, "-f", text_module, "--out", tmp_path / "train.npz"])
    assert result.exit_code == 0, result.output
    saved = np.load(tmp_path / "train.npz")
    assert saved["features"].shape[0] == 24 and sorted(set(saved["labels"])) == ["animals", "vehicles"]
    for i, words in enumerate((["cat bus", "dog tram"], ["goat van", "cow truck", "sheep car"])):
        (tmp_path / "data" / f"pool-{i}.txt").write_text("".join(f"the {w}\n" for w in words))
    pool = str(tmp_path / "data" / "pool-*.txt")
    result = run_cli(["suggest", tmp_path / "export", "--pool", pool, "-n", "2", "--out", tmp_path / "t.csv"])
    assert result.exit_code == 0, result.output
    assert "Read 5 pool examples." in result.output
    assert cli_error(["predict", tmp_path / "export", f"@{tmp_path}/none-*.txt"]).startswith(
        f"Error: Input list '{tmp_path}/none-*.txt' matches no file.")
    result = run_cli(["predict", tmp_path / "export", f"@{pool}", "what is a cat?"])
    assert result.exit_code == 0, result.output
    assert [line.split("\t")[-1] for line in result.output.splitlines()] == [
        "the cat bus", "the dog tram", "the goat van", "the cow truck", "the sheep car", "what is a cat?"]


def test_corpora_and_unlabeled_examples_take_patterns(tmp_path):
    for i in range(3):
        (tmp_path / f"part{i}.txt").write_text("".join(f"line {i} {j}\n" for j in range(4)))
    (tmp_path / "notes.md").write_text("not a part\n")
    pattern = str(tmp_path / "part*.txt")
    assert list(TextCorpus([pattern])) == [f"line {i} {j}" for i in range(3) for j in range(4)]
    items, total = load_unlabeled(pattern, images=False, limit=100)
    assert total == 12 and sorted(items) == sorted(f"line {i} {j}" for i in range(3) for j in range(4))
    with pytest.raises(DataError, match=r"^Unlabeled data '.*none-\*\.txt' matches no file"):
        load_unlabeled(str(tmp_path / "none-*.txt"), images=False, limit=100)


def test_a_pattern_of_the_wrong_kind_of_data_is_named(text_module, labeled_tsv, image_folder):
    from tfxfer.fitting import fit_head

    with pytest.raises(DataError, match=r"holds images, but .* is a text module\. Pass texts \(one per line\) instead"):
        fit_head(text_module, labeled_tsv, head="linear", unlabeled=str(image_folder / "*"))
