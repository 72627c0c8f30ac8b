#!/usr/bin/env bash
# GPU figures, ready for the first machine with an NVIDIA GPU: pretraining
# words/s (scripts/bench_pretrain.py) and image features/s
# (scripts/bench_features.py) on the GPU, with the CUDA libraries installed
# into the same .venv. Nothing here has been measured yet: no GPU at hand.
#
# Usage: scripts/bench_gpu.sh            (needs nvidia-smi and ../shared/data)
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
cd "$ROOT"
if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "No NVIDIA GPU here (nvidia-smi not found): nothing to measure." >&2
  exit 1
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python -m pip install --quiet "tensorflow[and-cuda]"
python - <<'PY'
import tensorflow as tf
gpus = tf.config.list_physical_devices("GPU")
print("TensorFlow", tf.__version__, "sees", gpus)
raise SystemExit(0 if gpus else "TensorFlow does not see the GPU: check the driver and CUDA libraries.")
PY
echo "== pretraining (training phase, words/s; gensim on the CPU for reference)"
python scripts/bench_pretrain.py --skip-memory
echo "== pretraining, whole command"
python scripts/bench_pretrain.py --end-to-end
echo "== image features (images/s: module alone and whole pipeline)"
python scripts/bench_features.py
python scripts/bench_features.py --inception-v3
