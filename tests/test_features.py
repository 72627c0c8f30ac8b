import json
import hashlib
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from tests.conftest import SHARED_DATA, save_tiny_image_module
from tfxfer.cli import main
from tfxfer.data.images import decode_image, holds_images, load_image_list
from tfxfer.data.unlabeled import image_paths
from tfxfer.errors import ConfigError, DataError
from tfxfer.features.extract import extract_image_features, extract_text_features
from tfxfer.features.embed import load_labeled
from tfxfer.features.load import FeatureLayer, load_features
from tfxfer.text.module import save_text_module

HYMENOPTERA = SHARED_DATA / "images" / "hymenoptera_data"
EFFICIENTNET = SHARED_DATA / "models" / "efficientnet_lite0_feature_vector"


def test_image_module_any_size_and_fixed_size(tiny_image_module, tmp_path):
    module = load_features(tiny_image_module)
    # Modules that take any size get 1.3x the size they declare (224 when silent), to 32 pixels.
    assert (module.kind, module.image_size, module.output_dim) == ("image", (288, 288), 11)
    assert load_features(tiny_image_module, image_size=32).image_size == (32, 32)
    declared = load_features(save_tiny_image_module(tmp_path / "declared", signature_size=48))
    assert declared.image_size == (64, 64)
    assert declared(tf.zeros((1, 64, 64, 3))).shape == (1, 11)
    fixed = load_features(save_tiny_image_module(tmp_path / "fixed", fixed_size=48), image_size=99)
    assert fixed.image_size == (48, 48)
    assert len(module.trainable_variables) == 1
    layer = FeatureLayer(module)
    assert layer(tf.zeros((2, 224, 224, 3))).shape == (2, 11)


def test_a_module_that_expects_pixels_in_0_255_is_fed_them(tiny_image_module, tmp_path):
    wants_255 = save_tiny_image_module(tmp_path / "wants255", wants_255=True)
    dark, light = tf.fill((1, 32, 32, 3), 0.2), tf.fill((1, 32, 32, 3), 0.8)

    def gap(module):  # how far apart two different images are in its features
        a, b = module(dark).numpy()[0], module(light).numpy()[0]
        return np.linalg.norm(a - b) / np.linalg.norm(a)

    auto = load_features(wants_255, image_size=32)
    assert auto.input_range == (0.0, 255.0) and "[0, 255]" in auto.notes[0] and "--input-range" in auto.notes[0]
    forced = load_features(wants_255, image_size=32, input_range="0,1")
    assert forced.input_range == (0.0, 1.0) and not forced.notes
    assert gap(auto) > 100 * gap(forced)  # fed [0, 1] it sees two near-black images
    assert auto.identity != forced.identity  # other features, other cache entries
    # A [0, 1] module stays so (its features spread alike in both ranges); other ranges when asked.
    plain = load_features(tiny_image_module, image_size=32)
    assert plain.input_range == (0.0, 1.0) and not plain.notes
    assert load_features(tiny_image_module, image_size=32, input_range=(-1, 1)).input_range == (-1.0, 1.0)
    layer = FeatureLayer.from_config(FeatureLayer(auto).get_config())
    assert layer.module.input_range == (0.0, 255.0)
    with pytest.raises(ConfigError, match=r"input_range.*auto, 0,1, 0,255, -1,1.*Received: input_range='0-255'"):
        load_features(tiny_image_module, input_range="0-255")


