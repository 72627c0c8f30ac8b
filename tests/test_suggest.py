"""`tfxfer suggest`: typical or uncertain examples to label next, in a CSV fit-head reads back."""

import csv
import gc
import sys
import unicodedata
import weakref
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import labeled_topic_rows, run_cli
from tfxfer.fitting import fit_head
from tfxfer.head.active import (
    PoolSample,
    UncertainPool,
    margin_uncertainty,
    rank_for_labeling,
    typical_picks,
)
from tfxfer.suggest import resolve_strategy

# These tests check other things than the learning curve: one subsample per size (conftest).
pytestmark = pytest.mark.usefixtures("one_curve_draw")


def test_ranking_prefers_uncertain_examples_spread_apart():
    rng = np.random.default_rng(0)
    # Three tight clusters of equally uncertain examples, and sure ones elsewhere.
    centres = np.eye(3, 8) * 5
    features = np.concatenate([c + rng.normal(0, 0.05, (20, 8)) for c in centres] + [rng.normal(0, 1, (40, 8))])
    scores = np.concatenate([np.tile([0.5, 0.5], (60, 1)), np.tile([0.99, 0.01], (40, 1))])
    picked = rank_for_labeling(features, scores, 3)
    assert sorted(picked // 20) == [0, 1, 2]  # one per cluster, none of the sure ones
    assert margin_uncertainty(np.array([[0.5, 0.5], [1.0, 0.0]])).tolist() == [1.0, 0.0]
    assert len(rank_for_labeling(features[:2], scores[:2], 10)) == 2


def test_uncertain_pool_keeps_the_most_uncertain_in_bounded_memory():
    pool = UncertainPool(3)
    for start in range(0, 100, 10):
        p = np.linspace(0.5, 1.0, 100)[start:start + 10]
        pool.add(list(range(start, start + 10)), np.zeros((10, 2)), np.stack([p, 1 - p], 1))
    items, _, _ = pool.candidates()
    assert sorted(items) == [0, 1, 2] and pool.seen == 100


def test_typical_picks_come_from_the_largest_clusters_the_labels_do_not_cover():
    rng = np.random.default_rng(0)
    centres = np.eye(4, 16) * 3
    sizes = [300, 200, 100, 3]  # the last: three outliers
    pool = np.concatenate([c + rng.normal(0, 0.3, (m, 16)) for c, m in zip(centres, sizes)]
                          + [np.zeros((50, 16))])  # rows with no features, all alike
    cluster = np.repeat([0, 1, 2, 3, -1], sizes + [50])
    labeled = centres[:1] + rng.normal(0, 0.3, (5, 16))  # the largest cluster is covered
    picked = typical_picks(pool, 2, labeled, seed=0)
    assert sorted(cluster[picked].tolist()) == [1, 2]
    # The most typical member is near its cluster's centre, not on its edge.
    unit = pool / np.maximum(np.linalg.norm(pool, axis=1, keepdims=True), 1e-12)
    distance = np.linalg.norm(unit - np.eye(1, 16, 1), axis=1)
    assert distance[picked[cluster[picked] == 1][0]] < np.percentile(distance[cluster == 1], 10)
    # Without labels, the largest cluster comes first; never the featureless rows.
    picked = typical_picks(pool, 5, None, seed=0)
    assert cluster[picked[0]] == 0 and -1 not in cluster[picked]
    assert len(typical_picks(pool[:3], 10)) == 3


def test_typical_picks_give_featureless_rows_their_share():
    # names: 80% of the pool unknown to the module. Picks from the 20% it knows alone were
    # 38% women's against 63% in all, and fell behind random choice.
    rng = np.random.default_rng(0)
    known = np.eye(2, 16) * 3 + rng.normal(0, 0.3, (100, 2, 16))
    pool = np.concatenate([known.reshape(200, 16), np.zeros((800, 16))])
    picked = typical_picks(pool, 10, None, seed=0)
    blank = picked >= 200
    assert len(set(picked.tolist())) == 10 and blank.sum() == 8
    assert blank[:2].any() and not blank.all()  # spread through the order, not left to the end
    assert not np.array_equal(picked, typical_picks(pool, 10, None, seed=1))  # the blank ones at random
    # Fewer featured rows than picks: 3 of 23, so 1 of 10 picks (the share rounded), 9 at random.
    picked = typical_picks(np.concatenate([pool[:3], pool[200:220]]), 10, None, seed=0)
    assert len(set(picked.tolist())) == 10 and (picked < 3).sum() == 1 and picked.max() < 23


def test_typical_picks_are_not_the_rows_nearest_the_mean(monkeypatch):
    # Sentence vectors are means of word vectors: a long sentence's lies near the mean of all, whatever
    # it says. On unit rows, uncentered, those were the most typical examples, the longest sentences.
    rng = np.random.default_rng(0)
    common = np.full(16, 2.0)  # the direction every mean of word vectors shares
    topics = [common + 1.5 * np.eye(1, 16, i)[0] + rng.normal(0, 0.4, (150, 16)) for i in (0, 1)]
    long = np.concatenate(topics).mean(0) + rng.normal(0, 0.05, (40, 16))  # near the mean, no topic
    pool = np.concatenate([*topics, long])
    picked = typical_picks(pool, 2, None, seed=0)
    assert (picked < 300).all() and sorted(picked // 150) == [0, 1]  # one from each topic
    monkeypatch.setattr("tfxfer.config.TYPICAL_CENTER", False)
    assert (typical_picks(pool, 2, None, seed=0) >= 300).any()  # what it picked before


def test_pool_sample_is_uniform_and_bounded():
    sample = PoolSample(100, seed=0)
    for start in range(0, 10_000, 1000):
        sample.add(range(start, start + 1000), np.zeros((1000, 2)), np.zeros((1000, 2)))
    items, features, _ = sample.sample()
    assert len(items) == 100 and features.shape == (100, 2) and sample.seen == 10_000
    assert 3000 < np.mean(items) < 7000 and min(items) < 2000 and max(items) > 8000


@pytest.mark.parametrize("pool", [PoolSample(5, seed=0), UncertainPool(5)], ids=["typical", "uncertain"])
def test_pools_keep_their_picks_not_the_batches_they_came_in(pool):
    # A text export's features end in thousands of lexical columns, which picking leaves out: a kept row
    # that is a view of its batch kept all of the batch alive, 28 KB a pool text (14 GB for 482,000).
    batches = []
    for start in range(0, 50, 10):
        batch = np.ones((10, 5000), np.float32)
        batches.append(weakref.ref(batch))
        scores = np.tile([0.6, 0.4], (10, 1))
        pool.add(range(start, start + 10), batch[:, :8], scores)
        del batch, scores
    gc.collect()
    assert [b() for b in batches] == [None] * 5
    items, features, _ = pool.sample() if isinstance(pool, PoolSample) else pool.candidates()
    assert len(items) == 5 and features.shape == (5, 8) and features.sum() == 40


@pytest.fixture
def export(text_module, labeled_tsv, tmp_path):
    return fit_head(text_module, labeled_tsv, head="linear", export_dir=tmp_path / "export").export_path


def test_suggest_writes_a_csv_that_fit_head_reads_back(export, labeled_tsv, text_module, tmp_path):
    pool = tmp_path / "pool.txt"
    trained_on = labeled_tsv.read_text().splitlines()[1].split("\t")[0]
    uncertain = [f"the {w}" for w in ("cat bus", "dog tram", "goat van", "cow truck")]
    sure = [f"the {a} and the {b}" for a in ("cat", "dog") for b in ("goat", "cow")]
    pool.write_text("\n".join(uncertain + sure + ["nothing known", trained_on]) + "\n")
    out = tmp_path / "to_label.csv"
    result = run_cli(["suggest", export.parent.parent, "--pool", pool, "-n", "3", "--out", out, "--strategy", "uncertain"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert [list(r) for r in rows[:1]] == [["item", "label", "guess", "score"]]
    assert len(rows) == 3 and all(r["label"] == "" for r in rows)
    assert "Picked the examples the model is least sure of: as asked." in result.output
    assert not {r["item"] for r in rows} & set(sure)  # the sure ones are not worth labeling
    assert "1 pool example skipped as it is a training example already" in result.output
    assert "Wrote 3 suggestions from 10 pool examples to " in result.output
    assert "Read 10 pool examples." in result.output.splitlines()  # 9 scored: the count is of what was read
    assert "ignored" not in result.stderr, result.stderr  # the pixel range suggest sets itself is no user's option
    # By default: typical examples; the one without any known word (1 of 9) is short of a share of 3 picks.
    assert (export.parent / "reports" / "1" / "training_features.npy").is_file()
    result = run_cli(["suggest", export.parent.parent, "--pool", pool, "-n", "3", "--out", tmp_path / "typical.csv"])
    assert result.exit_code == 0, result.output
    assert "Picked typical examples of the parts of the pool the training examples cover least" in result.output
    typical = [r["item"] for r in csv.DictReader((tmp_path / "typical.csv").open())]
    assert len(typical) == 3 and "nothing known" not in typical and trained_on not in typical
    for r in rows:
        r["label"] = "animals" if any(a in r["item"] for a in ("cat", "dog", "goat", "cow")) else "vehicles"
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, ["item", "label", "guess", "score"])
        writer.writeheader()
        writer.writerows(rows)
    result = run_cli(["fit-head", "-f", text_module, "-t", labeled_tsv, "-t", out, "-o", tmp_path / "export",
                   "--head", "linear"])
    assert result.exit_code == 0, result.output
    assert "Exported" in result.output and "/model/2/" in result.output


def test_suggestions_keep_the_columns_of_a_streamed_pool(export, tmp_path):
    # A pool as JSON Lines and as Parquet, both streamed: each suggestion gets its own row's other
    # cells (a nested value as JSON, a class number as its name), and a pool column named as
    # the suggestions' columns are is kept as given_<name>.
    pytest.importorskip("pyarrow")
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from tfxfer.suggest import suggest

    texts = ["the cat bus", "the dog tram", "the goat van", "the cow truck"]
    lines = tmp_path / "pool.jsonl"
    lines.write_text("".join(json.dumps({"id": i, "text": t, "meta": {"n": i}, "label": ""}) + "\n"
                             for i, t in enumerate(texts)))
    table = tmp_path / "pool.parquet"
    pq.write_table(pa.table({"id": [f"r{i}" for i in range(4)], "text": texts}), table)
    for pool, expected in ((lines, lambda i: [str(i), json.dumps({"n": i}), ""]), (table, lambda i: [f"r{i}"])):
        result = suggest(export.parent.parent, pool, 2, out=tmp_path / f"{pool.suffix[1:]}.csv")
        assert result.columns == (["id", "meta", "given_label"] if pool == lines else ["id"])
        assert result.cells == [expected(texts.index(item)) for item in result.items], pool
        rows = list(csv.reader((tmp_path / f"{pool.suffix[1:]}.csv").open()))
        assert rows[0] == ["item", "label", "guess", "score", *result.columns] and rows[1][4:] == result.cells[0]


def test_suggest_warns_of_texts_excel_would_take_for_formulas(export, tmp_path):
    pool = tmp_path / "pool.txt"
    pool.write_text("- the cat bus\n@bob the dog tram\nthe goat van\nthe cow truck\n")
    result = run_cli(["suggest", export.parent.parent, "--pool", pool, "-n", "4", "--out", tmp_path / "t.csv"])
    assert result.exit_code == 0, result.output
    assert (f"2 suggestions of {tmp_path / 't.csv'} start with =, +, - or @, which Excel, opening a CSV, takes for "
            "formulas and saves as errors (#NAME?): to fill it in Excel, write --out t.xlsx instead.") in result.output
    result = run_cli(["suggest", export.parent.parent, "--pool", pool, "-n", "4", "--out", tmp_path / "t.xlsx"])
    assert result.exit_code == 0, result.output
    assert "Excel" not in result.output  # a workbook keeps them as text
    openpyxl = pytest.importorskip("openpyxl")
    cells = {c.value: c.data_type for c in openpyxl.load_workbook(tmp_path / "t.xlsx").active["A"]}
    assert cells["- the cat bus"] == cells["@bob the dog tram"] == "s"


def test_suggest_says_which_training_example_the_pool_repeats(text_module, labeled_tsv, tmp_path):
    # Chat logs repeat "JOIN" hundreds of times: the skip count names it, in its own case. One copy is
    # written decomposed (NFD, as on a Mac): the same text, to the model and to the count.
    labeled = tmp_path / "labeled.tsv"
    first_label = labeled_tsv.read_text().splitlines()[1].split("\t")[1]
    labeled.write_text(labeled_tsv.read_text() + f"JOIN the Café\t{first_label}\n")
    fit_head(text_module, labeled, head="linear", export_dir=tmp_path / "export")
    pool = tmp_path / "pool.txt"
    copies = ["JOIN the Café", unicodedata.normalize("NFD", "JOIN the Café"), "JOIN the Café"]
    pool.write_text("\n".join(copies + ["the cat bus", "the dog tram", "the goat van"]) + "\n")
    result = run_cli(["suggest", tmp_path / "export", "--pool", pool, "-n", "2", "--out", tmp_path / "t.csv"])
    assert result.exit_code == 0, result.output
    assert "3 pool examples skipped as they repeat 1 training example (most often 'JOIN the Café', 3 times)" \
        in result.output
    assert "JOIN" not in (tmp_path / "t.csv").read_text()


def test_suggest_says_which_picks_have_no_known_word(export, tmp_path):
    # Most of the pool unknown to the module (as names are): they get their share, and the command says so.
    pool = tmp_path / "pool.txt"
    pool.write_text("\n".join([f"zq{i} xv{i}" for i in range(8)] + ["the cat bus", "the dog and the cow"]) + "\n")
    out = tmp_path / "to_label.csv"
    result = run_cli(["suggest", export.parent.parent, "--pool", pool, "-n", "5", "--out", out])
    assert result.exit_code == 0, result.output
    items = [r["item"] for r in csv.DictReader(out.open())]
    assert len(items) == 5 and sum(i.startswith("zq") for i in items) == 4
    assert "4 of the suggestions drawn at random among the 80% of the pool with no word the feature module knows" \
        in result.output


def test_suggest_bad_pools(export, image_folder, labeled_tsv, tmp_path):
    model = export.parent.parent
    result = run_cli(["suggest", model, "--pool", labeled_tsv, "--out", tmp_path / "t.csv"])
    assert result.exit_code == 1 and "pool examples are training examples already" in result.output  # texts, not rows
    wide = tmp_path / "wide.csv"  # an export with many columns: its texts are named
    wide.write_text("id,Copy,date\n1,\"the cat, the bus\",2024\n2,the van,2024\n3,the dog,2024\n")
    result = run_cli(["suggest", model, "--pool", wide, "--out", tmp_path / "w.csv"])
    assert result.exit_code == 1 and "Name the column to read with --input-column" in result.output
    result = run_cli(["suggest", model, "--pool", wide, "--input-column", "copy", "-n", "3", "--out", tmp_path / "w.csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "w.csv").open()))
    assert sorted(r["item"] for r in rows) == ["the cat, the bus", "the dog", "the van"]
    # The pool's other columns follow, each suggestion's own: an id to find it by in one's data.
    assert list(rows[0]) == ["item", "label", "guess", "score", "id", "date"]
    assert sorted((r["id"], r["item"]) for r in rows) == [("1", "the cat, the bus"), ("2", "the van"), ("3", "the dog")]
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    result = run_cli(["suggest", model, "--pool", empty, "--out", tmp_path / "a.csv"])
    assert result.exit_code == 1 and "The pool is empty" in result.output
    result = run_cli(["suggest", model, "--pool", image_folder, "--out", tmp_path / "b.csv"])
    assert result.exit_code == 1 and "holds images, but" in result.output
    assert "Pass texts (one per line) instead" in result.output and "feature module" not in result.output
    small = tmp_path / "small.txt"
    small.write_text("the cat bus\nthe van\n")
    result = run_cli(["suggest", model, "--pool", small, "-n", "5", "--out", tmp_path / "c.csv"])
    assert result.exit_code == 0 and "only 2 usable examples, all suggested (asked for 5)" in result.output
    lines = result.output.splitlines()  # the warning and the count are lines of their own
    assert "Read 2 pool examples." in lines and any(l.startswith("Warning: The pool holds only 2") for l in lines)
    assert not any((tmp_path / f).exists() for f in ("a.csv", "b.csv", "t.csv"))
    long = tmp_path / "long.txt"  # a document per line: longer than any file name may be
    long.write_text("the cat and the dog " * 30 + "\nthe van\n")
    result = run_cli(["suggest", model, "--pool", long, "-n", "2", "--out", tmp_path / "d.csv"])
    assert result.exit_code == 0, result.output
    assert any(l.endswith("…") and len(l) < 130 for l in result.output.splitlines())  # shown on one line, cut
    assert max(len(r["item"]) for r in csv.DictReader((tmp_path / "d.csv").open())) == 599  # kept whole


def test_auto_picks_uncertain_examples_for_a_model_of_strongly_imbalanced_labels(text_module, tmp_path):
    assert resolve_strategy("auto", {"a": 49, "b": 10}) == ("typical", None)
    assert resolve_strategy("auto", None) == ("typical", None)  # an export without its report
    assert resolve_strategy("typical", {"a": 500, "b": 10}) == ("typical", None)  # as asked
    strategy, why = resolve_strategy("auto", {"a": 50, "b": 10, "c": 0})
    assert strategy == "uncertain" and why.startswith("it was trained on imbalanced labels (50 'a', 10 'b')")
    # 24 animals to 2 vehicles: the suggestions are the examples the model is least sure of, and it says so.
    train = tmp_path / "train.tsv"
    rows = [r for r in labeled_topic_rows(per_class=24) if r[1] == "animals"]
    train.write_text("text\tlabel\n" + "".join(f"{t}\t{l}\n" for t, l in rows) + "the bus\tvehicles\nthe van\tvehicles\n")
    export = tmp_path / "export"
    fit_head(text_module, train, head="linear", export_dir=export)
    pool = tmp_path / "pool.txt"
    uncertain = [f"the {w}" for w in ("cat bus", "dog tram", "goat van", "cow truck")]
    sure = [f"the {a} and the {b}" for a in ("cat", "dog", "sheep") for b in ("goat", "cow", "horse")]
    pool.write_text("\n".join(uncertain + sure) + "\n")
    result = run_cli(["suggest", export, "--pool", pool, "-n", "4", "--out", tmp_path / "s.csv"])
    assert result.exit_code == 0, result.output
    assert "Picked the examples the model is least sure of: it was trained on imbalanced labels (24 'animals', " \
           "2 'vehicles')" in result.output
    assert {r["item"] for r in csv.DictReader((tmp_path / "s.csv").open())} == set(uncertain)


def test_fitted_head_suggests_images_through_the_cache(tiny_image_module, image_folder, tmp_path):
    fitted = fit_head(tiny_image_module, image_folder, image_size=16, cache_dir=tmp_path / "cache", head="linear")
    from tfxfer.errors import DataError

    with pytest.raises(DataError, match="All 14 pool examples are training examples already"):
        fitted.suggest([str(p) for p in sorted(image_folder.rglob("*.*"))], 4)
    other = tmp_path / "unlabeled"
    other.mkdir()
    from tests.conftest import solid_image_bytes

    for i, rgb in enumerate([(128, 128, 40), (40, 128, 128), (230, 20, 20), (30, 40, 220)]):
        (other / f"u{i}.png").write_bytes(solid_image_bytes(rgb, "png", jitter=10 + i))
    suggestions = fitted.suggest(other, 2)
    assert len(suggestions.items) == 2 and set(suggestions.guesses) <= {"red", "green", "blue"}
    assert suggestions.columns == []  # a folder has no columns to keep
    listed = other / "pool.csv"  # paths relative to the list, with an id and a label column of their own
    listed.write_text("photo_id,path,label\n" + "".join(f"p{i},u{i}.png,x\n" for i in range(4)))
    from_list = fitted.suggest(listed, 2)
    assert from_list.columns == ["photo_id", "given_label"]
    assert [(Path(i).name, c) for i, c in zip(from_list.items, from_list.cells)] == \
        [(Path(i).name, [f"p{Path(i).stem[1]}", "x"]) for i in suggestions.items]
    # The mixed colours are the ones the training photos do not cover...
    assert {p.rsplit("/", 1)[1] for p in suggestions.items} == {"u0.png", "u1.png"}
    # ... and the uncertain ones.
    suggestions = fitted.suggest(other, 2, strategy="uncertain")
    assert {p.rsplit("/", 1)[1] for p in suggestions.items} == {"u0.png", "u1.png"}
    # A pool that is not there is not "text for an image model".
    with pytest.raises(DataError, match=r"^Pool '.*gone.parquet' not found. Pass a file or folder of unlabeled"):
        fitted.suggest(tmp_path / "gone.parquet", 2)


def test_progress_count_ends_on_the_final_count(capsys, monkeypatch):
    from tfxfer.cli.common import progress_counter

    def count(*numbers):
        counter = progress_counter("Scored", "pool examples")
        for done in numbers:
            counter(done)
        counter.close()
        return capsys.readouterr().err

    assert count(1024, 2000) == "Scored 2,000 pool examples.\n"  # off a terminal: the total alone
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert count(1024, 2000) == "\rScored 1,024 pool examples...\rScored 2,000 pool examples...\n"
