"""Heads on image modules: the export's image-bytes and float signatures, pixel ranges, and the report's
contact sheets of mistakes and of images unlike every other; a few-shot head on hymenoptera."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import (
    SHARED_DATA,
    make_image_folder,
    run_cli,
    run_without_tfxfer,
    save_tiny_image_module,
)
from tfxfer.export.predict import ExportedModel
from tfxfer.export.warmup import read_warmup
from tfxfer.fitting import fit_head
from tfxfer.head.report import summary_text

# These tests check other things than the learning curve: one subsample per size (conftest).
pytestmark = pytest.mark.usefixtures("one_curve_draw")

HYMENOPTERA = SHARED_DATA / "images" / "hymenoptera_data"
EFFICIENTNET = SHARED_DATA / "models" / "efficientnet_lite0_feature_vector"


def test_image_fit_export_bytes_and_float_signatures(tiny_image_module, image_folder, tmp_path):
    fitted = fit_head(tiny_image_module, image_folder, image_size=16, cache_dir=tmp_path / "cache")
    assert fitted.report["cross_validation"]["accuracy_mean"] == 1.0
    path = fitted.export(tmp_path / "export", "colours")
    files = sorted(str(p) for p in image_folder.rglob("*.*"))
    expected = fitted.classifier.predict_proba(fitted.features(files).features)
    out = run_without_tfxfer(f"""
        m = tf.saved_model.load({str(path)!r})
        data = [open(f, "rb").read() for f in {files!r}]
        s = m.signatures["serving_default"](image_bytes=tf.constant(data))
        images = tf.stack([tf.image.resize(tf.image.convert_image_dtype(tf.io.decode_image(d, 3, expand_animations=False), tf.float32), (16, 16), antialias=True) for d in data])
        f = m.signatures["serving_images"](images=images)
        print(json.dumps({{"bytes": s["scores"].numpy().tolist(), "floats": f["scores"].numpy().tolist(),
                          "classes": [c.decode() for c in s["classes"].numpy()]}}))
    """)
    np.testing.assert_allclose(out["bytes"], expected, atol=1e-5)
    np.testing.assert_allclose(out["floats"], expected, atol=1e-5)
    (signature, inputs), _ = read_warmup(path)  # a grey JPEG of the model's size, which it decodes
    assert signature == "serving_default" and tf.io.decode_jpeg(inputs["image_bytes"][0]).shape == (16, 16, 3)
    assert out["classes"] == [Path(f).parent.name for f in files]
    model = ExportedModel(tmp_path / "export")
    assert model.kind == "image" and model.evaluate(image_folder)["accuracy"] == 1.0
    # Many inputs: read and scored a batch at a time, with progress; a batch of missing files is skipped whole.
    calls = []
    result = model.run([str(tmp_path / f"gone{i}.jpg") for i in range(64)] + files,
                       progress=lambda done, total: calls.append((done, total)))
    total = 64 + len(files)
    assert calls == [(min(done, total), total) for done in range(64, total + 64, 64)] and len(calls) >= 2
    assert len(result.skipped) == 64 and result.positions == list(range(64, total))
    np.testing.assert_allclose(result.scores, expected, atol=1e-5)
    # A PNG declaring 16,000 x 16,000 px is refused by the exported graph before it is decoded (7.6 GB).
    from tests.test_images import _declaring

    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_declaring(tf.io.encode_png(np.zeros((8, 8, 3), np.uint8)).numpy(), 16000, 16000))
    (item, reason), = model.run([str(bomb)] + files[:1]).skipped
    assert item == str(bomb) and reason.startswith("image too large to decode (more than 89,478,485 pixels")


def test_export_feeds_a_0_255_module_the_range_it_was_trained_with(image_folder, tmp_path):
    module = save_tiny_image_module(tmp_path / "wants255", wants_255=True)
    fitted = fit_head(module, image_folder, image_size=16, cache_dir=tmp_path / "cache")
    assert fitted.report["feature_module"]["input_range"] == (0.0, 255.0)
    assert "expects pixels in [0, 255]" in summary_text(fitted.report)
    assert f"Features: {module} (11-d image features of 16x16 images, pixels in [0, 255])" in summary_text(fitted.report)
    path = fitted.export(tmp_path / "export", "colours")
    files = sorted(str(p) for p in image_folder.rglob("*.*"))
    expected = fitted.classifier.predict_proba(fitted.features(files).features)
    out = run_without_tfxfer(f"""
        m = tf.saved_model.load({str(path)!r})
        s = m.signatures["serving_default"](image_bytes=tf.constant([open(f, "rb").read() for f in {files!r}]))
        print(json.dumps(s["scores"].numpy().tolist()))
    """)
    np.testing.assert_allclose(out, expected, atol=1e-5)
    assert fitted.report["cross_validation"]["accuracy_mean"] == 1.0
    embed = ["embed", image_folder, "-f", module, "--image-size", 16, "--no-cache", "-o", tmp_path / "f.npz"]
    result = run_cli(embed)
    assert result.exit_code == 0 and "Note: the module's features barely differ" in result.output  # as fit-head's
    result = run_cli([*embed, "--input-range", "0,1", "--overwrite"])
    assert result.exit_code == 0 and "barely differ" not in result.output


def test_image_reports_show_the_most_confident_mistakes(tiny_image_module, image_folder, tmp_path):
    import tensorflow as tf

    shutil.copy(image_folder / "red" / "red0.jpg", image_folder / "green" / "mislabeled.jpg")  # a labeling error
    fitted = fit_head(tiny_image_module, image_folder, image_size=16, cache_dir=tmp_path / "cache")
    wrong = fitted.report["misclassified"]
    assert wrong[0]["item"].endswith("mislabeled.jpg") and (wrong[0]["true"], wrong[0]["predicted"]) == ("green", "red")
    path = fitted.export(tmp_path / "export")
    sheet = tf.io.decode_png((path.parent / "reports" / path.name / "mistakes.png").read_bytes()).numpy()
    assert sheet.shape[0] > 150 and ((sheet[..., 0] > 200) & (sheet[..., 1] < 60)).sum() > 1000  # the red photo
    # evaluate draws its own beside the confusion matrix, in a folder it creates.
    result = run_cli(["evaluate", tmp_path / "export", "--data", image_folder, "--plot", tmp_path / "plots" / "cm.png"])
    assert result.exit_code == 0 and f"the most confident mistakes in {tmp_path / 'plots' / 'mistakes.png'}" in \
        result.output, result.output
    assert (tmp_path / "plots" / "mistakes.png").stat().st_size > 1000
    # Drawn again over its own plots; never over a file of the user's that stands where the sheet goes.
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "mistakes.png").write_bytes((image_folder / "red" / "red0.jpg").read_bytes())
    for folder, code in (("plots", 0), ("photos", 1)):
        result = run_cli(["evaluate", tmp_path / "export", "--data", image_folder, "--plot", tmp_path / folder / "cm.png"])
        assert result.exit_code == code, result.output
    assert "mistakes.png' exists and is not a plot tfxfer drew: the mistakes are drawn beside --plot" in result.output
    assert (tmp_path / "photos" / "mistakes.png").read_bytes() == (image_folder / "red" / "red0.jpg").read_bytes()


def test_image_reports_show_images_unlike_every_other(tiny_image_module, tmp_path):
    import tensorflow as tf

    folder = make_image_folder(tmp_path / "images", per_class=8)
    # A grey-on-white placeholder among the red photos, as hymenoptera's "image not found" GIF among its ants.
    pixels = np.full((64, 64, 3), 245, np.uint8)
    pixels[24:30, 8:56], pixels[36:40, 14:50] = 60, 90
    (folder / "red" / "imageNotFound.png").write_bytes(tf.io.encode_png(pixels).numpy())
    fitted = fit_head(tiny_image_module, folder, image_size=16, cache_dir=tmp_path / "cache")
    # Only the placeholder: the re-encoded GIF and BMP copies of the colours are no less alike than the rest.
    assert [(u["item"], u["label"]) for u in fitted.report["data"]["unusual_images"]] == \
        [(str(folder / "red" / "imageNotFound.png"), "red")]
    path = fitted.export(tmp_path / "export")
    reports = path.parent / "reports" / path.name
    assert "1 of 27 training images is unlike every other" in (reports / "report.txt").read_text()
    assert '<img src="unusual.png"' in (reports / "report.html").read_text()
    sheet = tf.io.decode_png((reports / "unusual.png").read_bytes()).numpy()
    assert ((sheet[..., :3].min(-1) > 230) & (sheet[..., :3].max(-1) < 250)).sum() > 5000  # the placeholder's white
    # embed warns of it too, for users who train their own models on the vectors.
    result = run_cli(["embed", folder, "-f", tiny_image_module, "--image-size", "16", "-o", tmp_path / "f.npz",
                      "--cache-dir", tmp_path / "cache"])
    assert result.exit_code == 0 and "Warning: 1 of 27 images is unlike every other: " \
        f"{folder / 'red' / 'imageNotFound.png'} (labeled red, nearest " in result.output, result.output


@pytest.mark.skipif(not (HYMENOPTERA.is_dir() and EFFICIENTNET.is_dir()), reason="../shared/data is not present")
def test_hymenoptera_few_shot_head(shared_feature_cache):
    fitted = fit_head(EFFICIENTNET, HYMENOPTERA / "train", validation=HYMENOPTERA / "val",
                      cache_dir=shared_feature_cache)
    assert fitted.report["validation"]["accuracy"] >= 0.9
    assert fitted.report["class_counts"] == {"ants": 124, "bees": 121}
    # The folder's junk, a GIF that reads "image not found", is trained on as an ant: the report names it.
    (unusual,) = fitted.report["data"]["unusual_images"]
    assert unusual["item"].endswith("ants/imageNotFound.gif") and unusual["label"] == "ants"
    assert any(note.startswith("1 of 245 training images is unlike every other: ") and "imageNotFound.gif" in note
               for note in fitted.report["data"]["notes"])
