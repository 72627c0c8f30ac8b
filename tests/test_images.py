"""Image data: class folders and lists of paths as users bring them, and decoding them."""

import hashlib
import json
import shutil
import unicodedata
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tfxfer.data.image_files import holds_images, load_image_list
from tfxfer.data.images import decode_image
from tfxfer.data.unlabeled import image_paths, load_unlabeled
from tfxfer.errors import DataError
from tfxfer.features.embed import load_labeled
from tfxfer.features.load import load_features


def test_images_are_cropped_to_the_aspect_ratio_not_squashed():
    # 40x20: blue | red (the central 20x20) | green.
    image = np.zeros((20, 40, 3), np.uint8)
    image[:, :10, 2] = image[:, 10:30, 0] = image[:, 30:, 1] = 255
    decoded = decode_image(tf.io.encode_png(image), (8, 8)).numpy()
    assert decoded.shape == (8, 8, 3)
    np.testing.assert_allclose(decoded[..., 0], 1.0, atol=0.02)  # all red: the side bands are cropped
    wide = decode_image(tf.io.encode_png(image), (8, 16)).numpy()
    assert wide[:, 0, 2].min() > 0.9 and wide[:, -1, 1].min() > 0.9  # same aspect: nothing cropped
    white = decode_image(tf.io.encode_png(np.full((375, 500, 3), 255, np.uint8)), (160, 160)).numpy()
    assert white.max() == 1.0  # in [0, 1] as said (matplotlib warned, drawing it in the report's mistakes)


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



def test_class_folders_linked_in_from_elsewhere_are_read(image_folder, tmp_path):
    # `ln -s /photos/cats data/cats`, or a split made of links: Path.rglob follows no link to a folder before
    # Python 3.13, so the folder held "no images" and read as text ("No labeled examples").
    from tfxfer.data.text import TextCorpus

    linked = tmp_path / "linked"
    linked.mkdir()
    for folder in sorted(p for p in image_folder.iterdir() if p.is_dir()):
        (linked / folder.name).symlink_to(folder, target_is_directory=True)
    assert holds_images(linked)
    paths, labels = load_image_list(linked)
    expected_paths, expected_labels = load_image_list(image_folder)
    assert [Path(p).name for p in paths] == [Path(p).name for p in expected_paths] and labels == expected_labels
    pool = tmp_path / "pool"
    pool.mkdir()
    (pool / "new").symlink_to(image_folder / "red", target_is_directory=True)
    (pool / "again").symlink_to(pool, target_is_directory=True)  # a loop: followed once
    assert len(list(image_paths(pool))) == len(list((image_folder / "red").iterdir()))
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "a.txt").write_text("the cat sat\n")
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "more").symlink_to(tmp_path / "texts", target_is_directory=True)
    assert list(TextCorpus([tmp_path / "corpus"])) == ["the cat sat"]


def test_a_folder_of_only_iphone_photos_is_told_their_format(tiny_image_module, tmp_path):
    # Class folders of HEIC photos alone (as an iPhone shares them) read as a folder of texts: fit-head said
    # "holds text, but ... is an image module", inspect-data "No labeled examples".
    from tests.conftest import cli_error

    for label in ("cat", "dog"):
        (tmp_path / "photos" / label).mkdir(parents=True)
        for i in range(3):
            (tmp_path / "photos" / label / f"IMG_{i}.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic")
    told = "6 images were left out: TensorFlow cannot decode their format (6 .heic). Convert them to JPEG or PNG"
    assert told in cli_error(["fit-head", "--features", str(tiny_image_module), "--train", str(tmp_path / "photos"),
                              "--out", str(tmp_path / "export"), "--image-size", "8"])
    assert told in cli_error(["inspect-data", str(tmp_path / "photos")])
    assert not (tmp_path / "export").exists()
    listed = tmp_path / "labels.csv"  # a list of them, which read as two columns of text
    listed.write_text("path,label\n" + "".join(f"photos/{label}/IMG_{i}.HEIC,{label}\n" for label in ("cat", "dog")
                                               for i in range(3)))
    from tests.conftest import run_cli

    result = run_cli(["fit-head", "--features", str(tiny_image_module), "--train", str(listed), "--out",
                      str(tmp_path / "export"), "--image-size", "8"])
    assert result.exit_code == 1 and "holds text" not in result.output, result.output
    assert "TensorFlow cannot decode their format (6 .heic). Convert them to JPEG or PNG" in result.output


