"""Data held in Python, as notebooks hold it: (items, labels) pairs, pandas DataFrames and Series,
TensorFlow's tf.data datasets (Keras's text_dataset_from_directory) and Hugging Face datasets; read as
files are, each input in its place."""

import numpy as np
import pytest

from tests.conftest import labeled_topic_rows
from tfxfer.errors import DataError
from tfxfer.fitting import fit_head

# These tests check other things than the learning curve: one subsample per size (conftest).
pytestmark = pytest.mark.usefixtures("one_curve_draw")


def test_python_api_takes_data_in_memory(text_module, tmp_path):
    pd = pytest.importorskip("pandas")
    rows = labeled_topic_rows()
    texts, labels = [t for t, _ in rows], [l for _, l in rows]
    fitted = fit_head(text_module, (texts, labels), head="linear", unlabeled=["a cat near the horse", "a van"])
    assert fitted.report["data"]["source"] == "(items, labels)" and fitted.report["cross_validation"]["accuracy_mean"] == 1.0
    assert fitted.report["unlabeled"]["source"] == "the list given"
    frame = pd.DataFrame({"id": range(len(rows)), "Copy": texts, "Group": labels})
    frame.loc[3, "Copy"] = None  # as pandas reads an empty cell (or the text "None")
    with pytest.raises(DataError, match=r"1 of 24 rows of 'DataFrame' cannot be used: row 3: empty item"):
        fit_head(text_module, frame, columns=("Copy", "Group"))
    fitted = fit_head(text_module, frame, columns=("copy", "group"), skip_bad_rows=True, head="linear")
    assert fitted.report["data"]["examples"] == 23
    assert fitted.evaluate(frame.dropna(), columns=("Copy", "Group"))["accuracy"] == 1.0
    picks = fitted.suggest(pd.Series(["the goat and a tram", "the bus", ""]), 2)
    assert picks.pool == 2 and set(picks.items) <= {"the goat and a tram", "the bus"}
    with pytest.raises(DataError, match=r"24 items and 23 labels; pass one label per item"):
        fit_head(text_module, (texts, labels[:-1]))
    # One text is one input, not its characters (a list of 12 answers); any iterable, each in its place.
    from tfxfer.export.predict import ExportedModel

    for model in (fitted, ExportedModel(fitted.export(tmp_path / "export"))):
        expected = model.predict(["the cow and a bus", "the van"])
        assert model.predict("the cow and a bus") == expected[:1]
        pair = ("the cow and a bus", "the van")
        assert model.predict(t for t in pair) == model.predict(pd.Series(pair)) == expected
        assert model.predict([]) == []
        with pytest.raises(DataError, match=r"^Input 1 is None \(NoneType\), not a text or image path"):
            model.predict(["the cow", None])
        with pytest.raises(DataError, match=r"not a DataFrame: pass its column \(df\[NAME\]\)"):
            model.predict(frame)


def test_python_api_takes_a_tf_data_dataset(text_module, image_folder, tmp_path):
    # The input pipeline a TensorFlow user already has: a TypeError ("expected str, bytes or os.PathLike").
    import keras
    import tensorflow as tf

    rows = labeled_topic_rows()
    texts, labels = [t for t, _ in rows], [l for _, l in rows]
    pairs = tf.data.Dataset.from_tensor_slices((texts, labels))
    fitted = fit_head(text_module, pairs, head="linear", unlabeled=tf.data.Dataset.from_tensor_slices(
        ["a cat near the horse", "a van and a car"]).batch(2))
    assert fitted.report["data"]["source"] == "tf.data.Dataset" and fitted.labels == ["animals", "vehicles"]
    assert fitted.report["cross_validation"]["accuracy_mean"] == 1.0
    assert fitted.report["unlabeled"]["source"] == "the tf.data.Dataset given"
    # Keras's text_dataset_from_directory: batched, integer labels named by its class_names; or one-hot.
    for n, (text, label) in enumerate(rows):
        (tmp_path / "texts" / label).mkdir(parents=True, exist_ok=True)
        (tmp_path / "texts" / label / f"{n}.txt").write_text(text)
    for mode in ("int", "categorical"):
        batched = keras.utils.text_dataset_from_directory(tmp_path / "texts", batch_size=5, label_mode=mode,
                                                          seed=0, verbose=False)
        assert fit_head(text_module, batched, head="linear").labels == ["animals", "vehicles"]
    records = tf.data.Dataset.from_tensor_slices({"id": list(range(24)), "text": texts, "label": labels}).batch(7)
    assert sorted(fit_head(text_module, records, head="linear").report["class_counts"]) == ["animals", "vehicles"]
    assert fitted.predict(tf.data.Dataset.from_tensor_slices(["the cow and a goat"])) == \
        fitted.predict(["the cow and a goat"])
    with pytest.raises(DataError, match=r"yields inputs without labels, where labeled data goes"):
        fit_head(text_module, tf.data.Dataset.from_tensor_slices(texts))
    # Decoded images: tfxfer decodes files itself, as its export does; the fix names the folder.
    photos = keras.utils.image_dataset_from_directory(image_folder, image_size=(16, 16), verbose=False)
    with pytest.raises(DataError, match=r"yields decoded images; .* Pass the folder the dataset was made from"):
        fit_head(text_module, photos)


