"""fit-head's options past the defaults, from the library and the command line: an export that
abstains when unsure, the user's unlabeled examples, class weights."""

import json

import pytest

from tests.conftest import cli_error, run_cli, run_without_tfxfer
from tfxfer import config
from tfxfer.errors import ConfigError
from tfxfer.fitting import _unlabeled_message, fit_head


def test_abstaining_export_answers_unknown_when_unsure(text_module, labeled_tsv, tmp_path):
    fitted = fit_head(text_module, labeled_tsv, head="linear", abstain_below=0.8)
    abstain = fitted.report["calibration"]["abstain"]
    assert abstain["threshold"] == 0.8 and 0 < abstain["coverage"] <= 1
    path = fitted.export(tmp_path / "e")
    out = run_without_tfxfer(f"""
        m = tf.saved_model.load({str(path)!r})
        out = m.signatures["serving_default"](text=tf.constant(["the cow and the goat", "nothing known here"]))
        print(json.dumps({{"classes": [c.decode() for c in out["classes"].numpy()],
                          "top": out["scores"].numpy().max(1).tolist()}}))
    """)
    assert out["classes"][0] == "animals" and out["top"][0] >= 0.8
    assert out["classes"][1] == "unknown" and out["top"][1] < 0.8  # no known word: 50/50
    assert [label for label, _ in fitted.predict(["the cow and the goat", "nothing known here"])] == \
        out["classes"]  # in memory as exported
    # predict and evaluate say what the export answers, not only its top score.
    printed = run_cli(["predict", path, "the cow and the goat", "nothing known here"]).output.splitlines()
    assert [line.split("\t")[0] for line in printed] == ["animals", "unknown"]
    unsure = tmp_path / "unsure.tsv"
    unsure.write_text("text\tlabel\nthe cow and the goat\tanimals\nthe bus\tvehicles\nnothing known\tanimals\n"
                      "zzz qqq\tvehicles\n")
    result = run_cli(["evaluate", path, "--data", unsure, "--plot", tmp_path / "cm.png"])
    assert "Abstains ('unknown') on 2 examples: answers 50%, 100.0% of them right" in result.output
    assert "(0, 1)" in cli_error(["fit-head", "-f", text_module, "-t", labeled_tsv, "-o", tmp_path / "x",
                               "--abstain-below", "1.5"])
    named = tmp_path / "named.tsv"  # a class that answers like an abstention
    named.write_text(labeled_tsv.read_text().replace("\tvehicles", "\tunknown"))
    assert "A class is named 'unknown', which an export made with --abstain-below answers when unsure" in \
        cli_error(["fit-head", "-f", text_module, "-t", named, "-o", tmp_path / "y", "--abstain-below", "0.8"])
    assert not (tmp_path / "y").exists()


def test_the_unlabeled_gain_is_reported_with_its_noise():
    info = {"examples": 500, "source": "pool.txt", "total": 500, "overlap_skipped": 0, "unreadable_skipped": 0}
    choice = {"log_loss": 0.412, "log_loss_without": 0.455, "gain_se": 0.011, "margin": 1.0}
    used = {"used": True, "pseudo_labeled": 150, "log_loss_choice": choice}
    clear = _unlabeled_message(info, {**used, "accuracy_gain": 0.05, "accuracy_gain_se": 0.02})
    # What decided (the log loss) comes first, then what it did to the answers.
    assert clear.endswith("150 pseudo-labeled and trained on: cross-validated log loss 0.412 with them, 0.455 "
                          "without (± 0.011); cross-validated accuracy gain +5.0 ± 2.0 points (one standard error).")
    noisy = _unlabeled_message(info, {**used, "accuracy_gain": 0.03, "accuracy_gain_se": 0.025})
    # Said of 20,867 labels too (a gain of +0.1 ± 0.1): the noise is the standard error's, not the labels' count.
    assert "gain +3.0 ± 2.5 points (one standard error): within the noise (under two standard errors)." in noisy
    assert "compare with a head fitted without --unlabeled" in noisy
    same = _unlabeled_message(info, {**used, "accuracy_gain": 0.0, "accuracy_gain_se": 0.0})
    assert same.endswith("gain +0.0 ± 0.0 points (one standard error): the same answers out of fold, with scores "
                         "that fit them better (the log loss).")
    unused = _unlabeled_message(info, {"used": False, "pseudo_labeled": 0, "accuracy_gain": 0.0,
                                       "accuracy_gain_se": 0.0, "log_loss_choice": {**choice, "log_loss": 0.450}})
    assert unused.endswith("Not used: cross-validated log loss 0.450 with them at best, 0.455 without (± 0.011); "
                           "they are used where they lower it by 1 standard error.")
    untried = _unlabeled_message(info, {"used": False, "pseudo_labeled": 0, "accuracy_gain": None,
                                        "accuracy_gain_se": None, "log_loss_choice": None})
    assert untried.endswith("Cross-validation found no gain from them, so the head does not use them.")