def test_csv_image_list(tiny_image_module, image_folder, tmp_path):
    csv = image_folder / "list.csv"
    csv.write_text("path,label\nred/red0.jpg,warm\nblue/blue1.png,cold\n")
    paths, labels = load_image_list(csv)
    assert labels == ["warm", "cold"] and Path(paths[0]).is_file()


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
    # Beside files, a URL is kept whole, to be skipped as one (not joined to the list's folder, "lists/https:/...").
    (lists / "mixed.csv").write_text("path,label\n" + "".join(f"{image_folder.parent / p},{l}\n" for p, l in rows)
                                     + "https://example.com/c.jpg,red\n")
    data = load_image_list(lists / "mixed.csv")
    assert data.items[-1] == "https://example.com/c.jpg"
    from tfxfer.features.extract import _content_hashes
    assert _content_hashes(data.items, None)[1] == [("https://example.com/c.jpg",
                                                     "a URL: nothing is downloaded; download it first")]
    # A list written on Windows: its backslashes are read as /, with a note.
    windows = image_folder.parent / "windows.csv"
    windows.write_text("path,label\n" + "".join(f"{p.replace('/', chr(92))},{l}\n" for p, l in rows))
    data = load_image_list(windows)
    assert data.items == [str(image_folder.parent / p) for p, _ in rows]
    assert data.notes == ["paths written with \\ (on Windows) were read with /"]


def test_a_list_written_on_another_machine_finds_its_files_beside_it(image_folder):
    photos = sorted(image_folder.glob("*/*.*g"))
    rel = [p.relative_to(image_folder.parent) for p in photos]
    for name, written in (("alice.csv", [f"/home/alice/project/{r}" for r in rel]),
                          ("windows.csv", ["C:\\Users\\bob\\" + str(r).replace("/", "\\") for r in rel])):
        listing = image_folder.parent / name
        listing.write_text("path,label\n" + "".join(f"{w},{p.parent.name}\n" for w, p in zip(written, photos)))
        data = load_image_list(listing)
        assert data.items == [str(p) for p in photos] and data.labels == [p.parent.name for p in photos]
        root = "/home/alice/project" if name == "alice.csv" else "C:/Users/bob"
        assert f"the listed paths start with {root}, which is not here: read from beside the list" in data.notes[-1]
    listing.write_text("path,label\n/home/alice/elsewhere/x.jpg,red\n/home/alice/elsewhere/y.jpg,blue\n")
    with pytest.raises(DataError, match=r"None of the 2 images listed in"):
        load_image_list(listing)


def test_a_list_typed_composed_finds_files_named_on_a_mac(image_folder):
    # macOS, and zips made on it, write `é` in file names decomposed (NFD); a list typed elsewhere has it
    # composed (NFC): the same name, found either way, and the reverse.
    photos = sorted(image_folder.glob("*/*.*g"))[:4]
    named = []
    for i, photo in enumerate(photos):
        name = unicodedata.normalize("NFD" if i % 2 else "NFC", f"crème brûlée {i}{photo.suffix}")
        named.append(photo.rename(photo.with_name(name)))
    listing = image_folder.parent / "list.csv"
    flipped = [unicodedata.normalize("NFC" if i % 2 else "NFD", str(p.relative_to(image_folder.parent)))
               for i, p in enumerate(named)]
    assert not any(Path(image_folder.parent / f).exists() for f in flipped)
    listing.write_text("path,label\n" + "".join(f"{f},{p.parent.name}\n" for f, p in zip(flipped, named)),
                       encoding="utf-8")
    data = load_image_list(listing)
    assert data.items == [str(p) for p in named] and not data.notes


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
    (root / "labels.csv").write_text("\n".join(row.replace(",", ";") for row in rows) + "\n")  # Excel's ';'
    assert load_labeled(load_features(tiny_image_module, 16), root / "labels.csv").items == data.items
    words = tmp_path / "words.csv"  # a text table beside images stays text
    words.write_text("text,label\n" + "".join(f"a{i:03d},x\n" for i in range(3)))
    assert not holds_images(words)


