"""Ctrl-C and a scheduler's SIGTERM, told apart from the errors they can turn into.

The `tfxfer` command meets SIGTERM (SLURM, Kubernetes, `timeout`) as Ctrl-C:
both raise `KeyboardInterrupt`, and pretraining keeps a checkpoint. An
interrupt that lands inside TensorFlow's C++ code while it binds a step's
inputs comes out as a `TypeError` ("Binding inputs to tf.function failed due
to ..."), once in hundreds of runs: the checkpoint was then lost to an error.
The handler here remembers that a stop was asked for, so that the training
loop can read any error raised after it as the stop it is.
"""

from __future__ import annotations

import signal
import threading

_asked = threading.Event()


def _stop(signum, frame):
    _asked.set()
    raise KeyboardInterrupt


def install() -> None:
    """Meet SIGINT and SIGTERM with `KeyboardInterrupt`, remembering that a stop was asked for."""
    _asked.clear()
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)


def stop_asked() -> bool:
    """Whether SIGINT or SIGTERM arrived since `install` (never, where it was not installed)."""
    return _asked.is_set()
