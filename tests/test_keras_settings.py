"""Keras and TensorFlow settings users bring from their own work: another backend (KERAS_BACKEND=jax), a
global mixed-precision policy, functions run eagerly. tfxfer's Keras models need TensorFlow's backend and
float32."""

import json
import os
import subprocess
import sys

import numpy as np

from tests.test_pretrain import FAST
from tfxfer import pretrain_text


def _run(code_or_args, env_changes, cwd):
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env.update(env_changes)
    command = [sys.executable, *(["-c", code_or_args] if isinstance(code_or_args, str) else code_or_args)]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=300, check=False)


def test_the_command_pretrains_whatever_backend_keras_is_set_to(tmp_path, topic_corpus):
    # torch is not installed: with the setting obeyed, Keras' import failed on it, a traceback.
    out = tmp_path / "vectors"
    run = _run(["-m", "tfxfer", "pretrain-text", str(topic_corpus), "--out", str(out), "--epochs", "1",
                "--min-count", "2"], {"KERAS_BACKEND": "torch"}, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert (out / "module" / "saved_model.pb").is_file() and (out / "vectors.txt").is_file()


def test_the_python_api_names_the_backend_set_in_keras_json_and_the_fix(tmp_path):
    keras_home = tmp_path / "keras-home"
    keras_home.mkdir()
    (keras_home / "keras.json").write_text(json.dumps({"backend": "jax", "floatx": "float32"}))
    code = ("import tfxfer\nfrom tfxfer.errors import TfxferError\n"
            "try:\n    tfxfer.pretrain_text\n"
            "except TfxferError as e:\n    print('ERROR', e)\n")
    run = _run(code, {"KERAS_HOME": str(keras_home)}, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    message = run.stdout.strip()
    assert message.startswith("ERROR tfxfer needs Keras' TensorFlow backend, and Keras is set to 'jax'")
    assert "Set KERAS_BACKEND=tensorflow before Keras or TensorFlow is imported" in message


def test_keras_already_running_on_another_backend_is_refused_by_name(tmp_path):
    # Stands in for a process where JAX is installed and Keras was imported on it (this suite has no JAX).
    code = ("import keras\nkeras.backend.backend = lambda: 'jax'\n"
            "from tfxfer.errors import TfxferError\n"
            "try:\n    from tfxfer.features.layer import FeatureLayer\n"
            "except TfxferError as e:\n    print('ERROR', e)\n")
    run = _run(code, {}, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Keras is set to 'jax'" in run.stdout and "KERAS_BACKEND=tensorflow" in run.stdout


def test_a_feature_layer_runs_in_float32_under_a_mixed_precision_policy(tiny_image_module):
    # GPU notebooks set mixed_float16 for their own models: Keras then cast the layer's images to float16,
    # which the module's float32 function refused.
    import keras

    from tfxfer.features.layer import FeatureLayer

    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        layer = FeatureLayer(str(tiny_image_module), image_size=16)
        inputs = keras.Input((16, 16, 3))
        model = keras.Model(inputs, keras.layers.Dense(2)(layer(inputs)))
        model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        images = np.random.default_rng(0).random((4, 16, 16, 3)).astype("float32")
        model.fit(images, np.array([0, 1, 0, 1]), epochs=1, verbose=0)
        assert model.predict(images, verbose=0).dtype == np.float16  # the user's layers keep their policy
        np.testing.assert_allclose(layer(images), layer.module(images), atol=1e-6)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_a_global_mixed_precision_policy_trains_the_same_vectors(topic_corpus, tmp_path):
    # GPU notebooks set mixed_float16 for their own models; NCE's SGD in float16 learned nothing, silently.
    import keras

    first = pretrain_text(topic_corpus, tmp_path / "plain", FAST)
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        mixed = pretrain_text(topic_corpus, tmp_path / "mixed", FAST)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    np.testing.assert_array_equal(mixed.vectors, first.vectors)


def test_functions_run_eagerly_is_named_before_pretraining(tmp_path, caplog):
    # A notebook's debugging setting, left on, made pretraining 6x slower, unsaid.
    import pytest
    import tensorflow as tf

    from tfxfer.errors import DataError

    (tmp_path / "empty.txt").write_text("")
    tf.config.run_functions_eagerly(True)
    try:
        with pytest.raises(DataError):  # the warning comes first; an empty corpus ends the run at once
            pretrain_text(tmp_path / "empty.txt", tmp_path / "out", FAST)
    finally:
        tf.config.run_functions_eagerly(False)
    assert "run_functions_eagerly(True) is set: pretraining runs its steps one op at a time, about 6x slower. " \
           "Call tf.config.run_functions_eagerly(False)" in caplog.text