def test_image_lists_in_json_lines(image_folder):

    listing = image_folder / "labels.jsonl"
    listing.write_text("".join(json.dumps({"image": f"{c}/{c}0.jpg", "label": c}) + "\n" for c in ("red", "blue")))
    data = load_image_list(listing)
    assert data.labels == ["red", "blue"] and all(Path(p).is_file() for p in data.items)


def test_label_studio_exports_name_the_files_its_server_serves(tiny_image_module, image_folder, tmp_path, monkeypatch):
    # Uploaded images live in its data directory's media/upload/<project>/, renamed <uuid>-<name>.
    monkeypatch.setenv("LABEL_STUDIO_BASE_DATA_DIR", str(tmp_path / "studio"))
    upload = tmp_path / "studio" / "media" / "upload" / "3"
    upload.mkdir(parents=True)
    photos = sorted(image_folder.glob("*/*.*g"))
    for path in photos:
        shutil.copy(path, upload / f"1a2b3c4d-{path.stem} copy{path.suffix}")
    tasks = [{"id": i, "data": {"image": f"/data/upload/3/1a2b3c4d-{p.stem}%20copy{p.suffix}"}, "annotations": [
        {"result": [{"value": {"choices": [p.parent.name]}, "from_name": "choice", "to_name": "image",
                     "type": "choices"}]}]} for i, p in enumerate(photos)]
    export = tmp_path / "project-3.json"  # Label Studio's JSON export of its image classification template
    export.write_text(json.dumps(tasks))
    assert holds_images(export)
    data = load_image_list(export)
    assert data.labels == [p.parent.name for p in photos]
    assert [Path(p).read_bytes() for p in data.items] == [p.read_bytes() for p in photos]
    assert f"Label Studio's URLs read as the files it serves (e.g. {upload}/1a2b3c4d-" in data.notes[-1]
    assert load_labeled(load_features(tiny_image_module, 16), export).items == data.items
    # JSON-MIN, its files in local storage: `?d=` a path under the document root it runs with.
    monkeypatch.setenv("LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT", str(image_folder.parent))
    minimal = tmp_path / "project-4-min.json"
    minimal.write_text(json.dumps([{"id": 1, "image": (f"http://localhost:8080/data/local-files/?d={image_folder.name}"
                                                       f"%2F{p.parent.name}%2F{p.name}"),
                                    "choice": p.parent.name, "annotator": 1} for p in photos]))
    assert load_image_list(minimal).items == [str(p) for p in photos]
    # Its tasks as a pool of images to pick from (suggest --pool, --unlabeled): each task's `data`.
    pool = tmp_path / "tasks.json"
    pool.write_text(json.dumps([{"id": i, "data": t["data"], "annotations": []} for i, t in enumerate(tasks)]))
    assert load_unlabeled(pool, images=True, limit=100) == (sorted(data.items), len(photos))
    # Run elsewhere, the files are not where the setting says: the error names it.
    monkeypatch.setenv("LABEL_STUDIO_BASE_DATA_DIR", str(tmp_path / "elsewhere"))
    with pytest.raises(DataError, match=r"names images by Label Studio's URLs, and none of the 12 files they stand "
                                        r"for exist \(e.g. '.*elsewhere/media/upload/3/1a2b3c4d-.*'\): its uploads are in "
                                        r"the media/upload folder .* Set LABEL_STUDIO_BASE_DATA_DIR to the folder"):
        load_image_list(export)
    # Nor without a home folder (a container's --user; Path.home stands in): that error, not a RuntimeError.
    monkeypatch.delenv("LABEL_STUDIO_BASE_DATA_DIR")
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: (_ for _ in ()).throw(RuntimeError("no home"))))
    with pytest.raises(DataError, match="Set LABEL_STUDIO_BASE_DATA_DIR to the folder"):
        load_image_list(export)


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


