import json
import shutil

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from tests.conftest import SHARED_DATA, cli_error, labeled_topic_rows, run_cli, save_tiny_image_module, write_csv
from tfxfer.cli import main
from tfxfer.data.image_files import load_image_list
from tfxfer.errors import DataError
from tfxfer.features.extract import extract_image_features, extract_text_features
from tfxfer.features.layer import FeatureLayer
from tfxfer.features.load import load_features
from tfxfer.text.module import save_text_module

HYMENOPTERA = SHARED_DATA / "images" / "hymenoptera_data"
EFFICIENTNET = SHARED_DATA / "models" / "efficientnet_lite0_feature_vector"


def test_image_module_any_size_and_fixed_size(tiny_image_module, text_module, labeled_tsv, tmp_path, caplog):
    module = load_features(tiny_image_module)
    # Modules that take any size get 1.3x the size they declare (224 when silent), to 32 pixels.
    assert (module.kind, module.image_size, module.output_dim) == ("image", (288, 288), 11)
    assert load_features(tiny_image_module, image_size=32).image_size == (32, 32)
    declared = load_features(save_tiny_image_module(tmp_path / "declared", signature_size=48))
    assert declared.image_size == (64, 64)
    assert declared(tf.zeros((1, 64, 64, 3))).shape == (1, 11)
    fixed = load_features(save_tiny_image_module(tmp_path / "fixed", fixed_size=48), image_size=99)
    assert fixed.image_size == (48, 48)
    # Image options given where they do nothing were ignored without a word.
    assert caplog.messages == [(f"{str(tmp_path / 'fixed')!r} takes only 48x48 images: --image-size "
                                "(image_size=) 99x99 ignored.")]
    caplog.clear()
    from tfxfer.fitting import fit_head

    fit_head(text_module, labeled_tsv, head="linear", image_size=64, input_range="0,255", augment=2)
    assert [m for m in caplog.messages if "ignored" in m] == [
        (f"--image-size (image_size=) and --input-range (input_range=) are for image modules; {str(text_module)!r} "
         "is a text module: ignored."),
        f"--augment (augment=) makes views of images; {str(text_module)!r} is a text module: ignored."]
    assert len(module.trainable_variables) == 1
    layer = FeatureLayer(module)
    assert layer(tf.zeros((2, 224, 224, 3))).shape == (2, 11)


def _nearest_centroid_accuracy(features, labels):
    labels = np.array(labels)
    classes = sorted(set(labels))
    centroids = np.stack([features[labels == c].mean(0) for c in classes])
    predicted = np.array(classes)[np.argmin(((features[:, None] - centroids) ** 2).sum(-1), 1)]
    return (predicted == labels).mean()