def test_python_api_takes_a_hugging_face_dataset(text_module):
    # load_dataset("imdb")["train"] and the like: a TypeError; their ClassLabel labels are stored as 0, 1, ...
    datasets = pytest.importorskip("datasets")

    rows = labeled_topic_rows()
    names = ["animals", "vehicles"]
    features = datasets.Features({"sentence": datasets.Value("string"), "label": datasets.ClassLabel(names=names)})
    split = datasets.Dataset.from_dict({"sentence": [t for t, _ in rows], "label": [names.index(l) for _, l in rows]},
                                       features=features)
    more = datasets.Dataset.from_dict({"text": ["a cat near the horse", "a van and a car"]})
    fitted = fit_head(text_module, split, head="linear", unlabeled=more)
    assert fitted.report["data"]["source"] == "Hugging Face Dataset" and fitted.labels == names
    assert fitted.report["unlabeled"]["source"] == "the Hugging Face Dataset given"
    assert fitted.report["cross_validation"]["accuracy_mean"] == 1.0
    assert fitted.predict(split.select([0])) == fitted.predict([rows[0][0]])
    assert fitted.evaluate(split)["accuracy"] == 1.0
    with pytest.raises(DataError, match=r"DatasetDict holds the splits 'train', 'test': pass one, e.g. ds\['train'\]"):
        fit_head(text_module, datasets.DatasetDict({"train": split, "test": split}))
    photos = datasets.Dataset.from_dict({"image": [np.zeros((4, 4, 3), np.uint8)] * 2, "label": [0, 1]},
                                        features=datasets.Features({"image": datasets.Image(),
                                                                    "label": datasets.ClassLabel(names=names)}))
    with pytest.raises(DataError, match=r"'image' column holds images, .* ds.to_parquet\('train.parquet'\)"):
        fit_head(text_module, photos)


def test_embed_takes_data_in_memory(text_module, tmp_path):
    # embed(texts, ...) in a notebook was a TypeError ("expected str, bytes or os.PathLike, not list").
    pd = pytest.importorskip("pandas")
    import tensorflow as tf

    from tfxfer.features.embed import embed
    from tfxfer.features.load import load_features

    texts = ["the cow and a goat", "the bus and a van"]
    expected = load_features(text_module)(tf.constant(texts)).numpy()
    listed = embed(texts, text_module, tmp_path / "list.npz")
    np.testing.assert_allclose(np.load(tmp_path / "list.npz")["features"], expected, atol=1e-6)
    assert listed.labels is None and list(np.load(tmp_path / "list.npz")["items"]) == texts
    frame = pd.DataFrame({"text": texts, "label": ["animals", "vehicles"]})
    framed = embed(frame, text_module, tmp_path / "frame.npz", projector=tmp_path / "projector")
    assert framed.labels == ["animals", "vehicles"] and (tmp_path / "projector" / "metadata.tsv").is_file()
    dataset = embed(tf.data.Dataset.from_tensor_slices(texts).batch(1), text_module, tmp_path / "ds.npz")
    np.testing.assert_allclose(dataset.features, expected, atol=1e-6)
    with pytest.raises(DataError, match="No inputs"):
        embed([], text_module, tmp_path / "none.npz")