def _declaring(data: bytes, width: int, height: int) -> bytes:
    """A small PNG whose header declares `width` x `height` (what a decompression bomb does in a few KB)."""
    import struct

    return data[:16] + struct.pack(">II", width, height) + data[24:]


def _refused_when_decoded(data: bytes) -> str:
    """Why decoding `data` in a traced graph (as the export does) fails, as users read it."""
    from tfxfer.errors import op_error_reason

    decode = tf.function(lambda data: decode_image(data, (16, 16)), autograph=False,
                         input_signature=[tf.TensorSpec([], tf.string)])
    with pytest.raises(tf.errors.InvalidArgumentError) as e:
        decode(tf.constant(data))
    return op_error_reason(e.value.message)


def _skipped_among_photos(image_folder: Path, tmp_path: Path, name: str, data: bytes) -> list[tuple[str, str]]:
    """`(file name, why)` of the photos fit-head's extraction skips once `data` is among them as `name`."""
    from tests.conftest import save_tiny_image_module
    from tfxfer.features.extract import extract_image_features

    (image_folder / "red" / name).write_bytes(data)
    module = load_features(save_tiny_image_module(tmp_path / "tiny"), image_size=16)
    labeled = load_labeled(module, image_folder)
    features = extract_image_features(module, labeled.items, labeled.labels, cache_dir=tmp_path / "cache")
    return [(Path(p).name, reason) for p, reason in features.skipped]


def test_headers_declare_sizes_and_images_too_large_to_decode_are_refused_before_decoding(image_folder, tmp_path,
                                                                                         caplog):
    # A 280 KB PNG of 16,000 x 16,000 px took 7.6 GB to decode: a request could take `tfxfer serve` down.
    import io

    from PIL import Image

    from tfxfer.data.images import declared_size

    def encoded(fmt, size, **kw):
        out = io.BytesIO()
        Image.new("RGB", size, (200, 20, 20)).save(out, fmt, **kw)
        return out.getvalue()

    for fmt, kw in [("PNG", {}), ("GIF", {}), ("BMP", {}), ("WEBP", {"lossless": True}), ("WEBP", {"quality": 80})]:
        for size in [(300, 200), (1, 1), (16383, 3)]:
            assert declared_size(tf.constant(encoded(fmt, size, **kw))).numpy().tolist() == list(size), (fmt, kw)
    for other in (encoded("JPEG", (30, 20)), b"", b"GI", b"not an image"):
        assert declared_size(tf.constant(other)).numpy().tolist() == [0, 0]
    bomb = _declaring(encoded("PNG", (8, 8)), 16000, 16000)
    assert _refused_when_decoded(bomb) == (
        "image too large to decode (more than 89,478,485 pixels, the limit Pillow sets too); resize it first. Its "
        "width and height: 16000 16000")
    assert decode_image(tf.constant(_declaring(encoded("PNG", (8, 8)), 8, 8)), (16, 16)).shape == (16, 16, 3)
    # Among training photos: skipped, and the note says why (it was "not a decodable image").
    assert _skipped_among_photos(image_folder, tmp_path, "poster.png", bomb) == [
        ("poster.png", ("image too large to decode (more than 89,478,485 pixels, the limit Pillow sets too); resize "
                        "it first. Its width and height: 16000 x 16000"))]


def _animated_gif(frames: int, size: tuple[int, int], **save) -> bytes:
    """A GIF of `frames` frames of alternating colours (a few KB each: flat colour compresses)."""
    import io

    from PIL import Image

    images = [Image.new("RGB", size, ((40 + 10 * i) % 256, 200 - i % 100, 90)) for i in range(frames)]
    out = io.BytesIO()
    images[0].save(out, "GIF", save_all=True, append_images=images[1:], duration=40, loop=0, **save)
    return out.getvalue()


