"""Keras, checked to run on TensorFlow.

tfxfer's Keras models (skip-gram pretraining, `FeatureLayer`, fine-tuning) run
TensorFlow ops and SavedModels inside Keras layers, which only Keras' TensorFlow
backend can run. Keras 3 users often set another backend for their own work
(`KERAS_BACKEND=jax`, or `backend` in `~/.keras/keras.json`); under it these models
failed deep inside JAX or on a missing `jax` import. The `tfxfer` command sets
the TensorFlow backend itself; the Python API cannot choose for the process it
runs in, so importing a module that needs Keras raises `KerasBackendError`
naming the fix. Modules take Keras from here: `from tfxfer.keras_backend import keras`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tfxfer.errors import TfxferError


class KerasBackendError(TfxferError, ImportError):
    """Keras is set to run on a backend other than TensorFlow."""


def configured_backend() -> str:
    """The backend Keras takes when imported: `KERAS_BACKEND`, else its `keras.json`, else TensorFlow."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    try:
        config = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "keras.json"
        return json.loads(config.read_text()).get("backend") or "tensorflow"
    except (OSError, ValueError, AttributeError, RuntimeError):  # RuntimeError: no home folder
        return "tensorflow"


def _backend_error(backend: str) -> KerasBackendError:
    return KerasBackendError(
        f"tfxfer needs Keras' TensorFlow backend, and Keras is set to {backend!r} (by KERAS_BACKEND or "
        "'backend' in ~/.keras/keras.json). Set KERAS_BACKEND=tensorflow before Keras or TensorFlow is "
        "imported: os.environ['KERAS_BACKEND'] = 'tensorflow' at the top of the script (in a notebook, "
        "restart the kernel and set it in the first cell). The tfxfer command uses TensorFlow whatever the "
        "setting.")


def _import_keras():
    try:
        import keras
    except ImportError as e:
        # The backend's own package is missing (`No module named 'jax'`): Keras fails on it at import.
        backend = configured_backend()
        if backend != "tensorflow" and e.name and e.name.split(".")[0] in ("jax", "torch", "openvino"):
            raise _backend_error(backend) from None
        raise
    if keras.backend.backend() != "tensorflow":
        raise _backend_error(keras.backend.backend())
    return keras


keras = _import_keras()
