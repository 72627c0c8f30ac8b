# Sourced by the other scripts: create or reuse .venv and install tfxfer into it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TFXFER_VENV:-$ROOT/.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
# tfxfer alone, as `pip install tfxfer` gives it to a user (the quickstart), or with the extras
# TFXFER_EXTRAS names (test.sh: `test`, the suite's pandas, pyarrow, selenium...).
want="${TFXFER_EXTRAS:-}"
stamp="$VENV/.tfxfer-installed${want:+-$want}"
installed() { [ -f "$1" ] && [ ! "$ROOT/setup.cfg" -nt "$1" ]; }
if ! installed "$stamp" && ! { [ -z "$want" ] && installed "$VENV/.tfxfer-installed-test"; }; then
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -e "$ROOT${want:+[$want]}"
  touch "$stamp"
fi
export PATH="$VENV/bin:$PATH"
# The shared data of the workplace, when present (NLTK corpora, photos, a pretrained module).
if [ -z "${NLTK_DATA:-}" ] && [ -d "$ROOT/../shared/data/nltk_data" ]; then
  export NLTK_DATA="$ROOT/../shared/data/nltk_data"
fi