def test_an_animated_gif_decodes_its_first_frame_alone():
    # Decoders read every frame before giving the first: a 320 KB GIF of 80 frames of 2000 x 2000 took
    # 0.3 GB and 2 s, so a few MB of GIF could take a server down. Now the bytes are cut after the first image.
    from tests.conftest import memory_growth_kb
    from tfxfer.data.images import first_gif_image

    def first_frame(data: bytes):
        return tf.io.decode_image(data, channels=3, expand_animations=False).numpy()

    for data in (_animated_gif(3, (40, 30)), _animated_gif(2, (40, 30), comment=b"made by hand", interlace=True),
                 _animated_gif(1, (7, 5)), _animated_gif(4, (64, 64), optimize=False, disposal=2)):
        cut = first_gif_image(tf.constant(data)).numpy()
        assert len(cut) < len(data) or data.count(b"\x2c") == 1
        np.testing.assert_array_equal(first_frame(cut), first_frame(data))
    mid_image = data[:data.index(b"\x21\xf9\x04") + 8 + 15]  # its timing block, then 15 bytes of image
    for other in (b"GIF89a", b"not a GIF", mid_image):  # not GIF, or cut mid-image: left to the decoder
        assert first_gif_image(tf.constant(other)).numpy() == other
    blocks = data.index(b"\x21\xff\x0bNETSCAPE2.0")  # the first block, after the colour table
    # With its loop and timing blocks, the image is the 64th block, then the 65th: too far.
    comments = [data[:blocks] + b"\x21\xfe\x01x\x00" * k + data[blocks:] for k in (61, 62)]
    np.testing.assert_array_equal(first_frame(first_gif_image(tf.constant(comments[0])).numpy()), first_frame(data))
    for no_image in (data[:blocks] + b"\x99garbage", comments[1]):
        with pytest.raises(tf.errors.InvalidArgumentError, match="No Image Descriptor"):
            first_frame(first_gif_image(tf.constant(no_image)).numpy())
    two = _animated_gif(2, (2000, 2000))  # its second frame's blocks, repeated: Pillow would hold every frame
    second = two.rindex(b"\x21\xf9\x04")
    bomb = two[:second] + two[second:-1] * 80 + b";"
    assert len(bomb) < 400_000
    setup = """
        import tensorflow as tf
        from tfxfer.data.images import decode_image
        decode_image(tf.constant(DATA[:-1]), (16, 16))  # the ops' first run (cut mid-image, decoded whole)
        """
    grew = memory_growth_kb(setup, "image = decode_image(tf.constant(DATA), (16, 16))", bomb)
    assert grew < 60_000  # KB: 240 MB before; a frame is 12 MB as RGB
    np.testing.assert_allclose(decode_image(tf.constant(bomb), (16, 16))[0, 0], np.array([40, 200, 90]) / 255,
                               atol=0.01)


def _jpeg(size: tuple[int, int], **save) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(out, "JPEG", **save)
    return out.getvalue()


def _declaring_jpeg(data: bytes, width: int, height: int) -> bytes:
    """JPEG bytes whose frame header (SOFn) declares `width` x `height`."""
    import re
    import struct

    sof = re.search(rb"\xff[\xc0-\xc3]", data).start()
    return data[:sof + 5] + struct.pack(">HH", height, width) + data[sof + 9:]


def test_progressive_jpegs_too_large_to_decode_are_refused_before_decoding(image_folder, tmp_path):
    # A progressive JPEG is decoded whole into memory before any scaling: a 1.5 MB one of 20,000 x 20,000
    # took 0.8 GB and 3 s, and 32 MB (a request's limit) could declare 65,000 x 40,000: 8 GB.
    # Baseline JPEGs decode at 1/8 scale a block at a time, and stay accepted at any size.
    from tfxfer.data.images import refused_size

    exif = b"\xff\xe1" + (2 + 6 + 60_000).to_bytes(2, "big") + b"Exif\x00\x00" + b"\x00" * 60_000  # 60 KB before
    progressive, baseline = _jpeg((16, 16), progressive=True), _jpeg((16, 16))
    progressive = progressive[:2] + exif + progressive[2:]
    big = _declaring_jpeg(progressive, 10_000, 9_000)  # 90M pixels
    assert refused_size(tf.constant(big)).numpy().tolist() == [10_000, 9_000]
    for accepted in (_declaring_jpeg(progressive, 9_000, 9_000), _declaring_jpeg(baseline, 10_000, 9_000),
                     progressive, baseline, b"\xff\xd8\xff", b""):
        assert refused_size(tf.constant(accepted)).numpy().tolist() == [0, 0]
    assert _refused_when_decoded(big) == (
        "image too large to decode (more than 89,478,485 pixels, the limit Pillow sets too); resize it first. Its "
        "width and height: 10000 9000")
    assert decode_image(tf.constant(progressive), (16, 16)).shape == (16, 16, 3)
    assert _skipped_among_photos(image_folder, tmp_path, "panorama.jpg", big) == [
        ("panorama.jpg", ("image too large to decode (more than 89,478,485 pixels, the limit Pillow sets too); "
                          "resize it first. Its width and height: 10000 x 9000"))]


