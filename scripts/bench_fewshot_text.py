"""Benchmark: few-shot sentiment on sentence_polarity, tfxfer against two baselines.

- 2,000 sentence_polarity sentences are held out (fixed seed) for testing.
- Unlabeled text: brown + abc + webtext + state_union plus the other 8,662
  sentence_polarity sentences. tfxfer pretrains on it (defaults: dim 100,
  5 epochs; `--pooling sif` for its sentence vectors), and gensim Word2Vec
  (skip-gram, same settings) too.
- For k = 16, 64, 256 labeled sentences (balanced, 10 random draws each):
  tfxfer fit-head on its text module; gensim vectors averaged per sentence with
  scikit-learn LogisticRegression; TF-IDF with LogisticRegression on the k
  labels alone (no transfer). Mean and std test accuracy of each.
Target: tfxfer beats both at every k.

Usage: NLTK_DATA=../shared/data/nltk_data python scripts/bench_fewshot_text.py [--draws 10]
"""

import argparse
import dataclasses
import os
import random
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from tfxfer import config  # noqa: E402
from tfxfer.data.labeled import load_labeled_text  # noqa: E402
from tfxfer.data.text import TextCorpus  # noqa: E402
from tfxfer.features.extract import extract_text_features  # noqa: E402
from tfxfer.features.load import load_features  # noqa: E402
from tfxfer.head.search import train_head  # noqa: E402
from tfxfer.text.encode import token_batches  # noqa: E402
from tfxfer.text.pretrain import pretrain_text  # noqa: E402

UNLABELED = ["nltk:brown", "nltk:abc", "nltk:webtext", "nltk:state_union"]


def tokens(lines):
    out = []
    for flat, lengths in token_batches(lines):
        start = 0
        for n in lengths:
            out.append([t.decode() for t in flat[start : start + n]])
            start += n
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--draws", type=int, default=10)
    args = parser.parse_args()
    texts, labels = load_labeled_text("nltk:sentence_polarity")
    order = list(range(len(texts)))
    random.Random(0).shuffle(order)
    test, pool = order[:2000], order[2000:]
    tmp = Path(tempfile.mkdtemp(prefix="bench_text-"))
    corpus = tmp / "unlabeled.txt"
    with open(corpus, "w", encoding="utf-8") as f:
        for line in TextCorpus(UNLABELED):
            f.write(line + "\n")
        for i in pool:
            f.write(texts[i] + "\n")
    # Smooth-inverse-frequency pooling; the baseline averages gensim's vectors plainly.
    cfg = dataclasses.replace(config.PRETRAIN, pooling="sif", epochs=config.MIN_EPOCHS)  # gensim gets the same
    pretrain_text(corpus, tmp / "vectors", cfg)
    module = load_features(tmp / "vectors" / "module")
    feats = extract_text_features(module, texts).features

    from gensim.models import Word2Vec

    sentences = tokens(TextCorpus([corpus]))
    w2v = Word2Vec(sentences, sg=1, negative=cfg.negatives, vector_size=cfg.dim, window=cfg.window,
                   epochs=cfg.epochs, min_count=cfg.min_count, workers=2, seed=1).wv
    text_tokens = tokens(texts)
    avg = np.stack([
        np.mean([w2v[t] for t in toks if t in w2v], 0) if any(t in w2v for t in toks) else np.zeros(cfg.dim)
        for toks in text_tokens
    ])

    y = np.array(labels)
    pos = [i for i in pool if labels[i] == "pos"]
    neg = [i for i in pool if labels[i] == "neg"]
    print(f"{'k':>5}  {'tfxfer':>15}  {'gensim avg + LR':>17}  {'TF-IDF + LR':>15}")
    for k in (16, 64, 256):
        results = {"tfxfer": [], "gensim": [], "tfidf": []}
        for draw in range(args.draws):
            rng = random.Random(draw)
            train = rng.sample(pos, k // 2) + rng.sample(neg, k // 2)
            head, _, _ = train_head(feats[train], y[train], with_learning_curve=False, seed=draw)
            results["tfxfer"].append(head.score(feats[test], y[test]))
            lr = LogisticRegression(max_iter=1000).fit(avg[train], y[train])
            results["gensim"].append(lr.score(avg[test], y[test]))
            tfidf = TfidfVectorizer().fit([texts[i] for i in train])
            lr = LogisticRegression(max_iter=1000).fit(tfidf.transform([texts[i] for i in train]), y[train])
            results["tfidf"].append(lr.score(tfidf.transform([texts[i] for i in test]), y[test]))
        row = "  ".join(f"{np.mean(r):.3f} ± {np.std(r):.3f}".rjust(15 if n != "gensim" else 17) for n, r in results.items())
        print(f"{k:>5}  {row}", flush=True)


if __name__ == "__main__":
    main()
