"""Image data as users bring it: class folders (with a Mac's or Jupyter's extra files, links, formats
TensorFlow cannot decode), and lists of paths (CSV, JSON Lines, Kaggle's ids, Label Studio's exports)."""

import hashlib
import json
import shutil
import unicodedata
from pathlib import Path

import pytest

from tfxfer.data.image_files import holds_images, load_image_list
from tfxfer.data.unlabeled import image_paths, load_unlabeled
from tfxfer.errors import DataError
from tfxfer.features.embed import load_labeled
from tfxfer.features.load import load_features


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