@pytest.mark.skipif(not hasattr(tf.io, "decode_webp"), reason="TensorFlow reads WebP from 2.20 on")
def test_webps_with_transparency_decode_and_animated_ones_are_refused_before_decoding(image_folder, tmp_path):
    # Asked for 3 channels, TensorFlow refuses a WebP with alpha ("Number of channels requested does not
    # match input": product photos cut out on a transparent ground): skipped as not decodable, answered 400.
    # An animated one it can decode only with the channels it has, and then overruns its buffer: the process
    # dies ("corrupted double-linked list"), so it is refused before TensorFlow sees it.
    import io

    from PIL import Image

    from tfxfer.data.images import webp_layout

    colour = (200, 40, 90)
    stills = {}
    for mode, kw in [("RGBA", {"quality": 90}), ("RGBA", {"lossless": True}), ("RGB", {"quality": 90}),
                     ("RGB", {"lossless": True})]:
        out = io.BytesIO()
        Image.new(mode, (40, 30), (*colour, 128)[:len(mode)]).save(out, "WEBP", **kw)
        stills[mode, kw.get("lossless", False)] = out.getvalue()
    out = io.BytesIO()
    frames = [Image.new("RGB", (40, 30), c) for c in (colour, (0, 0, 255), (0, 255, 0))]
    frames[0].save(out, "WEBP", save_all=True, append_images=frames[1:], duration=50, lossless=True)
    animated = out.getvalue()
    assert [tuple(bool(t) for t in webp_layout(tf.constant(d))) for d in (*stills.values(), animated)] == [
        (True, False), (True, False), (False, False), (False, False), (False, True)]
    for data in stills.values():
        image = decode_image(tf.constant(data), (16, 16)).numpy()
        np.testing.assert_allclose(image.mean(axis=(0, 1)), np.array(colour) / 255, atol=0.03)
    reason = "animated WebP, which TensorFlow cannot decode (its frames overrun its buffer); save a frame of it as "
    assert _refused_when_decoded(animated).startswith(reason)
    assert _skipped_among_photos(image_folder, tmp_path, "sticker.webp", animated) == [
        ("sticker.webp", reason + "PNG or JPEG first")]
    (image_folder / "red" / "sticker.webp").unlink()
    assert _skipped_among_photos(image_folder, tmp_path, "cut-out.webp", stills["RGBA", False]) == []


def test_bmps_of_256_colours_decode_to_their_colours_not_their_palette_indices():
    # TensorFlow decodes an 8-bit BMP as its palette indices, shown as gray: a red image read as 1 / 255.
    import io

    from PIL import Image

    image = Image.new("P", (40, 30))
    image.putpalette([0, 0, 0, 200, 40, 90, 10, 220, 30] + [0] * 759)
    image.paste(1, (0, 0, 40, 30))
    image.paste(2, (0, 0, 20, 30))  # left half green, right half red
    for mode in ("P", "L"):  # a gray one has a palette too: its ramp
        shown = image if mode == "P" else image.convert("L")
        out = io.BytesIO()
        shown.save(out, "BMP")
        decoded = decode_image(tf.constant(out.getvalue()), (30, 40)).numpy()
        expected = np.asarray(shown.convert("RGB"), np.float32) / 255
        assert np.abs(decoded - expected).mean() < 0.02, mode