def test_feature_maps_are_averaged_and_a_classifier_top_is_named(tmp_path):
    kernel = tf.constant(np.random.default_rng(0).normal(size=(3, 3, 3, 6)).astype("float32"))

    def save(name, head):  # as Keras exports applications without pooling="avg", or with their top
        module = tf.Module()
        module.__call__ = tf.function(lambda images: head(tf.nn.relu(tf.nn.conv2d(images, kernel, 2, "SAME"))),
                                      input_signature=[tf.TensorSpec([None, 32, 32, 3], tf.float32)])
        tf.saved_model.save(module, str(tmp_path / name))
        return load_features(tmp_path / name)

    maps = save("maps", lambda x: x)
    images = tf.random.uniform((2, 32, 32, 3), seed=1)
    assert maps.output_dim == 6 and "feature maps [16, 16, 6]" in maps.notes[0]
    expected = tf.reduce_mean(tf.nn.relu(tf.nn.conv2d(images, kernel, 2, "SAME")), [1, 2])
    np.testing.assert_allclose(maps(images), expected, rtol=1e-5)
    top = save("top", lambda x: tf.nn.softmax(tf.reduce_mean(x, [1, 2])))
    assert top.output_dim == 6 and "probabilities" in top.notes[0] and "include_top=False" in top.notes[0]


def test_a_keras_text_model_on_a_column_of_strings_is_a_text_module(tmp_path):
    import keras

    texts = ["a good film", "an awful plot", "great acting", "the cat sat"]
    vectorize = keras.layers.TextVectorization(max_tokens=20, output_sequence_length=4)
    vectorize.adapt(texts)
    inputs = keras.Input(shape=(1,), dtype="string")  # as Keras's text tutorials build them
    embedded = keras.layers.Embedding(20, 5, embeddings_initializer="uniform")(vectorize(inputs))
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling1D()(embedded))
    model.export(str(tmp_path / "keras_text"), verbose=False)
    module = load_features(tmp_path / "keras_text")
    assert (module.kind, module.output_dim) == ("text", 5)
    np.testing.assert_allclose(module(tf.constant(texts)), model(tf.constant([[t] for t in texts])), rtol=1e-5)


def test_images_are_cropped_to_the_aspect_ratio_not_squashed():
    # 40x20: blue | red (the central 20x20) | green.
    image = np.zeros((20, 40, 3), np.uint8)
    image[:, :10, 2] = image[:, 10:30, 0] = image[:, 30:, 1] = 255
    decoded = decode_image(tf.io.encode_png(image), (8, 8)).numpy()
    assert decoded.shape == (8, 8, 3)
    np.testing.assert_allclose(decoded[..., 0], 1.0, atol=0.02)  # all red: the side bands are cropped
    wide = decode_image(tf.io.encode_png(image), (8, 16)).numpy()
    assert wide[:, 0, 2].min() > 0.9 and wide[:, -1, 1].min() > 0.9  # same aspect: nothing cropped


def test_text_module_is_detected(tmp_path):
    save_text_module(["good", "bad"], np.eye(2, 4, dtype="float32"), tmp_path / "text")
    module = load_features(tmp_path / "text")
    assert (module.kind, module.output_dim, module.image_size) == ("text", 4, None)
    np.testing.assert_allclose(module(tf.constant(["Good!", "bad good", "none"])).numpy()[:, :2],
                               [[1, 0], [0.5, 0.5], [0, 0]])
    features = extract_text_features(module, ["good", "bad"], ["p", "n"])
    assert features.features.shape == (2, 4) and features.labels == ["p", "n"]


def test_module_that_is_neither_names_what_it_found(tmp_path):
    class Ints(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.int32)])
        def __call__(self, x):
            return tf.cast(x[:, None], tf.float32)

    tf.saved_model.save(Ints(), str(tmp_path / "ints"))
    with pytest.raises(DataError, match="neither a text module .* its input is int32"):
        load_features(tmp_path / "ints")
    with pytest.raises(DataError, match="not found. Pass a SavedModel directory"):
        load_features(tmp_path / "missing")
    (tmp_path / "classifier.keras").write_bytes(b"PK\x03\x04 a zip, as .keras files are")
    with pytest.raises(DataError, match=r"is a Keras model file; .* Export it with model.export\('DIR'\)"):
        load_features(tmp_path / "classifier.keras")


