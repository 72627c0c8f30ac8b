#!/usr/bin/env bash
# Run the test suite (creates or reuses .venv). Extra arguments go to pytest.
TFXFER_EXTRAS=test
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
cd "$ROOT"
# One worker per core (pytest-xdist); `scripts/test.sh -n 0` runs in one process.
exec python -m pytest -n auto "$@"
