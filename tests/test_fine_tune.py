"""Fine-tuning the feature module with the head (`fit_head(..., fine_tune=True)`)."""

import pytest
import numpy as np

from tests.conftest import TOPIC_WORDS, labeled_topic_rows
from tfxfer.fitting import fit_head

# These tests check other things than the learning curve: one subsample per size (conftest).
pytestmark = pytest.mark.usefixtures("one_curve_draw")


def test_fine_tune_updates_the_word_vectors(text_module, labeled_tsv, tmp_path):
    import tensorflow as tf

    calls = []
    fitted = fit_head(text_module, labeled_tsv, head="linear", fine_tune=True,
                      progress=lambda stage, done, total: calls.append((stage, done, total)))
    assert fitted.report["fine_tune_steps"] > 0
    # A stage of its own, as long as the others can be on an image module.
    assert [c for c in calls if c[0] == "fine-tuning"][-1] == ("fine-tuning", *[fitted.report["fine_tune_steps"]] * 2)
    # Said, with what its figures are of: before, the report read as if nothing had been tuned.
    from tfxfer.head.report import summary_text

    assert (f"Fine-tuned: the module and the head trained together for {fitted.report['fine_tune_steps']} steps after "
            "cross-validation. The cross-validated figures below are of the head before it;") in summary_text(
                fitted.report)
    before = tf.saved_model.load(str(text_module)).trainable_variables[0].numpy()
    after = fitted.module.trainable_variables[0].numpy()
    assert not np.allclose(before, after)
    path = fitted.export(tmp_path / "e")
    exported = tf.saved_model.load(str(path))
    texts = ["the cow", "the van"]
    np.testing.assert_allclose(
        exported.signatures["serving_default"](text=tf.constant(texts))["scores"].numpy(),
        fitted.classifier.predict_proba(fitted.features(texts).features), atol=1e-5,
    )


def test_fine_tuning_weighs_classes_as_the_head_does(text_module, tmp_path, monkeypatch):
    # 24 to 2: trained long and fast enough to matter, an unweighted loss gives the rare class up.
    from tfxfer import config

    monkeypatch.setattr(config, "FINE_TUNE_LEARNING_RATE", 0.05)
    monkeypatch.setattr(config, "FINE_TUNE_EPOCHS", 30)
    rows = labeled_topic_rows(per_class=24)
    rows = [r for r in rows if r[1] == "animals"] + [("the bus and a van", "vehicles"), ("the tram", "vehicles")]
    path = tmp_path / "train.tsv"
    path.write_text("text\tlabel\n" + "".join(f"{t}\t{l}\n" for t, l in rows))
    fitted = fit_head(text_module, path, head="linear", fine_tune=True)
    vehicles = [f"the {v}" for v in TOPIC_WORDS["vehicles"]]
    assert [label for label, _ in fitted.predict(vehicles)] == ["vehicles"] * len(vehicles)


def test_fine_tuned_image_features_do_not_come_from_the_cache(tiny_image_module, image_folder, tmp_path):
    from tfxfer.features.extract import extract_image_features

    cache = tmp_path / "cache"
    paths = [str(p) for p in sorted(image_folder.rglob("*.*"))]
    fitted = fit_head(tiny_image_module, image_folder, image_size=16, cache_dir=cache, head="linear")
    before = fitted.features(paths).features
    tuned = fit_head(tiny_image_module, image_folder, image_size=16, cache_dir=cache, head="linear", fine_tune=True)
    fresh = extract_image_features(tuned.module, paths, use_cache=False).features
    assert not np.allclose(before, fresh, atol=1e-6)  # tuning moved the features ...
    np.testing.assert_allclose(tuned.features(paths).features, fresh, atol=1e-6)  # ... and the cache knows it
    # `suggest` clusters what the tuned module makes of the training examples (rows in any order).
    np.testing.assert_allclose(np.sort(tuned.training_features, 0), np.sort(fresh, 0), atol=1e-6)