def test_tar_gz_and_hub_handle_from_tfhub_cache(tiny_image_module, tmp_path, monkeypatch):
    monkeypatch.setenv("TFXFER_CACHE_DIR", str(tmp_path / "cache"))
    archive = tmp_path / "tiny.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tiny_image_module, arcname="tiny")
    assert load_features(archive).output_dim == 11
    # tensorflow_hub caches a handle under sha1(handle); a cached handle loads offline.
    handle = "https://tfhub.dev/tfxfer-tests/tiny/1"
    hub_cache = tmp_path / "hub"
    import shutil

    shutil.copytree(tiny_image_module, hub_cache / hashlib.sha1(handle.encode()).hexdigest())
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(hub_cache))
    module = load_features(handle)
    assert module.output_dim == 11 and str(module.path).startswith(str(hub_cache))


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


def test_folders_zipped_on_a_mac_or_opened_in_jupyter_hold_no_extra_class(image_folder, tmp_path):
    # A zip made on macOS has __MACOSX/<class>/._photo.jpg and ._photo.jpg beside each photo: metadata, not
    # photos; Jupyter leaves .ipynb_checkpoints folders. They made a class '__MACOSX' that stopped training.
    paths, labels = load_image_list(image_folder)
    for folder in ("red", "__MACOSX/red", "red/.ipynb_checkpoints"):
        (image_folder / folder).mkdir(parents=True, exist_ok=True)
        (image_folder / folder / "._red0.jpg").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X")
    shutil.copy(image_folder / "red" / "red0.jpg", image_folder / "red" / ".ipynb_checkpoints" / "red0.jpg")
    assert tuple(load_image_list(image_folder)) == (paths, labels)
    assert sorted(image_paths(image_folder)) == sorted(str(p) for p in paths)


def test_photos_in_formats_tensorflow_cannot_decode_are_named(image_folder, tmp_path, caplog):
    for name in ("scan.tiff", "scan2.TIF", "phone.heic"):
        (image_folder / "green" / name).write_bytes(b"II*\x00 not decodable by TensorFlow")
    (image_folder / "green" / "notes.txt").write_text("not an image at all")
    data = load_image_list(image_folder)
    assert len(data.items) == 14
    assert data.notes == [
        "3 images were left out: TensorFlow cannot decode their format (1 .heic, 1 .tiff, 1 .tif). Convert them "
        "to JPEG or PNG (e.g. `mogrify -format jpg *.heic`) to use them."]
    assert "3 images were left out" in caplog.text  # a warning, not only a line of the report
    only = tmp_path / "only_tiff" / "a"
    only.mkdir(parents=True)
    (only / "x.tif").write_bytes(b"II*\x00")
    with pytest.raises(DataError, match=r"No images .* found .* 1 image was left out.*\.tif"):
        load_image_list(only.parent)
    pool = list(image_paths(image_folder))
    assert len(pool) == 14 and caplog.text.count("3 images were left out") == 2


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
    with pytest.raises(DataError, match=r"Class\(es\) \['empty'\] have no usable image"):
        extract_image_features(load_features(tiny_image_module, 16), paths, labels, cache_dir=tmp_path / "c")


def test_csv_image_list(tiny_image_module, image_folder, tmp_path):
    csv = image_folder / "list.csv"
    csv.write_text("path,label\nred/red0.jpg,warm\nblue/blue1.png,cold\n")
    paths, labels = load_image_list(csv)
    assert labels == ["warm", "cold"] and Path(paths[0]).is_file()


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


