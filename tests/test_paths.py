"""Where inputs and outputs are named: paths from the home folder in Python (`~/`), as a shell expands
them on the command line; outputs given as URLs, refused rather than written to a local `gs:` folder; and
outputs that would replace what is not an earlier output (an unset `$OUT`, a folder of the user's files)."""

import shutil

import pytest

from tests.conftest import cli_error, run_cli
from tfxfer.errors import OutputError
from tfxfer.fitting import fit_head

# These tests check other things than the learning curve: one subsample per size (conftest).
pytestmark = pytest.mark.usefixtures("one_curve_draw")


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
    assert line.startswith("Error: Output 'gs://bucket/export' " + fix)
    run_cli(["fit-head", "--features", text_module, "--train", labeled_tsv, "--out", "export", "--lexical"])
    for args in (["evaluate", "export", "--data", labeled_tsv, "--plot", "gs://bucket/matrix.png"],
                 ["predict", "export", "a cow", "--out", "s3://bucket/predictions.csv"],
                 ["pretrain-text", labeled_tsv, "--out", "gs://bucket/vectors"]):
        assert fix in cli_error(args), args
    with pytest.raises(OutputError, match="Output 'gs://bucket/python' is a URL"):
        fit_head(text_module, labeled_tsv).export("gs://bucket/python")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export", labeled_tsv.name]


def test_overwrite_replaces_earlier_outputs_only(text_module, labeled_tsv, topic_corpus, tmp_path, monkeypatch):
    # --overwrite replaces an output folder whole: given a folder of the user's own files (`--out ~/projects`)
    # it deleted them, and an unset $OUT ('') wrote into, or tried to replace, the current folder.
    import tfxfer
    from tfxfer.features.embed import embed

    cfg = tfxfer.config.PretrainConfig(dim=8, epochs=1, min_count=1)
    mine = tmp_path / "projects"
    (mine / "code").mkdir(parents=True)
    (mine / "thesis.tex").write_text("four years")
    with pytest.raises(OutputError, match=r"Output '.*projects' holds files tfxfer did not write \('code', "
                                          r"'thesis.tex'\), and --overwrite .* replaces the folder whole"):
        tfxfer.pretrain_text(topic_corpus, mine, cfg, overwrite=True)
    with pytest.raises(OutputError, match="holds files tfxfer did not write"):
        embed(labeled_tsv, text_module, tmp_path / "f.npz", projector=mine, overwrite=True)
    assert (mine / "thesis.tex").read_text() == "four years" and (mine / "code").is_dir()
    # An earlier output, or an empty folder, is replaced as before.
    tfxfer.pretrain_text(topic_corpus, tmp_path / "vectors", cfg)
    (tmp_path / "empty").mkdir()
    for out in (tmp_path / "vectors", tmp_path / "empty"):
        assert tfxfer.pretrain_text(topic_corpus, out, cfg, overwrite=True).vectors.shape[1] == 8
    embed(labeled_tsv, text_module, tmp_path / "f.npz", projector=tmp_path / "vectors" / "projector", overwrite=True)
    # The current folder (or one above it) and the home folder are never replaced.
    monkeypatch.chdir(tmp_path / "vectors")
    for out, where in ((".", "the current folder"), (tmp_path, "a folder above the current one")):
        with pytest.raises(OutputError, match=f"is {where}: --overwrite"):
            tfxfer.pretrain_text(topic_corpus, out, cfg, overwrite=True)
    monkeypatch.setenv("HOME", str(tmp_path / "empty"))
    with pytest.raises(OutputError, match="is the home folder: --overwrite"):
        tfxfer.pretrain_text(topic_corpus, "~", cfg, overwrite=True)
    # An empty name, as an unset shell variable gives, is no output at all.
    assert cli_error(["pretrain-text", topic_corpus, "--out", ""]) == \
        "Error: --out (out=) is empty. Received: out=''. Name the output (a shell variable that is not set gives '')."
    assert "Error: --out (export_dir=) is empty." in cli_error(["fit-head", "-f", text_module, "-t", labeled_tsv,
                                                               "-o", ""])
    with pytest.raises(OutputError, match=r"--out \(export_dir=\) is empty"):
        fit_head(text_module, labeled_tsv).export("")
    assert not (tmp_path / "vectors" / "model").exists()


def test_a_readme_or_models_config_of_the_users_is_left_as_it_is(text_module, labeled_tsv, tmp_path, caplog):
    # `--out ~/myproject` rewrote the project's README.md, and a models.config of the user's (other models,
    # version policies) with tfxfer's: both are left as they are, tfxfer's written beside them.
    project = tmp_path / "project"
    project.mkdir()
    (project / "README.md").write_text("# My project\n")
    policy = ("model_config_list {\n  config {\n    name: 'other'\n    base_path: '/models/other'\n"
              "    model_platform: 'tensorflow'\n    model_version_policy { all {} }\n  }\n}\n")
    (project / "models.config").write_text(policy)
    fitted = fit_head(text_module, labeled_tsv)
    fitted.export(project, name="topics")
    assert (project / "README.md").read_text() == "# My project\n" and (project / "models.config").read_text() == policy
    assert fitted.serving_readme == project / "README.tfxfer.md"
    assert "`topics`" in fitted.serving_readme.read_text() and "name: 'topics'" in (
        project / "tfxfer.models.config").read_text()
    # Its docker commands name the config that lists the model: the user's does not.
    readme = " ".join(fitted.serving_readme.read_text().split())
    assert "--model_config_file=/models/tfxfer.models.config" in readme and "/models/models.config" not in readme
    assert ("`models.config` here is not tfxfer's and does not list `topics`: the commands below give TF Serving "
            "`tfxfer.models.config`, which lists every model here. Add `topics` to your `models.config`") in readme
    assert f"{project / 'README.md'} was not written by tfxfer: left as it is; the export's is " \
           f"{project / 'README.tfxfer.md'}." in caplog.text
    # `tfxfer serve` serves what either config lists (TF Serving, what the one it is given lists).
    from tfxfer.serve.models import Registry

    registry = Registry(project)
    try:
        assert {version.name for version in registry.scan()} == {"topics"}  # 'other' is not on disk
    finally:
        registry.executor.shutdown()
    # Its own files it rewrites with each version, listing every model.
    fresh = tmp_path / "export"
    fitted.export(fresh, name="a")
    fitted.export(fresh, name="b")
    assert fitted.serving_readme == fresh / "README.md" and "`a`, `b`" in (fresh / "README.md").read_text()
    assert "name: 'a'" in (fresh / "models.config").read_text() and not (fresh / "README.tfxfer.md").exists()
    result = run_cli(["fit-head", "-f", text_module, "-t", labeled_tsv, "-o", project, "--name", "topics"])
    assert f"serve with {project / 'README.tfxfer.md'})." in result.output, result.output
