#!/usr/bin/env bash
# Run the test suite (creates or reuses .venv). Extra arguments go to pytest.
TFXFER_EXTRAS=test
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
cd "$ROOT"
# TensorFlow Text, for the test of modules whose tokenizer uses its ops: built for one TensorFlow
# release, so the one of the installed TensorFlow, without letting pip move TensorFlow (skipped if none).
tf_minor="$(python -c 'import importlib.metadata as m; print(".".join(m.version("tensorflow").split(".")[:2]))')"
python -m pip install --quiet --no-deps "tensorflow-text==$tf_minor.*" 2>/dev/null \
  || echo "No tensorflow-text for TensorFlow $tf_minor: its test will be skipped."
# One worker per core (pytest-xdist); `scripts/test.sh -n 0` runs in one process.
exec python -m pytest -n auto "$@"