def test_large_jpegs_are_cropped_and_scaled_while_decoded():
    import keras

    rng = np.random.default_rng(0)
    image = (rng.uniform(0, 1, (12, 18, 3)) * 255).astype(np.uint8)
    image = tf.image.resize(image, (600, 900), method="bicubic").numpy().clip(0, 255).astype(np.uint8)  # smooth
    data = tf.io.encode_jpeg(image, quality=95)
    fast = decode_image(data, (100, 100)).numpy()  # the central 600x600, decoded at 1/4
    full = tf.image.convert_image_dtype(tf.io.decode_jpeg(data, channels=3), tf.float32)
    exact = keras.ops.image.resize(full, (100, 100), antialias=True, crop_to_aspect_ratio=True).numpy()
    assert fast.shape == (100, 100, 3) and np.abs(fast - exact).mean() < 0.02
    png = decode_image(tf.io.encode_png(image), (100, 100)).numpy()  # PNGs take the plain path, same crop
    assert np.abs(png - exact).mean() < 0.01


def test_a_directory_above_a_module_names_the_module(text_module, tmp_path):
    with pytest.raises(DataError, match=f"a pretrain-text output: pass its feature module, {text_module}"):
        load_features(text_module.parent)  # the pretrain-text output, not its module/
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
    assert note == ("1 input the module cannot tell apart has different labels ('none': pro 2, con 1). A model "
                    "gives each one answer, so at least 1 of the 8 examples (12.5%) count as errors in any "
                    "evaluation. Check these labels.")
    assert conflicting_labels_note(x[3:5], labels[3:5], items[3:5]) is None  # duplicates that agree are fine


def test_image_lists_with_paths_from_the_current_folder(image_folder, tmp_path, monkeypatch):
    lists = tmp_path / "lists"
    lists.mkdir()
    rows = [(f"{image_folder.name}/red/red0.jpg", "red"), (f"{image_folder.name}/blue/blue1.png", "blue")]
    (lists / "train.csv").write_text("path,label\n" + "".join(f"{p},{l}\n" for p, l in rows))
    monkeypatch.chdir(image_folder.parent)  # the paths start here, not beside the list
    data = load_image_list(lists / "train.csv")
    assert data.items == [p for p, _ in rows] and all(Path(p).is_file() for p in data.items)
    monkeypatch.chdir(lists)  # now they exist from nowhere
    with pytest.raises(DataError, match=r"None of the 2 images listed in .*train.csv' exist .* from the current folder"):
        load_image_list(lists / "train.csv")
    (lists / "urls.csv").write_text("path,label\nhttps://example.com/a.jpg,red\nhttps://example.com/b.jpg,blue\n")
    with pytest.raises(DataError, match=r"lists URLs \('https://example.com/a.jpg'...\): .* Download them first"):
        load_image_list(lists / "urls.csv")


def test_a_flat_folder_whose_names_hold_the_labels_names_the_fix(image_folder, tmp_path):
    flat = tmp_path / "train"  # Kaggle's dogs vs cats: train/cat.0.jpg ... train/dog.12499.jpg
    flat.mkdir()
    for i, path in enumerate(sorted(image_folder.glob("*/*.*g"))):
        shutil.copy(path, flat / f"{'cat' if i % 2 else 'dog'}.{i}{path.suffix}")
    with pytest.raises(DataError, match=r"no class subfolders. The names of its 12 images start with 'cat' or 'dog', "
                                        r"which look like labels: move them into folders"):
        load_image_list(flat)
    for path in flat.iterdir():
        path.rename(flat / f"{hashlib.md5(path.name.encode()).hexdigest()}{path.suffix}")
    with pytest.raises(DataError, match=r"no class subfolders. Put each class's images in its own folder"):
        load_image_list(flat)


def test_kaggle_lists_of_ids_without_extension_find_their_images(tiny_image_module, image_folder, tmp_path):
    # Kaggle's dog-breed layout: labels.csv (id,breed) beside train/<id>.jpg; test/ holds other ids.
    root = tmp_path / "kaggle"
    (root / "train").mkdir(parents=True)
    (root / "test").mkdir()
    rows = ["id,breed"]
    for i, path in enumerate(sorted(image_folder.glob("*/*.jpg"))):
        shutil.copy(path, root / "train" / f"a{i:03d}.jpg")
        rows.append(f"a{i:03d},{path.parent.name}")
    shutil.copy(path, root / "test" / "zzz.jpg")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    data = load_image_list(root / "labels.csv")
    assert data.items[0] == str(root / "train" / "a000.jpg") and data.labels[0] == "blue"
    assert "the listed names have no extension: read as train/<id>.jpg beside the list" in data.notes
    assert load_labeled(load_features(tiny_image_module, 16), root / "labels.csv").items == data.items  # images, not text
    words = tmp_path / "words.csv"  # a text table beside images stays text
    words.write_text("text,label\n" + "".join(f"a{i:03d},x\n" for i in range(3)))
    assert not holds_images(words)


