#!/usr/bin/env bash
# The main job on the bundled sample data: pretrain word vectors, inspect them.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
cd "$ROOT"
OUT="${1:-runs/quickstart}"
tfxfer pretrain-text data/corpus.txt --out "$OUT/vectors" --min-count 2 --dim 50 --epochs 10 --batch-size 1024 --overwrite
tfxfer similar "$OUT/vectors" guitar chef storm
echo "Word vectors, projector files and the text feature module are in $OUT/vectors/"
