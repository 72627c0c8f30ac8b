"""Benchmark: tfxfer pretrain-text against gensim Word2Vec on the same tokens.

Corpus: NLTK brown + abc + webtext + state_union (about 2.6M tokens), tokenized
and lowercased once by tfxfer's tokenizer and given to both trainers. Settings:
skip-gram, dim 100, window 5, 5 negatives, 5 epochs, min_count 5, 2 workers for
gensim. Prints words/s of the training phase (vocabulary building excluded for
both), their ratio, analogy accuracy and wordsim353/simlex999 Spearman, then
the peak memory (RSS) of the whole `tfxfer pretrain-text` command on the corpus
at 1x and 4x its size.

Usage: NLTK_DATA=../shared/data/nltk_data python scripts/bench_pretrain.py [--quick]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tfxfer import config  # noqa: E402
from tfxfer.data.text import TextCorpus  # noqa: E402
from tfxfer.text.encode import token_batches  # noqa: E402
from tfxfer.text.evaluate import evaluate_embeddings  # noqa: E402
from tfxfer.text.vectors import WordVectors  # noqa: E402

SOURCES = ["nltk:brown", "nltk:abc", "nltk:webtext", "nltk:state_union"]
SETTINGS = dict(dim=100, window=5, negatives=5, epochs=5, min_count=5)


def tokenized_sentences(sources):
    sentences = []
    for tokens, lengths in token_batches(TextCorpus(sources)):
        start = 0
        for n in lengths:
            sentences.append([t.decode("utf-8") for t in tokens[start : start + n]])
            start += n
    return [s for s in sentences if s]


def run_tfxfer(corpus: Path, out: Path, epochs: int, seed: int = 1) -> dict:
    """Run the CLI in a fresh process; return its config.json and peak RSS (MB)."""
    cmd = [sys.executable, "-m", "tfxfer", "pretrain-text", str(corpus), "--out", str(out), "--overwrite"]
    for key, value in {**SETTINGS, "epochs": epochs, "seed": seed}.items():
        cmd += [f"--{key.replace('_', '-')}", str(value)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    run = json.loads((out / "config.json").read_text())
    run["peak_rss_mb"] = max(peak, before) / 1024
    return run


def fmt(q):
    s = lambda r: "n/a" if r["spearman"] is None else f"{r['spearman']:.3f}"  # noqa: E731
    return f"analogy {q['analogy_accuracy']:.3f}  wordsim353 {s(q['wordsim353'])}  simlex999 {s(q['simlex999'])}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="brown only, for a smoke run")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--seed", type=int, default=1, help="seed of both trainers")
    args = parser.parse_args()
    sources = SOURCES[:1] if args.quick else SOURCES

    sentences = tokenized_sentences(sources)
    words = sum(map(len, sentences))
    print(f"corpus: {' + '.join(sources)}: {len(sentences):,} lines, {words:,} tokens")
    tmp = Path(tempfile.mkdtemp(prefix="bench_pretrain-"))
    corpus = tmp / "corpus.txt"
    corpus.write_text("\n".join(" ".join(s) for s in sentences) + "\n", encoding="utf-8")

    from gensim.models import Word2Vec

    model = Word2Vec(
        vector_size=SETTINGS["dim"], window=SETTINGS["window"], negative=SETTINGS["negatives"],
        min_count=SETTINGS["min_count"], sg=1, workers=2, seed=args.seed,
    )
    model.build_vocab(sentences)
    t0 = time.time()
    model.train(sentences, total_examples=len(sentences), epochs=SETTINGS["epochs"])
    gensim_seconds = time.time() - t0
    gensim_wps = words * SETTINGS["epochs"] / gensim_seconds
    gensim_q = evaluate_embeddings(WordVectors(model.wv.index_to_key, model.wv.vectors))

    run = run_tfxfer(corpus, tmp / "tfxfer", SETTINGS["epochs"], args.seed)
    # The same token count for both (tfxfer's own figure counts in-vocabulary
    # words and line ends, gensim's all tokens).
    tfxfer_wps = words * SETTINGS["epochs"] / run["training"]["seconds"]
    tfxfer_q = evaluate_embeddings(WordVectors.load(tmp / "tfxfer"))

    print(f"gensim  {gensim_wps:>10,.0f} words/s  ({gensim_seconds:.1f}s)  {fmt(gensim_q)}")
    print(f"tfxfer  {tfxfer_wps:>10,.0f} words/s  ({run['training']['seconds']:.1f}s)  {fmt(tfxfer_q)}")
    print(f"speed ratio tfxfer/gensim: {tfxfer_wps / gensim_wps:.2f}")
    print(f"tfxfer peak RSS, corpus 1x: {run['peak_rss_mb']:.0f} MB")
    if not args.skip_memory:
        big = tmp / "corpus4x.txt"
        text = corpus.read_text(encoding="utf-8")
        big.write_text(text * 4, encoding="utf-8")
        run4 = run_tfxfer(big, tmp / "tfxfer4x", 1)
        print(f"tfxfer peak RSS, corpus 4x ({4 * words:,} tokens, 1 epoch): {run4['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