def test_image_lists_in_json_lines(image_folder):
    import json

    listing = image_folder / "labels.jsonl"
    listing.write_text("".join(json.dumps({"image": f"{c}/{c}0.jpg", "label": c}) + "\n" for c in ("red", "blue")))
    data = load_image_list(listing)
    assert data.labels == ["red", "blue"] and all(Path(p).is_file() for p in data.items)


def test_the_root_of_a_split_image_data_set_is_refused(image_folder, tmp_path):
    root = tmp_path / "hymenoptera"
    root.mkdir()
    image_folder.rename(root / "train")
    shutil.copytree(root / "train", root / "val")
    with pytest.raises(DataError, match=r"holds the splits of a data set \(train, val\), not classes"):
        load_image_list(root)
    assert len(load_image_list(root / "train").items) == 14  # the split itself is a folder of classes
    # An archive extracted into a folder of its own name: one "class" holding the classes.
    (tmp_path / "extracted").mkdir()
    (root / "train").rename(tmp_path / "extracted" / "colours")
    with pytest.raises(DataError, match=r"one subfolder, 'colours', whose subfolders \(blue, green, red\) look like "
                                        r"the classes: pass '.*extracted/colours'"):
        load_image_list(tmp_path / "extracted")


def test_phone_photos_are_turned_upright_by_their_exif_orientation():
    import io
    import struct

    from PIL import Image

    from tfxfer.data.images import jpeg_orientation

    shown = np.zeros((60, 90, 3), np.uint8)  # as the photo is shown: four coloured quarters
    shown[:30, :45], shown[:30, 45:], shown[30:, :45], shown[30:, 45:] = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)

    def jpeg(pixels, orientation=None):
        buf, exif = io.BytesIO(), Image.Exif()
        if orientation:
            exif[274], exif[271] = orientation, "Phone"  # the tag among others, as cameras write it
        Image.fromarray(pixels).save(buf, "JPEG", quality=95, exif=exif.tobytes())
        return buf.getvalue()

    upright = decode_image(tf.constant(jpeg(shown)), (24, 40)).numpy()
    # Stored as the sensor saw them, with the tag saying how to turn them (6: 90 degrees clockwise).
    for orientation, stored in [(6, np.rot90(shown, 1)), (8, np.rot90(shown, 3)), (3, np.rot90(shown, 2)),
                                (2, shown[:, ::-1]), (5, shown.transpose(1, 0, 2))]:
        data = jpeg(np.ascontiguousarray(stored), orientation)
        assert int(jpeg_orientation(tf.constant(data))) == orientation
        turned = decode_image(tf.constant(data), (24, 40)).numpy()
        assert np.abs(turned - upright).mean() < 0.03, orientation  # sideways it differs by about 0.4
    # Little-endian TIFF (PIL writes big-endian), no tag, and bytes that are no JPEG at all.
    little = b"\xff\xd8\xff\xe1\x00\x22Exif\x00\x00II*\x00" + struct.pack("<IHHHII", 8, 1, 0x0112, 3, 1, 6)
    assert int(jpeg_orientation(tf.constant(little))) == 6
    assert int(jpeg_orientation(tf.constant(jpeg(shown)))) == 1
    assert int(jpeg_orientation(tf.constant(b"Exif\x00\x00MM\xff"))) == 1


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