def test_unlabeled_examples_from_the_command_line(text_module, labeled_tsv, image_folder, tmp_path):
    unlabeled = tmp_path / "unlabeled.txt"
    labeled_texts = [l.split("\t")[0] for l in labeled_tsv.read_text().splitlines()[1:]]
    more = [f"a {a} near the {b}" for a in ("cat", "dog", "bus", "van") for b in ("cow", "horse", "tram", "truck")]
    unlabeled.write_text("\n".join(more + labeled_texts[:5]) + "\n")
    out = tmp_path / "export"
    result = run_cli(["fit-head", "-f", text_module, "-t", labeled_tsv, "-o", out, "--unlabeled", unlabeled])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "model" / "reports" / "1" / "report.json").read_text())
    assert report["unlabeled"]["overlap_skipped"] == 5 and report["unlabeled"]["total"] == len(more) + 5
    assert report["unlabeled"]["examples"] == len(more) and isinstance(report["unlabeled"]["used"], bool)
    assert "Unlabeled examples: 16 from" in result.output and "5 skipped as they are labeled too" in result.output
    table = tmp_path / "unlabeled.csv"  # a CSV: its text column, not its lines
    table.write_text("id,text,date\n" + "".join(f"{i},{t},2024\n" for i, t in enumerate(more)))
    result = run_cli(["fit-head", "-f", text_module, "-t", labeled_tsv, "-o", out, "--unlabeled", table])
    assert result.exit_code == 0 and "Unlabeled examples: 16 from" in result.output, result.output
    line = cli_error(["fit-head", "-f", text_module, "-t", labeled_tsv, "-o", tmp_path / "y", "--unlabeled", image_folder])
    assert "holds images" in line and "a text module" in line and "Pass texts (one per line) instead" in line
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    assert "holds no text" in cli_error(["fit-head", "-f", text_module, "-t", labeled_tsv, "-o", tmp_path / "z",
                                      "--unlabeled", empty])
    assert not (tmp_path / "y").exists() and not (tmp_path / "z").exists()


def test_cli_class_weight_reaches_the_head_and_a_wrong_value_names_the_choices(text_module, labeled_tsv, tmp_path):
    out = run_cli(["fit-head", "-f", text_module, "-t", labeled_tsv, "-o", tmp_path / "e", "--class-weight", "none"])
    assert out.exit_code == 0, out.output
    report = json.loads((tmp_path / "e" / config.EXPORT_NAME / "reports" / "1" / "report.json").read_text())
    assert report["head_config"]["class_weight"] is None
    out = run_cli(["fit-head", "-f", text_module, "-t", labeled_tsv, "-o", tmp_path / "f", "--class-weight", "equal"])
    assert out.exit_code == 2 and "'equal' is not one of 'balanced', 'none'" in out.output
    assert not (tmp_path / "f").exists()
    with pytest.raises(ConfigError, match=r"`class_weight` must be 'balanced' or None .* class_weight='equal'"):
        fit_head(text_module, labeled_tsv, class_weight="equal", export_dir=tmp_path / "g")
    assert not (tmp_path / "g").exists()


def test_many_classes_of_few_examples_fit_without_library_warnings(text_module):
    # Label combinations ("animals|vehicles") make many classes of two or three examples: scikit-learn's
    # "more than 50% unique classes" warning was printed for each fold and learning-curve point.
    import warnings

    from tests.conftest import TOPIC_WORDS
    from tfxfer.fitting import fit_head

    words = [w for ws in TOPIC_WORDS.values() for w in ws]
    texts = [f"the {a} and a {b}" for a in words for b in words if a != b][:90]
    labels = [f"animals|topic{i // 3}" for i in range(90)]  # 30 classes of 3: a fold's 60 rows hold all 30
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fitted = fit_head(text_module, (texts, labels), head="linear")
    assert len(fitted.labels) == 30 and not [str(w.message) for w in caught]
