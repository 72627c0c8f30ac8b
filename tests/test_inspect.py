"""`tfxfer inspect-data`: labeled data read as fit-head reads it, before any model, without TensorFlow."""

import json
import subprocess
import sys

from PIL import Image

from tests.conftest import (
    SHARED_DATA,
    cli_error,
    make_image_folder,
    needs_shared_data,
    run_cli,
)
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
    once = tmp_path / "once.tsv"
    once.write_text("text\tlabel\nhi\tGreet\nhi\tGreet\nlol\tEmotion\n")
    assert "Repeated: 1 example repeats an earlier one." in run_cli(["inspect-data", once]).output.splitlines()
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


def _photo(path, size, seed):
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def test_inspect_data_on_images_names_odd_formats_small_images_unreadable_files_and_copies(tmp_path):
    import shutil

    photos = tmp_path / "photos"
    for i in range(6):
        _photo(photos / "ants" / f"a{i}.jpg", (64, 48), i)
        _photo(photos / "bees" / f"b{i}.jpg", (48, 64), 10 + i)
    _photo(photos / "ants" / "notfound.gif", (64, 48), 20)  # the one GIF among JPEGs
    _photo(photos / "bees" / "thumb.jpg", (8, 6), 21)
    (photos / "bees" / "notes.jpg").write_text("not a photo")
    whole = (photos / "bees" / "b5.jpg").read_bytes()
    (photos / "bees" / "cut.jpg").write_bytes(whole[: len(whole) // 2])  # an interrupted download: header whole
    shutil.copy(photos / "ants" / "a0.jpg", photos / "bees" / "b0-again.jpg")  # a copy under another label
    shutil.copy(photos / "ants" / "a1.jpg", photos / "ants" / "a1 (1).jpg")  # and one under the same
    turned = Image.open(photos / "bees" / "b2.jpg")
    exif = Image.Exif()
    exif[0x0112] = 6  # a phone held upright: stored sideways, "turn 90 degrees clockwise to show"
    turned.save(photos / "bees" / "b2.jpg", exif=exif.tobytes())
    (photos / "ants" / "scan.tiff").write_bytes(b"II*\x00 not decodable by TensorFlow")
    result = run_cli(["inspect-data", photos])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert result.output.count("TensorFlow cannot decode") == 1  # warned as it is listed, not noted again
    assert ("1 image was left out: TensorFlow cannot decode its format (1 .tiff). Convert it to JPEG or PNG "
            "(e.g. `mogrify -format jpg *.tiff`) to use it.") in result.output
    assert "Images: 15 JPEG, 1 GIF; from 8x6 to 64x48 pixels (median 64x48)." in lines  # notes.jpg is none
    assert (f"Odd format: 1 image is not JPEG like the rest: {photos / 'ants' / 'notfound.gif'} (GIF). A placeholder "
            "or a wrong file? Check that each belongs to its class.") in lines
    assert any(l.startswith(f"Small: 1 image is under a quarter of the typical size: {photos / 'bees' / 'thumb.jpg'}"
                            " (8x6).") for l in lines)
    assert any(l.startswith(f"Unreadable: 2 files cannot be read as images (fit-head skips them): "
                            f"{photos / 'bees' / 'cut.jpg'}: a JPEG cut off before its end (an interrupted download "
                            f"or copy?); {photos / 'bees' / 'notes.jpg'}: ") for l in lines)
    assert any(l.startswith(f"Turned: 1 image is stored sideways, upside down or mirrored, with an EXIF tag that "
                            f"viewers obey and TensorFlow does not: {photos / 'bees' / 'b2.jpg'}. ") and
               "mogrify -auto-orient" in l for l in lines)
    copies = next(l for l in lines if l.startswith("Copies: "))
    assert copies.startswith("Copies: 2 images repeat the bytes of another")
    assert (f"; 1 group of copies carries several labels (e.g. {photos / 'ants' / 'a0.jpg'} = "
            f"{photos / 'bees' / 'b0-again.jpg'}: ants, bees), and no model gets every copy right") in copies
    found = json.loads(run_cli(["inspect-data", photos, "--json"]).stdout)["images"]  # the warning on stderr
    assert found["formats"] == {"JPEG": 15, "GIF": 1} and found["sizes"]["median"] == [64, 48]
    assert found["turned"] == [[str(photos / "bees" / "b2.jpg"), 6]]
    assert [c["labels"] for c in found["copies"]] == [["ants", "bees"], ["ants"]]
    # Text has no image findings; a mixed-format folder (half PNG) names none as odd.
    mixed = make_image_folder(tmp_path / "mixed")
    assert json.loads(run_cli(["inspect-data", mixed, "--json"]).output)["images"]["odd_format"] == []


def test_a_jpeg_cut_off_is_told_by_its_missing_end_not_by_an_embedded_thumbnails(tmp_path):
    from tfxfer.data.image_check import _truncated_jpeg

    thumbnail = b"\xff\xe1\x00\x10" + b"\xff\xd8thumb\xff\xd9"  # an EXIF thumbnail: a JPEG of its own, whole
    head = b"\xff\xd8" + thumbnail + b"\xff\xdb quant \xff\xda scan \x12\xff\x00\x34"
    cases = {"cut.jpg": (head, True), "whole.jpg": (head + b"\xff\xd9", False),
             "trailer.jpg": (head + b"\xff\xd9" + b"\x00" * 300, False)}  # data some cameras append
    for name, (data, cut) in cases.items():
        (tmp_path / name).write_bytes(data)
        assert _truncated_jpeg(str(tmp_path / name)) is cut, name


@needs_shared_data
def test_inspect_data_finds_hymenopteras_placeholder_gif():
    hymenoptera = SHARED_DATA / "images" / "hymenoptera_data"
    found = inspect_labeled([hymenoptera / "train", hymenoptera / "val"])
    assert found["images"]["odd_format"] == [[str(hymenoptera / "train" / "ants" / "imageNotFound.gif"), "GIF"]]
    assert found["images"]["copies"] == [] and found["images"]["unreadable"] == [] and found["images"]["turned"] == []


def test_images_too_large_to_decode_are_named_not_a_traceback(tmp_path):
    # Over twice Pillow's limit, its DecompressionBombError came out of inspect-data as a traceback.
    import io
    import struct

    from PIL import Image

    from tfxfer.data.image_check import check_image_files

    def encoded(fmt, **save):
        out = io.BytesIO()
        Image.new("RGB", (8, 8), (1, 2, 3)).save(out, fmt, **save)
        return out.getvalue()

    gif, jpeg, progressive = encoded("GIF"), encoded("JPEG"), encoded("JPEG", progressive=True)
    (tmp_path / "poster.gif").write_bytes(gif[:6] + struct.pack("<HH", 20000, 10000) + gif[10:])
    (tmp_path / "map.gif").write_bytes(gif[:6] + struct.pack("<HH", 10000, 10000) + gif[10:])
    sof = jpeg.index(b"\xff\xc0") + 5  # a 200-megapixel phone photo: TensorFlow decodes it at 1/8 scale
    (tmp_path / "phone.jpg").write_bytes(jpeg[:sof] + struct.pack(">HH", 13000, 15000) + jpeg[sof + 4:])
    (tmp_path / "small.jpg").write_bytes(jpeg)
    sof = progressive.index(b"\xff\xc2") + 5  # but a progressive JPEG decodes whole, as the others do
    for name, size in [("web.jpg", (13000, 15000)), ("scan.jpg", (10000, 9000))]:  # above 2x the limit, and not
        (tmp_path / name).write_bytes(progressive[:sof] + struct.pack(">HH", *size[::-1]) + progressive[sof + 4:])
    out = io.BytesIO()  # an animated WebP: TensorFlow cannot decode one without corrupting its memory
    frames = [Image.new("RGB", (8, 8), c) for c in ((1, 2, 3), (200, 0, 0))]
    frames[0].save(out, "WEBP", save_all=True, append_images=frames[1:], duration=50)
    (tmp_path / "sticker.webp").write_bytes(out.getvalue())
    names = ("poster.gif", "map.gif", "phone.jpg", "small.jpg", "web.jpg", "scan.jpg", "sticker.webp")
    found = check_image_files([str(tmp_path / n) for n in names], ["a", "a", "b", "b", "b", "b", "b"])
    limit = "tfxfer decodes at most 89,478,485 of a PNG, GIF, BMP, WebP or progressive JPEG): resize it first"
    assert found["unreadable"] == [
        [str(tmp_path / "poster.gif"), f"too large to decode (200,000,000 pixels; {limit}"],
        [str(tmp_path / "map.gif"), f"too large to decode (10000 x 10000 = 100,000,000 pixels; {limit}"],
        [str(tmp_path / "web.jpg"), f"too large to decode (13000 x 15000 = 195,000,000 pixels; {limit}"],
        [str(tmp_path / "scan.jpg"), f"too large to decode (10000 x 9000 = 90,000,000 pixels; {limit}"],
        [str(tmp_path / "sticker.webp"), "animated WebP, which TensorFlow cannot decode (its frames overrun its "
                                         "buffer); save a frame of it as PNG or JPEG first"]]
    assert found["formats"] == {"JPEG": 2} and found["sizes"]["largest"] == [15000, 13000]  # the phone's, kept
