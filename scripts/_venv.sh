# Sourced by the other scripts: create or reuse .venv and install tfxfer into it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TFXFER_VENV:-$ROOT/.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
stamp="$VENV/.tfxfer-installed"
if [ ! -f "$stamp" ] || [ "$ROOT/setup.cfg" -nt "$stamp" ]; then
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -e "$ROOT[test]"
  touch "$stamp"
fi
export PATH="$VENV/bin:$PATH"
# The shared data of the workplace, when present (NLTK corpora, photos, a pretrained module).
if [ -z "${NLTK_DATA:-}" ] && [ -d "$ROOT/../shared/data/nltk_data" ]; then
  export NLTK_DATA="$ROOT/../shared/data/nltk_data"
fi
