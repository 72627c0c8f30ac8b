"""Versions of an export: numbering, labels, serving files, and comparing a new version with the
previous one or with other exports."""

import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import TOPIC_WORDS, cli_error, labeled_topic_rows, run_cli
from tfxfer.errors import DataError, OutputExistsError
from tfxfer.export.predict import ExportedModel
from tfxfer.fitting import fit_head

# These tests check other things than the learning curve: one subsample per size (conftest).
pytestmark = pytest.mark.usefixtures("one_curve_draw")


def test_versions_labels_and_serving_files(text_module, labeled_tsv, tmp_path):
    fitted = fit_head(text_module, labeled_tsv, head="linear")
    export = tmp_path / "export"
    assert fitted.export(export, "m").name == "1"
    assert fitted.export(export, "m").name == "2"
    with pytest.raises(OutputExistsError, match="Version 2 of 'm' already exists"):
        fitted.export(export, "m", version=2)
    assert fitted.export(export, "m", version=2, overwrite=True).name == "2"
    other = tmp_path / "other.tsv"
    other.write_text("text\tlabel\nthe cat\tpets\nthe dog\tpets\nthe van\tcars\nthe bus\tcars\n")
    with pytest.raises(DataError, match="disagree with version 2 of 'm'"):
        fit_head(text_module, other, head="linear").export(export, "m")
    config = (export / "models.config").read_text()
    assert "name: 'm'" in config and "base_path: '/models/m'" in config
    readme = (export / "README.md").read_text()
    assert "docker run" in readme and "tensorflow/serving:latest-gpu" in readme and "v1/models/m:predict" in readme
    assert "`probabilities`, as `scores` but corrected" in readme
    assert not [p for p in (export / "m").iterdir() if p.name.startswith(".")]  # no temporary leftovers
    # The README's Python snippet runs as written, in the export folder, with TensorFlow alone.
    snippet = readme.split("```python\n")[1].split("```")[0]
    assert 'tf.saved_model.load("m/2")' in snippet
    run = subprocess.run([sys.executable, "-c", "import sys\nsys.modules['tfxfer'] = None\n" + snippet],
                         capture_output=True, text=True, cwd=export, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.startswith("[b'") and any(f"b'{label}'" in run.stdout for label in TOPIC_WORDS)


def test_exports_compared_on_the_same_examples(text_module, labeled_tsv, tiny_image_module, image_folder, tmp_path,
                                               monkeypatch):
    monkeypatch.chdir(tmp_path)  # evaluate draws confusion_matrix.png where it runs
    good = fit_head(text_module, labeled_tsv, head="linear").export(tmp_path / "good", "m")
    flipped = tmp_path / "flipped.tsv"  # every label the other one's: wrong wherever the good model is right
    flipped.write_text(labeled_tsv.read_text().replace("animals", "@").replace("vehicles", "animals").replace("@", "vehicles"))
    bad = fit_head(text_module, flipped, head="linear").export(tmp_path / "bad", "m")
    result = run_cli(["evaluate", good, bad, good, "--data", labeled_tsv, "--json"])
    assert result.exit_code == 0, result.output
    worse, same = json.loads(result.stdout)["comparisons"]
    assert (worse["difference"], worse["only_model_right"], worse["only_baseline_right"]) == (-1.0, 0, 24)
    assert worse["verdict"] == "worse" and worse["p_value"] < 1e-6
    assert (same["difference"], same["verdict"], same["p_value"]) == (0.0, "no clear difference", 1.0)
    text = run_cli(["evaluate", good, bad, "--data", labeled_tsv]).output
    assert re.search(r"Compared on 24 examples of .*\n.*accuracy +95% interval", text)
    assert "-100.0 points (95% interval -100.0 to -100.0) on 24 examples; right where the other is wrong on 0, " \
           "the reverse on 24 (McNemar p = 1.2e-07): worse." in text
    # Imbalanced data: balanced accuracy beside accuracy, and its paired difference.
    rows = labeled_tsv.read_text().splitlines()
    skewed = tmp_path / "skewed.tsv"
    skewed.write_text("\n".join([rows[0], *[r for r in rows[1:] if r.endswith("animals")],
                                 *[r for r in rows[1:] if r.endswith("vehicles")][:3]]) + "\n")
    result = run_cli(["evaluate", good, bad, "--data", skewed, "--json"])
    (worse,) = json.loads(result.stdout)["comparisons"]
    assert worse["balanced_difference"] == -1.0 and worse["balanced_interval"] == [-1.0, -1.0]
    text = run_cli(["evaluate", good, bad, "--data", skewed]).output
    assert re.search(r"accuracy +95% interval +macro F1 +balanced +ECE\n.*1\.000 +0\.\d{3} - 1\.000 +1\.000 +1\.000", text)
    assert "Balanced accuracy (the classes are imbalanced): -100.0 points (95% interval -100.0 to -100.0)." in text
    images = fit_head(tiny_image_module, image_folder, image_size=16, cache_dir=tmp_path / "c").export(tmp_path / "i")
    assert "take different inputs" in cli_error(["evaluate", good, images, "--data", labeled_tsv])


def test_new_version_is_compared_with_the_previous_one(text_module, labeled_tsv, tmp_path):
    from tfxfer.text.module import save_text_module

    out = tmp_path / "export"
    assert run_cli(["fit-head", "-f", text_module, "-t", labeled_tsv, "-o", out, "--head", "linear"]).exit_code == 0
    more = tmp_path / "more.tsv"
    more.write_text("text\tlabel\n" + "".join(f"a {t}\t{l}\n" for t, l in labeled_topic_rows(per_class=10, seed=7)))
    # A feature module that knows nothing (and no n-grams, which would learn the words): the new version
    # is worse, and --require-improvement refuses it.
    words = ["the", "a", *[w for ws in TOPIC_WORDS.values() for w in ws]]
    save_text_module(words, np.random.default_rng(0).normal(size=(len(words), 8)).astype("float32"), tmp_path / "noise")
    line = cli_error(["fit-head", "-f", tmp_path / "noise", "-t", labeled_tsv, "-t", more, "-o", out, "--head", "linear",
                      "--no-lexical", "--require-improvement"])
    assert "The new version is WORSE: accuracy" in line and "against 1.000 for version 1" in line
    assert "on 20 examples version 1 was not trained on" in line and "Not exported (--require-improvement)" in line
    assert sorted(p.name for p in (out / "model").iterdir()) == ["1", "reports"]
    result = run_cli(["fit-head", "-f", text_module, "-t", labeled_tsv, "-t", more, "-o", out, "--head", "linear"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "model" / "reports" / "2" / "report.json").read_text())
    comparison = report["previous_version"]
    assert comparison["previous_version"] == 1 and comparison["examples"] == 20  # only the new labels count
    assert comparison["verdict"] == "no clear change" and "not clearly better" in result.output
    # Nothing new (another module or head on the same labels): compared by both versions' cross-validation
    # on the examples both were fitted on; before, "not compared", and a worse module went out unchecked.
    line = cli_error(["fit-head", "-f", tmp_path / "noise", "-t", more, "-o", out, "--head", "linear", "--no-lexical",
                      "--require-improvement"])
    assert re.search(r"The new version is WORSE: cross-validated accuracy 0\.\d{3} against 1\.000 for version 2 "
                     r"\(difference -0\.\d{3} ± 0\.\d{3}\), log loss \d\.\d{3} against 0\.\d{3}, on the 20 examples "
                     r"both were fitted on\. Not exported \(--require-improvement\)\.", line), line
    result = run_cli(["fit-head", "-f", text_module, "-t", more, "-o", out, "--head", "linear"])
    comparison = json.loads((out / "model" / "reports" / "3" / "report.json").read_text())["previous_version"]
    assert (comparison["basis"], comparison["examples"], comparison["verdict"]) == ("cross_validation", 20,
                                                                                     "no clear change"), comparison
    assert comparison["accuracy"]["previous"][0] == 1.0 and "on the 20 examples both were fitted on" in result.output
    # A version whose report kept no out-of-fold results (tfxfer before stop 64) cannot be compared so.
    report = out / "model" / "reports" / "3" / "report.json"
    report.write_text(json.dumps({k: v for k, v in json.loads(report.read_text()).items() if k != "out_of_fold"}))
    result = run_cli(["fit-head", "-f", text_module, "-t", more, "-o", out, "--head", "linear", "--version", "9"])
    assert "Not compared with version 3: it was trained on all of these examples" in result.output
    shutil.rmtree(out / "model" / "9")
    shutil.rmtree(out / "model" / "reports" / "9")
    # Version 3's report lost (copied back from a serving machine without it): its training examples
    # would flatter it, so figures but no verdict, and --require-improvement does not refuse on them.
    shutil.rmtree(out / "model" / "reports" / "3")
    result = run_cli(["fit-head", "-f", tmp_path / "noise", "-t", more, "-o", out, "--head", "linear",
                      "--no-lexical", "--require-improvement"])
    assert result.exit_code == 0, result.output
    assert "--require-improvement: no verdict against version 3 (the report says why), so the new version is " \
           "exported unchecked." in result.output
    assert "Compared with version 3, without a verdict: accuracy" in result.output and "1.000 for version 3" in result.output
    assert "which it may have been trained on (its report, " in result.output
    assert json.loads((out / "model" / "reports" / "4" / "report.json").read_text())["previous_version"]["verdict"] is None


def test_new_classes_join_after_the_existing_score_columns(text_module, labeled_tsv, tmp_path):
    export = tmp_path / "export"
    fit_head(text_module, labeled_tsv, head="linear", export_dir=export, name="m")
    grown = tmp_path / "grown.tsv"
    pairs = [(f"the {a} and the {v}", "both") for a, v in zip(TOPIC_WORDS["animals"], TOPIC_WORDS["vehicles"])]
    grown.write_text("text\tlabel\n" + "".join(f"{t}\t{l}\n" for t, l in labeled_topic_rows() + pairs * 4))
    with pytest.raises(DataError, match="new: both.*pass --allow-new-classes"):
        fit_head(text_module, grown, head="linear", export_dir=export, name="m")
    fitted = fit_head(text_module, grown, head="linear", export_dir=export, name="m", allow_new_classes=True)
    path = export / "m" / "2"
    assert (path / "assets" / "labels.txt").read_text().split() == ["animals", "vehicles", "both"]
    texts = ["the cow and a goat", "the bus", "the sheep and the van"]
    expected = fitted.classifier.predict_proba(fitted.features(texts).features)[:, [0, 2, 1]]  # sorted -> export
    model = ExportedModel(path)
    np.testing.assert_allclose(model.scores(texts), expected, atol=1e-5)
    # 12, 12 and 24 examples: probabilities differ from the scores, their columns in the same order.
    probabilities = fitted.classifier.probabilities(fitted.features(texts).features)[:, [0, 2, 1]]
    assert np.abs(probabilities - expected).max() > 0.01
    np.testing.assert_allclose(model.run(texts).probabilities, probabilities, atol=1e-5)
    assert [label for label, _ in model.predict(texts)][:2] == ["animals", "vehicles"]
    # `predict` gives each answer (the top score's class) with its probability.
    result = run_cli(["predict", path, *texts, "--json"])
    answers = expected.argmax(1)
    assert [(row["label"], row["probability"]) for row in json.loads(result.output)] == \
        [(["animals", "vehicles", "both"][a], round(float(p[a]), 4)) for a, p in zip(answers, probabilities)]
    result = run_cli(["evaluate", path, "--data", grown, "--plot", tmp_path / "cm.png"])
    assert "Probabilities (corrected for the training labels' class frequencies): expected calibration error 0." \
        in result.output
    assert fitted.report["previous_version"]["previous_version"] == 1  # compared, though version 1 lacks 'both'
    with pytest.raises(DataError, match="missing: both"):  # dropping a class stays refused
        fit_head(text_module, labeled_tsv, head="linear", export_dir=export, name="m", allow_new_classes=True)