def test_folder_extraction_skips_junk_and_separates_colours(tiny_image_module, image_folder, tmp_path, caplog):
    (image_folder / "green" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (image_folder / "blue" / "notes.png").write_text("this is text, not a PNG")
    paths, labels = load_image_list(image_folder)
    module = load_features(tiny_image_module, image_size=16)
    result = extract_image_features(module, paths, labels, cache_dir=tmp_path / "cache")
    assert sorted(s.rsplit("/", 1)[1] for s, _ in result.skipped) == ["corrupt.jpg", "notes.png"]
    assert "corrupt.jpg" in caplog.text
    assert len(result.items) == 14 and result.extracted == 14
    assert any(i.endswith("extra.gif") for i in result.items) and any(i.endswith("extra.bmp") for i in result.items)
    assert _nearest_centroid_accuracy(result.features, result.labels) == 1.0
    gif = result.features[[i.endswith("extra.gif") for i in result.items]][0]
    np.testing.assert_allclose(gif[:3], [1, 0, 0], atol=0.02)  # the GIF's red pixel


def test_cache_hits_damage_and_bypass(tiny_image_module, image_folder, tmp_path):
    paths, labels = load_image_list(image_folder)
    module = load_features(tiny_image_module, image_size=16)
    cache = tmp_path / "cache"
    first = extract_image_features(module, paths, labels, cache_dir=cache)
    second = extract_image_features(module, paths, labels, cache_dir=cache)
    assert (second.extracted, second.cached) == (0, len(paths))
    np.testing.assert_array_equal(first.features, second.features)
    entry = sorted(cache.rglob("*.npy"))[0]
    entry.write_bytes(b"garbage")
    third = extract_image_features(module, paths, labels, cache_dir=cache)
    assert (third.extracted, third.cached) == (1, len(paths) - 1)
    np.testing.assert_allclose(first.features, third.features, atol=1e-6)
    assert extract_image_features(module, paths, labels, cache_dir=cache, use_cache=False).extracted == len(paths)
    other_size = extract_image_features(load_features(tiny_image_module, image_size=20), paths, labels, cache_dir=cache)
    assert other_size.cached == 0  # preprocessing is part of the key


def test_a_slow_text_modules_features_are_cached_and_a_fast_ones_are_not(text_module, tmp_path):
    # A BERT-style encoder takes tens of milliseconds a text on a CPU: every fit-head, embed and suggest ran it
    # over every text again ("cheap enough not to cache" held for tfxfer's own modules alone).
    import dataclasses
    import time

    texts = [text for text, _ in labeled_topic_rows(per_class=20)]
    texts += texts[:5]  # repeated texts are computed once
    distinct = len(set(texts))
    cache = tmp_path / "cache"
    fast = load_features(text_module)
    first = extract_text_features(fast, texts, cache_dir=cache)
    assert (first.extracted, first.cached, len(first.items)) == (distinct, 0, len(texts))
    assert not list(cache.rglob("*.npy"))  # computing it again is quicker than reading it back
    calls = []

    def slow(batch):
        calls.append(int(batch.shape[0]))
        time.sleep(0.005 * int(batch.shape[0]))
        return fast.fn(batch)

    encoder = dataclasses.replace(fast, fn=slow)
    computed = extract_text_features(encoder, texts, cache_dir=cache)
    assert (computed.extracted, computed.cached) == (distinct, 0) and sum(calls) == distinct
    np.testing.assert_allclose(computed.features, first.features, atol=1e-6)
    assert len(list(cache.rglob("*.npy"))) == distinct
    calls.clear()
    again = extract_text_features(encoder, [*texts, "the cat and a bus"], cache_dir=cache)
    assert (again.extracted, again.cached, calls) == (1, distinct, [1])  # the new text alone, though one is no batch
    np.testing.assert_array_equal(again.features[:-1], computed.features)
    assert extract_text_features(encoder, texts, cache_dir=cache, use_cache=False).extracted == distinct


def test_a_module_that_fails_on_its_inputs_is_one_error_line(image_folder, tmp_path):
    # An op error inside the module's graph (out of memory, a check of its own) was a traceback of that graph.
    class Picky(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
        def __call__(self, images):
            tf.debugging.assert_less(tf.reduce_max(images), 0.9, message="expects dim images")
            return tf.reduce_mean(images, [1, 2])

    tf.saved_model.save(Picky(), str(tmp_path / "picky"))
    line = cli_error(["embed", image_folder, "--features", tmp_path / "picky", "--image-size", "16",
                      "--input-range", "0,1", "--out", tmp_path / "f.npz", "--cache-dir", tmp_path / "cache"])
    assert line.startswith(f"Error: The image module '{tmp_path / 'picky'}' failed on the images: expects dim images "
                           "Condition x < y did not hold element-wise: x (Max:0) = 1 y"), line
    assert not (tmp_path / "f.npz").exists()


def test_augmented_views_are_cached_and_differ(tiny_image_module, image_folder, tmp_path):
    paths, labels = load_image_list(image_folder)
    module = load_features(tiny_image_module, image_size=16)
    result = extract_image_features(module, paths, labels, cache_dir=tmp_path / "c", augment=2)
    assert len(result.items) == 3 * len(paths) and sorted(set(result.views)) == [0, 1, 2]
    again = extract_image_features(module, paths, labels, cache_dir=tmp_path / "c", augment=2)
    assert again.extracted == 0
    jpg = [i for i, p in enumerate(result.items) if p.endswith("red0.jpg")]
    assert not np.allclose(result.features[jpg[0]], result.features[jpg[1]])


def test_class_with_no_usable_image_is_an_error(tiny_image_module, image_folder, tmp_path):
    (image_folder / "empty").mkdir()
    (image_folder / "empty" / "broken.jpg").write_bytes(b"nope")
    paths, labels = load_image_list(image_folder)
    with pytest.raises(DataError, match=r"Class 'empty' has no usable image"):
        extract_image_features(load_features(tiny_image_module, 16), paths, labels, cache_dir=tmp_path / "c")


def test_embed_command(tiny_image_module, image_folder, tmp_path):
    out = tmp_path / "f.npz"
    args = ["embed", str(image_folder), "--features", str(tiny_image_module), "--out", str(out),
            "--image-size", "16", "--cache-dir", str(tmp_path / "cache")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "Wrote 14 feature vectors of size 11" in result.output and "14 extracted" in result.output
    data = np.load(out)
    assert data["features"].shape == (14, 11) and sorted(set(data["labels"])) == ["blue", "green", "red"]
    result = CliRunner().invoke(main, args + ["--overwrite"])
    assert "0 extracted, 14 from cache" in result.output
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and "already exists" in result.output
    text_dir = tmp_path / "t"
    save_text_module(["a", "b"], np.eye(2, dtype="float32"), text_dir)
    result = CliRunner().invoke(main, ["embed", str(image_folder), "--features", str(text_dir), "--out", str(tmp_path / "x.npz")])
    assert result.exit_code == 1
    assert "holds images, but" in result.output and "is a text module. Pass an image feature module" in result.output
    unlabeled = tmp_path / "unlabeled.csv"  # ids and texts: no labels to read, and none invented
    unlabeled.write_text("review_id,Review Text\n" + "".join(f"U{i},a b {'a ' * i}\n" for i in range(30)))
    result = CliRunner().invoke(main, ["embed", str(unlabeled), "--features", str(text_dir), "--out", str(tmp_path / "u.npz")])
    data = np.load(tmp_path / "u.npz")
    assert result.exit_code == 0 and data["items"][0] == "a b" and len(data["items"]) == 30 and not len(data["labels"])
    assert data["items"][-1] == "a b " + "a " * 28 + "a" and (tmp_path / "u.npz").stat().st_mode & 0o044 == 0o044
    # One long text among short ones: NumPy pads every text to it, and the file deflates the padding.
    unlabeled.write_text("text\n" + "".join(f"text {i}\n" for i in range(5000)) + "word " * 2000 + "\n")
    result = run_cli(["embed", unlabeled, "--features", text_dir, "--out", tmp_path / "long.npz"])
    data = np.load(tmp_path / "long.npz")
    assert result.exit_code == 0 and data["items"].dtype == np.dtype("<U9999") and data["items"][4999] == "text 4999"
    assert (tmp_path / "long.npz").stat().st_size < 5001 * 9999 * 4 / 100
    # Plain lines are read as unlabeled data is: Notepad's byte-order marks (UTF-8 and UTF-16) are no text.
    for encoding in ("utf-8", "utf-16-le"):
        lines = tmp_path / f"lines-{encoding}.txt"
        lines.write_bytes("\ufeffa b\r\n\r\nb a\r\n".encode(encoding))
        run_cli(["embed", lines, "--features", text_dir, "--out", tmp_path / f"{encoding}.npz"])
        assert np.load(tmp_path / f"{encoding}.npz")["items"].tolist() == ["a b", "b a"]
    # Photos without classes (a folder of them, or a list of paths alone) are embedded without labels.
    flat = tmp_path / "flat"
    shutil.copytree(image_folder / "red", flat)
    (tmp_path / "paths.csv").write_text("path\n" + "".join(f"{p}\n" for p in sorted(flat.glob("*.jpg"))))
    for source, n in ((flat, 5), (tmp_path / "paths.csv", 2)):
        result = CliRunner().invoke(main, ["embed", str(source), "-f", str(tiny_image_module), "--image-size", "16",
                                           "--no-cache", "-o", str(tmp_path / "p.npz"), "--overwrite"])
        data = np.load(tmp_path / "p.npz")
        assert result.exit_code == 0 and data["features"].shape == (n, 11) and not len(data["labels"]), result.output
    (tmp_path / "texts.txt").write_text("hello world\n")
    result = CliRunner().invoke(main, ["embed", str(tmp_path / "texts.txt"), "--features", str(tiny_image_module), "--out", str(tmp_path / "y.npz")])
    assert result.exit_code == 1 and "holds text, but" in result.output and "is a image module" not in result.output


def test_embed_keeps_the_labels_of_a_table_with_a_bad_row(text_module, tiny_image_module, image_folder, tmp_path):
    # One empty cell once made embed read a labeled table as texts alone: an .npz without its labels.
    rows = [*labeled_topic_rows(per_class=6), ("", "fruit"), ("the apple and a pear", "")]
    table = write_csv(tmp_path / "reviews.csv", rows)
    out = tmp_path / "f.npz"
    line = cli_error(["embed", table, "-f", text_module, "-o", out])
    assert "2 of 14 rows" in line and "line 14: empty item" in line and "--skip-bad-rows" in line
    assert not out.exists()
    result = run_cli(["embed", table, "-f", text_module, "-o", out, "--skip-bad-rows"])
    data = np.load(out)
    assert result.exit_code == 0 and "2 of 14 rows of" in result.output and "empty label" in result.output
    assert len(data["items"]) == 12 and sorted(set(data["labels"])) == ["animals", "vehicles"]
    photos = sorted(image_folder.glob("*/*.jpg"))
    paths = write_csv(tmp_path / "photos.csv", [(p, p.parent.name) for p in photos] + [(photos[0], "")],
                      header=("path", "label"))
    assert "empty label" in cli_error(["embed", paths, "-f", tiny_image_module, "--image-size", "16", "-o", out,
                                       "--overwrite", "--no-cache"])
    result = run_cli(["embed", paths, "-f", tiny_image_module, "--image-size", "16", "-o", out, "--overwrite",
                      "--no-cache", "--skip-bad-rows"])
    data = np.load(out)
    assert result.exit_code == 0 and len(data["labels"]) == len(photos) == 6, result.output


@pytest.mark.skipif(not (HYMENOPTERA.is_dir() and EFFICIENTNET.is_dir()), reason="../shared/data is not present")
def test_hymenoptera_features_separate_ants_from_bees(shared_feature_cache):
    module = load_features(EFFICIENTNET)
    # Declared 224; fed at 288, where its features are better.
    assert (module.kind, module.image_size, module.output_dim) == ("image", (288, 288), 1280)
    train = extract_image_features(module, *load_image_list(HYMENOPTERA / "train"), cache_dir=shared_feature_cache)
    val = extract_image_features(module, *load_image_list(HYMENOPTERA / "val"), cache_dir=shared_feature_cache)
    assert len(train.items) == 245 and len(val.items) == 153  # the GIF decodes; nothing is corrupt
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(max_iter=2000).fit(train.features, train.labels)
    assert clf.score(val.features, val.labels) >= 0.95


def test_changed_file_is_hashed_again(tiny_image_module, image_folder, tmp_path):
    paths, labels = load_image_list(image_folder)
    module = load_features(tiny_image_module, image_size=16)
    extract_image_features(module, paths, labels, cache_dir=tmp_path / "c")
    red = image_folder / "red" / "red0.jpg"
    blue = (image_folder / "blue" / "blue0.jpg").read_bytes()
    red.write_bytes(blue + b"\0" * 7)  # new content, new size
    again = extract_image_features(module, paths, labels, cache_dir=tmp_path / "c")
    assert again.extracted == 1
    row = again.items.index(str(red))
    assert again.features[row][2] > again.features[row][0]  # now blue


def test_text_module_sif_pooling_weighs_rare_words_more(tmp_path):
    from tfxfer.text.module import sif_weights

    weights = sif_weights([998, 1, 1], a=1e-3)  # "the" is 99.8% of the corpus
    save_text_module(["the", "good", "bad"], np.eye(3, 2, dtype="float32"), tmp_path / "text", weights)
    module = load_features(tmp_path / "text")
    vector = module(tf.constant(["the good"])).numpy()[0]
    # A plain mean gives [0.5, 0.5]; "the" weighs 1e-3 / (1e-3 + 0.998) ~ 0.001 against ~0.5 for "good".
    assert vector[1] > 0.99 and vector[0] < 0.01


def test_a_directory_above_a_module_names_the_module(text_module, tmp_path):
    # A pretrain-text output (the DIR --update takes) is its module/, as the user means.
    words = tf.constant(["the cat sat", "a truck"])
    np.testing.assert_array_equal(load_features(text_module.parent)(words), load_features(text_module)(words))
    for name in ("a", "b"):
        (tmp_path / "models" / name).mkdir(parents=True)
        (tmp_path / "models" / name / "saved_model.pb").write_bytes(b"")
    with pytest.raises(DataError, match="It holds .*models/a and .*models/b: pass one of them"):
        load_features(tmp_path / "models")
    with pytest.raises(DataError, match="Pass a SavedModel directory"):
        load_features(tmp_path)


def test_inputs_the_module_cannot_tell_apart_with_different_labels_are_noted():
    from tfxfer.features.notes import conflicting_labels_note

    x = np.array([[1, 0], [1, 0], [1, 0], [0, 1], [0, 1], [0, 0], [0, 0], [2, 2]], np.float32)
    labels = ["pro", "con", "pro", "con", "con", "pro", "con", "pro"]
    items = ["none", "None", "none ", "great", "great", "zzz", "qqq", "fine"]
    note = conflicting_labels_note(x, labels, items)
    # One group (rows 0-2); the two zero rows are the unknown-words note's, not a conflict.
    assert note == ("1 input the head cannot tell apart has different labels ('none': pro 2, con 1). A model "
                    "gives each one answer, so at least 1 of the 8 examples (12.5%) count as errors in any "
                    "evaluation. Check these labels.")
    assert conflicting_labels_note(x[3:5], labels[3:5], items[3:5]) is None  # duplicates that agree are fine
    # With lexical columns beside the module's vectors, only rows alike in both are one input: "bye" and
    # "hi" beside an unknown user name share a module vector, not their words.
    import scipy.sparse

    from tfxfer.features.notes import identical_rows

    words = np.array([[1, 0], [0, 1], [1, 0], [0, 0], [0, 0], [0, 0], [0, 0], [1, 1]], np.float32)
    assert identical_rows(x, scipy.sparse.csr_matrix(words)) == [[0, 2], [3, 4]]
    assert conflicting_labels_note(x, labels, items, identical_rows(x, scipy.sparse.csr_matrix(words))) is None
    words[2, 1] = 1.0  # row 2 now differs too
    assert identical_rows(x, scipy.sparse.csr_matrix(words)) == [[3, 4]]


def test_a_photo_in_two_class_folders_is_named_by_each_file():
    from tfxfer.features.load import IMAGE
    from tfxfer.features.notes import conflicting_labels_note

    x = np.array([[1, 0], [1, 0], [1, 0], [0, 1]], np.float32)
    labels = ["ants", "bees", "ants", "bees"]
    items = ["train/ants/a.jpg", "train/bees/b.jpg", "train/ants/c.jpg", "train/bees/d.jpg"]
    note = conflicting_labels_note(x, labels, items, kind=IMAGE)
    # Each file is a copy to find and delete: the note names one per label, not the first file alone.
    assert note.startswith("1 input the head cannot tell apart has different labels (train/ants/a.jpg as ants, "
                           "train/bees/b.jpg as bees and 1 more). A model gives each one answer, so at least 1 of "
                           "the 4 examples (25.0%)")


def test_images_saved_twice_under_one_label_are_noted():
    from tfxfer.features.notes import copies_note

    x = np.array([[1, 0], [1, 0], [0, 1], [2, 2], [2, 2], [2, 2], [0, 0], [0, 0], [3, 1]], np.float32)
    labels = ["ants", "ants", "bees", "bees", "bees", "bees", "ants", "ants", "ants"]
    items = ["a.jpg", "a copy.jpg", "b.jpg", "c.jpg", "c2.jpg", "c3.jpg", "z1.jpg", "z2.jpg", "d.jpg"]
    note = copies_note(x, labels, items)
    # Rows 0-1 and 3-5; zero rows are no copies (the all-zero note's), nor are copies under two labels.
    assert note == ("3 of 9 training images repeat another under the same label (identical features; e.g. a.jpg = "
                    "a copy.jpg). A copy in another fold than its twin flatters cross-validation: keep one of each "
                    "(tfxfer inspect-data lists the byte-for-byte copies).")
    assert copies_note(x[:3], ["ants", "bees", "bees"], items[:3]) is None


def test_texts_repeated_under_one_label_are_noted_as_copies_or_recurring():
    from tfxfer.features.notes import copies_note

    x = np.zeros((7, 2), np.float32)  # texts are compared by their words, not their vectors
    labels = ["con", "con", "con", "con", "pro", "pro", "pro"]
    items = ["none", "None", " none ", "none.", "great", "great", "fast"]
    note = copies_note(x, labels, items, kind="text")
    # "none." has one more word; the largest group is the example.
    assert note == ("3 of 7 training texts repeat another word for word under the same label (e.g. 'none', 3 "
                    "times). Where such repeats are copies, not texts that recur in real use, a copy in another "
                    "fold than its twin flatters cross-validation: keep one of each.")
    assert copies_note(x[3:], labels[3:], items[3:], kind="text").startswith(
        "1 of 4 training texts repeats another word for word under the same label (e.g. 'great', 2 times).")
    assert copies_note(x[:5], ["con", "pro", "con", "pro", "pro"], items[:5], kind="text") is None  # other labels


def test_images_unlike_every_other_are_named():
    from tfxfer.features.notes import unusual_images, unusual_images_note

    rng = np.random.default_rng(0)
    # Two classes of photos: each near its class's direction; one "photo" is a placeholder far from both.
    centres = rng.normal(size=(2, 64))
    x = np.concatenate([centres[i % 2] + 0.5 * rng.normal(size=(1, 64)) for i in range(40)]).astype(np.float32)
    labels = ["ants" if i % 2 == 0 else "bees" for i in range(40)]
    items = [f"{label}/{i}.jpg" for i, label in enumerate(labels)]
    assert unusual_images(x, labels, items) == []  # a clean folder: nothing named
    x[6] = rng.normal(size=64)
    items[6] = "ants/imageNotFound.gif"
    (unusual,) = unusual_images(x, labels, items)
    assert unusual["item"] == "ants/imageNotFound.gif" and unusual["label"] == "ants" and unusual["z"] <= -5
    assert unusual["nearest_similarity"] < unusual["typical_similarity"]
    assert unusual_images_note([unusual], 40).startswith(
        "1 of 40 training images is unlike every other: ants/imageNotFound.gif (labeled ants, nearest ")
    (unlabeled,) = unusual_images(x, None, items)  # a folder without classes
    assert unusual_images_note([unlabeled], 40, "images").startswith(
        "1 of 40 images is unlike every other: ants/imageNotFound.gif (nearest ")
    assert unusual_images_note([unlabeled], 40, "images").endswith("check it belongs in the data.")
    assert unusual_images(x[:19], labels[:19], items[:19]) == []  # too few to know what is typical
    assert unusual_images_note([], 40) is None


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_embed_projector_folder_is_read_by_tensorboard(tiny_image_module, image_folder, tmp_path):
    import subprocess
    import sys
    import time
    import urllib.request

    projector = tmp_path / "projector"
    result = CliRunner().invoke(main, ["embed", str(image_folder), "-f", str(tiny_image_module), "--image-size", "16",
                                       "--no-cache", "-o", str(tmp_path / "f.npz"), "--projector", str(projector)])
    assert result.exit_code == 0, result.output
    assert f"tensorboard --logdir {projector}" in result.output
    rows = (projector / "metadata.tsv").read_text().splitlines()
    assert rows[0] == "label\titem" and len(rows) == 15 and rows[1].startswith("blue\t")
    sprite = tf.io.decode_png((projector / "sprite.png").read_bytes()).numpy()
    assert sprite.shape == (4 * 64, 4 * 64, 3)  # 14 thumbnails in a 4 x 4 grid
    assert sprite[:64, :64, 2].mean() > 200 and sprite[:64, :64, 0].mean() < 60  # the first point is blue
    # TensorBoard itself, over loopback: it finds the run, the 14 x 11 tensor, its metadata and the sprite.
    port = _free_port()
    board = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(projector), "--port",
                              str(port), "--host", "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/data/plugin/projector"
    try:
        for _ in range(120):
            try:
                runs = json.loads(urllib.request.urlopen(f"{base}/runs", timeout=5).read())
                if runs:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert runs == ["."]
        info = json.loads(urllib.request.urlopen(f"{base}/info?run=.", timeout=30).read())
        (embedding,) = info["embeddings"]
        assert embedding["tensorName"] == "embedding" and embedding["tensorShape"] == [14, 11]
        tensor = urllib.request.urlopen(f"{base}/tensor?run=.&name=embedding", timeout=30).read()
        np.testing.assert_allclose(np.frombuffer(tensor, np.float32).reshape(14, 11), np.load(tmp_path / "f.npz")["features"],
                                   rtol=1e-5)
        assert urllib.request.urlopen(f"{base}/sprite_image?run=.&name=embedding", timeout=30).read() == \
            (projector / "sprite.png").read_bytes()
    finally:
        board.terminate()
        board.wait(30)
