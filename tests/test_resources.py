"""Faults of the machine, not the data: a full disk, a scheduler's SIGTERM, running out of memory,
native Windows. Each gives one `Error:` line and leaves nothing half-written (as `test_faults`)."""

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import cli_error, run_cli

# These tests check other things than the learning curve: one subsample per size (conftest).
pytestmark = pytest.mark.usefixtures("one_curve_draw")


def _on_a_small_disk(size: str, mount: Path, args: list) -> subprocess.CompletedProcess:
    """Run `tfxfer ARGS` with a `size` tmpfs mounted at `mount`: a real full disk, in a user namespace.

    What the run left on that disk, which goes with the namespace, is listed in `mount`.left (one path a line).
    """
    mount.mkdir()
    command = (f"mount -t tmpfs -o size={size} tmpfs {mount} && {{ {sys.executable} -m tfxfer "
               + " ".join(map(str, args)) + f"; rc=$?; find {mount} -mindepth 1 > {mount}.left; exit $rc; }}")
    return subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", command],
                          capture_output=True, text=True, timeout=300)


def _can_mount() -> bool:
    try:
        probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                                "mount -t tmpfs tmpfs /mnt"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


@pytest.mark.skipif(not _can_mount(), reason="needs user namespaces to mount a small tmpfs")
def test_a_full_disk_is_named_and_leaves_no_version(text_module, labeled_tsv, tmp_path):
    # The SavedModel is written by TF ops, whose full disk is a ResourceExhaustedError, not an OSError. At 300 KB
    # the model does not fit; at 700 KB it does and its report does not: a version without its report is removed.
    for size in ("300k", "700k"):
        mount = tmp_path / size
        result = _on_a_small_disk(size, mount, ["fit-head", "-f", text_module, "-t", labeled_tsv, "-o",
                                                mount / "export", "--head", "linear"])
        assert result.returncode == 1, result.stderr[-2000:]
        assert result.stderr.strip().splitlines()[-1] == (
            f"Error: The disk holding '{mount}/export/model/1' is full: writing it needs more than the "
            f"{int(size[:-1]) * 1024 / 1e6:.1f} MB free there. Nothing was written. Free some space, or choose an "
            "output on another disk."), result.stderr[-2000:]
        assert "Traceback" not in result.stderr
        # Nothing at all: not even the export's empty folders, which TF Serving would poll for versions.
        assert Path(f"{mount}.left").read_text() == ""


@pytest.mark.skipif(not _can_mount(), reason="needs user namespaces to mount a small tmpfs")
def test_a_full_cache_disk_costs_only_the_caching(tiny_image_module, image_folder, tmp_path):
    mount = tmp_path / "cache"
    result = _on_a_small_disk("8k", mount, ["fit-head", "-f", tiny_image_module, "-t", image_folder, "-o",
                                            tmp_path / "export", "--head", "linear", "--cache-dir", mount])
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"The feature cache {mount}" in result.stderr and "cannot be written" in result.stderr
    assert (tmp_path / "export" / "model" / "1" / "saved_model.pb").is_file()


def test_a_full_disk_while_saving_vectors_keeps_the_checkpoint_to_resume(topic_corpus, tmp_path, monkeypatch):
    from tests.test_pretrain import FAST_ARGS

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    out = tmp_path / "v"
    with monkeypatch.context() as patch:
        patch.setattr("tfxfer.text.pretrain.save_text_module", full)
        line = cli_error(["pretrain-text", topic_corpus, "--out", out, *FAST_ARGS])
    assert line == (f"Error: The disk holding '{out}' is full. The run's checkpoint in '{tmp_path}/.v.partial' is kept: "
                    "free some space, and run the same command with --resume to continue.")
    assert not out.exists() and not list(tmp_path.glob(".v.tmp-*"))
    result = run_cli(["pretrain-text", topic_corpus, "--out", out, *FAST_ARGS, "--resume"])
    assert result.exit_code == 0, result.output
    assert (out / "module" / "saved_model.pb").is_file() and not (tmp_path / ".v.partial").exists()
    # Before the first checkpoint there is nothing to resume: the run's work is removed, giving its space back.
    with monkeypatch.context() as patch:
        patch.setattr("tfxfer.text.pretrain.save_checkpoint", full)
        line = cli_error(["pretrain-text", topic_corpus, "--out", tmp_path / "w", *FAST_ARGS])
    assert line.startswith(f"Error: The disk holding '{tmp_path / 'w'}' is full: writing it needs more than the ")
    assert not list(tmp_path.glob(".w*"))


