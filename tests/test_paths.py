"""Where inputs and outputs are named: paths from the home folder in Python (`~/`), as a shell expands
them on the command line, and outputs given as URLs, refused rather than written to a local `gs:` folder."""

import shutil

import pytest

from tests.conftest import cli_error, run_cli
from tfxfer.errors import OutputError
from tfxfer.fitting import fit_head


def test_paths_from_the_home_folder_work_in_python_as_in_a_shell(text_module, labeled_tsv, topic_corpus, tmp_path,
                                                                 monkeypatch):
    # A shell expands "~/..." for the command line; in Python each function must, or it reads nothing
    # ("not found") and writes into a folder named "~" under the working folder.
    import tfxfer
    from tfxfer.features.embed import embed
    from tfxfer.suggest import suggest

    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    shutil.copy(labeled_tsv, home / "train.tsv")
    shutil.copy(topic_corpus, home / "corpus.txt")
    (home / "pool.txt").write_text("the horse and a cow\nthe van and a bus\nthe goat\n")
    (home / "module").symlink_to(text_module, target_is_directory=True)

    assert tfxfer.inspect_labeled("~/train.tsv")["classes"] == [["animals", 12], ["vehicles", 12]]
    assert tfxfer.WordVectors.load("~/module").most_similar("cow", topn=1)
    cfg = tfxfer.config.PretrainConfig(dim=8, epochs=1, min_count=1)
    assert tfxfer.pretrain_text(["~/corpus.txt"], "~/vectors", cfg).keyed_vectors.vector_size == 8
    fitted = fit_head("~/module", "~/train.tsv", unlabeled="~/pool.txt")
    assert fitted.export("~/export", name="m") == home / "export" / "m" / "1"
    assert tfxfer.ExportedModel("~/export").predict(["a cow"])[0][0] == "animals"
    assert len(suggest("~/export", "~/pool.txt", 2, out="~/to_label.csv").items) == 2
    embed("~/train.tsv", "~/module", "~/features.npz", projector="~/projector")
    assert (home / "vectors" / "module" / "saved_model.pb").is_file() and (home / "to_label.csv").is_file()
    assert (home / "features.npz").is_file() and (home / "projector" / "projector_config.pbtxt").is_file()
    assert list(work.iterdir()) == []


def test_an_output_given_as_a_url_is_refused_not_written_to_a_local_folder(text_module, labeled_tsv, tmp_path,
                                                                            monkeypatch):
    # As a path, gs://bucket/export is the local folder gs:/bucket/export: the outputs went there while the
    # commands said they wrote gs://.
    monkeypatch.chdir(tmp_path)
    fix = "is a URL: tfxfer writes local files and folders. Write to a local one, then copy it there"
    line = cli_error(["fit-head", "--features", text_module, "--train", labeled_tsv, "--out", "gs://bucket/export"])
    assert line.startswith("Error: Output 'gs://bucket/export/model' " + fix)
    run_cli(["fit-head", "--features", text_module, "--train", labeled_tsv, "--out", "export", "--lexical"])
    for args in (["evaluate", "export", "--data", labeled_tsv, "--plot", "gs://bucket/matrix.png"],
                 ["predict", "export", "a cow", "--out", "s3://bucket/predictions.csv"],
                 ["pretrain-text", labeled_tsv, "--out", "gs://bucket/vectors"]):
        assert fix in cli_error(args), args
    with pytest.raises(OutputError, match="Output 'gs://bucket/python/model' is a URL"):
        fit_head(text_module, labeled_tsv).export("gs://bucket/python")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export", labeled_tsv.name]
