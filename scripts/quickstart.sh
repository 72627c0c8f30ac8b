#!/usr/bin/env bash
# The main job on the bundled sample data (WordNet definitions, data/README.md):
# pretrain word vectors on unlabeled text, check the labels, fit a head on 40 labels per class,
# read its report, evaluate it on held-out data, ask which examples to label
# next, and predict with the TF Serving export.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
cd "$ROOT"
OUT="${1:-runs/quickstart}"
set -x
tfxfer pretrain-text data/corpus.txt --out "$OUT/vectors" --min-count 3 --overwrite
tfxfer similar "$OUT/vectors" tree bread dog --topn 5
tfxfer inspect-data data/labeled.tsv
tfxfer fit-head --features "$OUT/vectors/module" --train data/labeled.tsv --out "$OUT/export" --name categories --overwrite --version 1
tfxfer evaluate "$OUT/export" --data data/test.tsv --plot "$OUT/test_confusion_matrix.png"
tfxfer suggest "$OUT/export" --pool data/unlabeled.txt -n 10 --out "$OUT/to_label.csv" --overwrite
tfxfer predict "$OUT/export" "a large tropical tree with edible fruit" "a person who repairs shoes" "a small songbird"
{ set +x; } 2>/dev/null
echo "Done. Word vectors: $OUT/vectors/  TF Serving export: $OUT/export/ (see its README.md)"
echo "Report and plots: $OUT/export/categories/reports/1/report.html  Next labels to fill in: $OUT/to_label.csv"
