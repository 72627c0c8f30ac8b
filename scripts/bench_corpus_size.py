"""Benchmark: how much text `pretrain-text` needs before its vectors help a few labels.

A user's own corpus may be a few hundred lines. For each corpus size (words),
a module is pretrained with the defaults on that many words of one shuffled
corpus: the pools (never the held-out parts) of sentence_polarity and
pros_cons, and brown, abc, webtext and state_union. On each data set, for 16
and 64 labels per class and several draws, scored on the fixed held-out part
(`bench_suite.py`):

- fit-head: `train_head` on the module's vectors and the lexical columns, as
  `fit-head` runs;
- vectors alone: `LogisticRegression(C=1)` on the module's vectors, rows
  scaled to unit length (what the module knows, without the labels' words);
- TF-IDF: TF-IDF + `LogisticRegression(C=1)` on the labeled texts (no corpus).

Also the share of the held-out texts' running words in the module's
vocabulary, and wordsim353's Spearman correlation where enough pairs are
known. This sets `config.SMALL_CORPUS_WORDS`, below which `pretrain-text`
warns.

Usage: python scripts/bench_corpus_size.py [--sizes 10000,30000,...] [--draws 5] [--k 16,64]
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import time
from pathlib import Path

import bench_suite as suite
import numpy as np
from bench_heads import baselines, score

from tfxfer import config
from tfxfer.head.search import train_head

DATASETS = ("sentence_polarity", "pros_cons")


def corpus_lines() -> list[str]:
    """The shuffled lines of the shared corpus (pools of `DATASETS` and the unlabeled corpora)."""
    from tfxfer.data.text import TextCorpus

    lines = list(TextCorpus(suite.UNLABELED))
    for name in DATASETS:
        texts, labels = suite._raw_text(name)
        pool, _ = suite._split(labels, suite.TEST_SIZE[name])
        lines += [texts[i].replace("\n", " ") for i in pool]
    random.Random(0).shuffle(lines)
    return lines


def module_of(lines: list[str], words: int, work: Path) -> tuple[Path, float]:
    """The module pretrained on the first `words` words of `lines` (built once) and its seconds."""
    from tfxfer.text.pretrain import pretrain_text

    out = work / f"corpus-size-{words}"
    if not (out / "module" / "saved_model.pb").is_file():
        corpus, count = work / f"corpus-size-{words}.txt", 0
        with open(corpus, "w", encoding="utf-8") as f:
            for line in lines:
                f.write(line + "\n")
                count += len(line.split())
                if count >= words:
                    break
        t0 = time.time()
        pretrain_text(corpus, out, config.PRETRAIN, overwrite=True)
        (out / "bench_seconds.txt").write_text(f"{time.time() - t0:.1f}")
    return out, float((out / "bench_seconds.txt").read_text())


def known_share(module: Path, texts: list[str]) -> float:
    """The share of the running words of `texts` in the module's vocabulary (as `similar` splits them)."""
    from tfxfer.features.notes import unknown_words

    return 1 - unknown_words(texts, module / "assets" / "vocab.txt")[0]


def wordsim(vectors: Path) -> float | None:
    from tfxfer.text.evaluate import evaluate_embeddings
    from tfxfer.text.vectors import WordVectors

    return evaluate_embeddings(WordVectors.load(vectors))["wordsim353"]["spearman"]


def run(words: int, lines: list[str], ks, draws: int, work: Path, log) -> list[dict]:
    from tfxfer.features.extract import extract_text_features
    from tfxfer.features.load import load_features

    out, seconds = module_of(lines, words, work)
    module = load_features(out / "module")
    similarity = wordsim(out)
    rows = []
    for name in DATASETS:
        texts, labels = suite._raw_text(name)
        pool, test = suite._split(labels, suite.TEST_SIZE[name])
        known = known_share(out / "module", [texts[i] for i in test])
        features = extract_text_features(module, texts).features
        data = suite.Dataset(name, texts, np.array(labels), features, pool, test)
        for k in ks:
            results: dict[str, list] = {}
            for draw in range(draws):
                train = data.draw(k, draw)
                fit_x, (test_x,), columns = suite.head_features(data, train, data.test)
                clf, _, _ = train_head(fit_x, data.labels[train], lexical=columns, with_learning_curve=False,
                                       seed=draw)
                proba = clf.predict_proba(suite.as_head_reads(clf, test_x, columns))
                scored = {"fit-head": score(data, clf.classes_[proba.argmax(1)])}
                found = baselines(data, train)
                scored |= {"vectors alone": score(data, found["LR"]), "TF-IDF": score(data, found["TF-IDF"])}
                for column, s in scored.items():
                    results.setdefault(column, []).append(s["accuracy"])
            row = {"words": words, "dataset": name, "k": k, "draws": draws, "pretrain_seconds": seconds,
                   "known": known, "wordsim353": similarity,
                   **{c: [float(np.mean(v)), float(np.std(v))] for c, v in results.items()}}
            rows.append(row)
            log(row)
    return rows


def format_table(rows: list[dict]) -> str:
    lines = [("| words | data set | k | known words | wordsim353 | fit-head | vectors alone | TF-IDF | "
              "fit-head - TF-IDF (points) |"), "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = [f"{r[c][0]:.3f} ± {r[c][1]:.3f}" for c in ("fit-head", "vectors alone", "TF-IDF")]
        ws = "" if r["wordsim353"] is None else f"{r['wordsim353']:.3f}"
        lines.append(f"| {r['words']:,} | {r['dataset']} | {r['k']} | {r['known']:.0%} | {ws} | "
                     f"{' | '.join(cells)} | {100 * (r['fit-head'][0] - r['TF-IDF'][0]):+.1f} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,30000,100000,300000,1000000,3000000")
    parser.add_argument("--k", default="16,64")
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--work", type=Path, default=suite.default_work_dir())
    parser.add_argument("--out", type=Path, help="append the rows (JSON lines)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("tfxfer").setLevel(logging.WARNING)
    args.work.mkdir(parents=True, exist_ok=True)
    lines = corpus_lines()

    def log(row):
        logging.getLogger("bench").info(json.dumps(row))
        if args.out:
            with args.out.open("a") as f:
                f.write(json.dumps(row) + "\n")

    rows = []
    for words in (int(s) for s in args.sizes.split(",")):
        rows += run(words, lines, [int(k) for k in args.k.split(",")], args.draws, args.work, log)
    print(format_table(rows))


if __name__ == "__main__":
    main()