def test_full_disks_are_told_apart_from_other_errors(tmp_path, monkeypatch):
    import tensorflow as tf

    from tfxfer.atomic import disk_full, write_text_atomic

    assert disk_full(OSError(28, "No space left on device")) and disk_full(OSError(122, "Disk quota exceeded"))
    assert disk_full(OSError("20000 requested and 4032 written"))  # NumPy's short write: no errno
    assert disk_full(tf.errors.ResourceExhaustedError(None, None, "/x/variables_temp; No space left on device"))
    assert not disk_full(tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor"))
    assert not disk_full(OSError(13, "Permission denied")) and not disk_full(ValueError("No space left on device"))
    # Ours names the output and is an OSError still, for code that carries on when a write fails (caches).
    monkeypatch.setattr(Path, "write_text", lambda *a, **k: (_ for _ in ()).throw(OSError(28, "No space left")))
    with pytest.raises(OSError, match=f"The disk holding '{tmp_path / 'memo.json'}' is full") as raised:
        write_text_atomic(tmp_path / "memo.json", "{}")
    assert raised.value.errno == 28 and not list(tmp_path.iterdir())


def test_a_schedulers_sigterm_is_met_as_ctrl_c(topic_corpus, text_module, labeled_tsv, tmp_path):
    """SLURM, Kubernetes and `timeout` stop a job with SIGTERM: pretraining keeps a checkpoint to resume,
    and an export being written is removed, where Python's default would end the process on the spot."""
    import signal
    import time

    from tests.test_pretrain import FAST_ARGS

    out = tmp_path / "v"
    args = [sys.executable, "-m", "tfxfer", "pretrain-text", str(topic_corpus), "--out", str(out), *FAST_ARGS]
    run = subprocess.Popen([*args, "--epochs", "1000"], stderr=subprocess.PIPE, text=True)
    assert any("Training" in line for line in iter(run.stderr.readline, ""))  # the first epoch has begun
    time.sleep(1)
    run.send_signal(signal.SIGTERM)  # in an epoch, or between two while a checkpoint is written
    status, told = run.wait(timeout=60), run.stderr.read()
    assert status == 130 and "a checkpoint is in" in told, told[-2000:]
    assert (tmp_path / ".v.partial" / "checkpoint.npz").is_file()
    resumed = subprocess.run([*args, "--epochs", "1", "--resume"], capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert (out / "module" / "saved_model.pb").is_file() and not (tmp_path / ".v.partial").exists()
    # fit-head, signalled while its SavedModel is in a temporary folder of the export.
    export = tmp_path / "export"
    code = textwrap.dedent(f"""
        import os, signal
        import tfxfer.export.saved_model as saved
        from tfxfer.cli import main
        write_warmup = saved.write_warmup
        def signalled(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGTERM)
            write_warmup(*args, **kwargs)
        saved.write_warmup = signalled
        main(["fit-head", "-f", {str(text_module)!r}, "-t", {str(labeled_tsv)!r}, "-o", {str(export)!r}, "--head",
              "linear"])
    """)
    stopped = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert stopped.returncode == 1 and "Aborted!" in stopped.stderr, stopped.stderr[-2000:]
    assert not export.exists()  # no version, no temporary folder, no empty folders of a first export


def test_running_out_of_memory_names_the_ways_out(text_module, labeled_tsv, tmp_path, monkeypatch):
    import tensorflow as tf

    def oom(*args, **kwargs):  # TensorFlow's own error for it, as a GPU would raise it: asked for 4 TiB
        return tf.zeros([2**40], tf.float32)

    monkeypatch.setattr("tfxfer.fitting.extract_text_features", oom)
    line = cli_error(["fit-head", "-f", text_module, "-t", labeled_tsv, "-o", tmp_path / "export"])
    assert line == ("Error: TensorFlow ran out of memory (OOM when allocating tensor with shape[1099511627776] and "
                    "type float on /job:localhost/replica:0/task:0/device:CPU:0). Close other programs using the GPU "
                    "(nvidia-smi lists them), run on the CPU (CUDA_VISIBLE_DEVICES= tfxfer ...), or lower "
                    "--batch-size where the command has one.")
    assert not (tmp_path / "export").exists()


def test_native_windows_is_told_to_use_wsl(tmp_path):
    # Windows lacks fcntl, whose locks make two runs into one output take turns: where it is missing, a command
    # says so in one line, and the Python API in its ImportError, instead of a traceback ending in "fcntl".
    without_fcntl = "import sys; sys.modules['fcntl'] = None; "
    command = subprocess.run(
        [sys.executable, "-c", without_fcntl + "from tfxfer.cli import main; main(['inspect-data', 'x.tsv'])"],
        capture_output=True, text=True, timeout=120)
    assert command.returncode == 1 and command.stderr == (
        "Error: tfxfer runs on Linux and macOS: two runs writing one output take turns through POSIX file locks "
        "(fcntl), which Windows lacks. On Windows, run it in WSL2 (wsl --install), as TensorFlow advises for GPUs "
        "too.\n"), command.stderr[-2000:]
    api = subprocess.run([sys.executable, "-c", without_fcntl + "import tfxfer; tfxfer.fit_head"],
                         capture_output=True, text=True, timeout=120)
    assert api.stderr.strip().splitlines()[-1].startswith("ImportError: tfxfer runs on Linux and macOS"), api.stderr



def test_a_stop_that_tensorflow_turns_into_another_error_is_still_a_stop():
    # Once in CI a SIGTERM landed inside TensorFlow's C++ binding of a step's inputs and came out as
    # "TypeError: Binding inputs to tf.function failed due to ...": pretraining ended on that error (status 1)
    # instead of keeping its checkpoint (130). The step below turns the real handler's interrupt so.
    import os
    import signal
    import time

    from tfxfer import interrupts
    from tfxfer.text.trainer import run_epoch

    def step(batch):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        except KeyboardInterrupt:
            raise TypeError("Binding inputs to tf.function failed due to `...`") from None
        return {"loss": 1.0}

    def broken(batch):
        raise TypeError("a real error")

    saved = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    try:
        interrupts.install()
        with pytest.raises(TypeError, match="a real error"):  # no stop asked for: an error stays one
            run_epoch(broken, [np.zeros(3)])
        result = run_epoch(step, [np.zeros(3), np.zeros(3)])
        assert result.interrupted and result.batches == 0
    finally:
        signal.signal(signal.SIGINT, saved[0])
        signal.signal(signal.SIGTERM, saved[1])
        interrupts._asked.clear()
