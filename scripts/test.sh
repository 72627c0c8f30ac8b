#!/usr/bin/env bash
# Run the test suite (creates or reuses .venv). Extra arguments go to pytest.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
cd "$ROOT"
exec python -m pytest "$@"
