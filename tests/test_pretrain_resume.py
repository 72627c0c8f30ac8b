"""Stopping pretraining and going on: Ctrl-C or SIGTERM anywhere in a run leaves a checkpoint (and no
half output), and `--resume` finishes the run from it."""

import json

import numpy as np
import pytest

from tests.conftest import ANIMALS, cli_error
from tests.test_pretrain import FAST
from tfxfer import pretrain_text
from tfxfer.errors import TrainingInterrupted


def test_interrupt_leaves_checkpoint_and_resume_finishes(topic_corpus, tmp_path, monkeypatch):
    out = tmp_path / "out"
    calls = []

    def interrupt_in_epoch_3(report):
        if report.get("epoch") == 3:
            calls.append(report)
            raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted, match="--resume"):
        pretrain_text(topic_corpus, out, FAST, progress=interrupt_in_epoch_3)
    assert calls and not out.exists()
    assert (tmp_path / ".out.partial" / "checkpoint.npz").is_file()
    monkeypatch.chdir(topic_corpus.parent)  # the same corpus by another name is the same run
    vectors = pretrain_text(f"./{topic_corpus.name}", out, FAST, resume=True)
    run = json.loads((out / "config.json").read_text())
    assert run["training"]["resumed_from_epoch"] == 2
    assert not (tmp_path / ".out.partial").exists()
    top = [w for w, _ in vectors.most_similar("cat", topn=3)]
    assert len(set(top) & set(ANIMALS)) >= 2


def test_interrupt_between_epochs_writes_that_epochs_checkpoint(topic_corpus, tmp_path, monkeypatch):
    # Ctrl-C or SIGTERM landing while an epoch's checkpoint is written (most of an epoch's time on a
    # small corpus) is an interruption too, not an abort that leaves the checkpoint before.
    import tfxfer.text.pretrain as pretraining

    saved, save = [], pretraining.save_checkpoint

    def interrupted_once(work, model, epochs_done):
        saved.append(epochs_done)
        if len(saved) == 2:
            raise KeyboardInterrupt
        save(work, model, epochs_done)

    monkeypatch.setattr(pretraining, "save_checkpoint", interrupted_once)
    with pytest.raises(TrainingInterrupted, match=r"^Interrupted after epoch 2; a checkpoint is in .* --resume"):
        pretrain_text(topic_corpus, tmp_path / "out", FAST)
    with np.load(tmp_path / ".out.partial" / "checkpoint.npz") as checkpoint:
        assert int(checkpoint["epochs_done"]) == 2 and saved == [1, 2, 2]


def test_interrupt_anywhere_in_the_epoch_loop_keeps_a_checkpoint(topic_corpus, tmp_path, monkeypatch):
    # Outside a step and a checkpoint's write too: here as an epoch's batches end, while its producer thread
    # stops (a CI run's SIGTERM landed there and aborted, "Aborted!" and status 1, with no word of --resume).
    import tfxfer.text.pretrain as pretraining

    epochs, run_epoch = [], pretraining.run_epoch

    def interrupted_as_it_returns(*args, **kwargs):
        result = run_epoch(*args, **kwargs)
        epochs.append(result)
        if len(epochs) == 3:
            raise KeyboardInterrupt
        return result

    monkeypatch.setattr(pretraining, "run_epoch", interrupted_as_it_returns)
    with pytest.raises(TrainingInterrupted, match=r"^Interrupted in epoch 3; a checkpoint is in .* --resume"):
        pretrain_text(topic_corpus, tmp_path / "out", FAST)
    with np.load(tmp_path / ".out.partial" / "checkpoint.npz") as checkpoint:
        assert int(checkpoint["epochs_done"]) == 2  # epoch 3 runs again on --resume


def test_resume_without_checkpoint_is_an_error(topic_corpus, tmp_path):
    assert "Nothing to resume" in cli_error(["pretrain-text", str(topic_corpus), "--out", str(tmp_path / "o"), "--resume"])
