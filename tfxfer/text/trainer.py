"""The training loop of `pretrain_text` (a compiled step fed from a producer thread) and its checkpoints.

A producer thread makes the batches (NumPy subsampling, which mostly releases
the GIL) into a bounded queue while the compiled XLA step trains on the
previous ones; this thread runs the steps, reports progress (and TensorBoard
scalars) and turns Ctrl-C into a clean stop between steps. Feeding the step
from a `tf.data` generator pipeline did the same with more contention: some
epochs took twice as long. Steps run one at a time, so training is
deterministic for a seed. (Two concurrent steps, Hogwild-style, ran no faster
on two cores: the step already keeps both busy.)
"""

from __future__ import annotations

import dataclasses
import math
import queue
import threading
import time
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from tfxfer import interrupts


@dataclasses.dataclass
class EpochResult:
    """How an epoch went: batches run, the last loss, whether it was interrupted."""

    batches: int
    loss: float
    interrupted: bool = False


def run_epoch(
    step: Callable,
    batches: Iterable,
    report: Callable[[int, float], None] | None = None,
    report_seconds: float = 0.5,
) -> EpochResult:
    """Run `step` on every batch of `batches`.

    Args:
        step: A compiled training step: batch -> `{"loss": scalar}`.
        batches: The epoch's batches (NumPy arrays), made lazily in a producer thread.
        report: Called with `(batches done, last loss)` every `report_seconds`
            and at the end; it may raise `KeyboardInterrupt` to stop.

    Returns:
        `EpochResult`. Stops early, with `loss` not finite, when a step's loss
        is not finite; with `interrupted` on Ctrl-C.
    """
    ready: queue.Queue = queue.Queue(maxsize=4)
    state = {"stop": False, "error": None}
    end = object()

    def produce():
        try:
            for batch in batches:
                while not state["stop"]:
                    try:
                        ready.put(batch, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if state["stop"]:
                    return
        except BaseException as e:  # noqa: BLE001 - surfaced in the main thread
            state["error"] = e
        ready.put(end)

    producer = threading.Thread(target=produce, name="batches", daemon=True)
    producer.start()
    done, loss, interrupted = 0, float("nan"), False
    last = time.monotonic()
    try:
        while True:
            batch = ready.get()
            if batch is end:
                break
            loss = float(step(batch)["loss"])
            done += 1
            if not math.isfinite(loss):
                break
            if report and time.monotonic() - last >= report_seconds:
                report(done, loss)
                last = time.monotonic()
        if report:
            report(done, loss)
    except KeyboardInterrupt:  # Ctrl-C, or a progress callback that stops training
        interrupted = True
    except Exception:
        if not interrupts.stop_asked():
            raise
        interrupted = True  # the stop, landed inside TensorFlow's C++ code and raised as another error
    finally:
        state["stop"] = True
        while producer.is_alive():  # unblock a producer waiting on a full queue
            try:
                ready.get_nowait()
            except queue.Empty:
                producer.join(0.05)
    if state["error"] is not None:
        raise state["error"]
    return EpochResult(done, loss, interrupted)


def save_checkpoint(work: Path, model, epochs_done: int) -> None:
    """Write the model's variables, optimizer step and epochs done to `work/checkpoint.npz` (atomically)."""
    tmp = work / "checkpoint.tmp.npz"
    try:
        np.savez(
            tmp,
            # By position: variable paths carry per-process unique suffixes.
            **{f"variable_{i}": v.numpy() for i, v in enumerate(model.variables)},
            iterations=model.optimizer.iterations.numpy(),
            epochs_done=epochs_done,
        )
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk: the last whole checkpoint stays the one to resume from
        raise
    tmp.replace(work / "checkpoint.npz")


def load_checkpoint(work: Path, model) -> int:
    """Restore what `save_checkpoint` wrote into `model`; returns the epochs done."""
    with np.load(work / "checkpoint.npz") as ckpt:
        for i, v in enumerate(model.variables):
            v.assign(ckpt[f"variable_{i}"])
        model.optimizer.iterations.assign(int(ckpt["iterations"]))
        return int(ckpt["epochs_done"])
