#!/usr/bin/env bash
# The main job on the bundled sample data: pretrain word vectors on unlabeled
# text, fit a head on a few labeled sentences, export for TF Serving, predict.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
cd "$ROOT"
OUT="${1:-runs/quickstart}"
set -x
tfxfer pretrain-text data/corpus.txt --out "$OUT/vectors" --min-count 2 --dim 50 --epochs 10 --batch-size 1024 --overwrite
tfxfer similar "$OUT/vectors" guitar chef storm --topn 5
tfxfer fit-head --features "$OUT/vectors/module" --train data/labeled.tsv --out "$OUT/export" --name topics --validation-split 0.25
tfxfer predict "$OUT/export" "The drummer rehearsed a new song" "Fog drifted over the frozen field" "The server crashed again"
{ set +x; } 2>/dev/null
echo "Done. Word vectors: $OUT/vectors/  TF Serving export: $OUT/export/ (see its README.md)"
