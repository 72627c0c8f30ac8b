"""Benchmark: tfxfer pretrain-text against gensim Word2Vec on the same tokens.

Corpus: NLTK brown + abc + webtext + state_union (about 2.6M tokens), tokenized
and lowercased once by tfxfer's tokenizer and given to both trainers. Settings:
skip-gram, dim 100, window 5, 5 negatives, 5 epochs, min_count 5, 2 workers for
gensim. Prints words/s of the training phase (vocabulary building excluded for
both), their ratio, analogy accuracy and wordsim353/simlex999 Spearman, then
the peak memory (RSS) of the whole `tfxfer pretrain-text` command on the corpus
at 1x and 4x its size. tfxfer reads each epoch's lines in a random order and
gensim reads them as given; the quality of gensim fed each epoch's lines in
a random order too is printed beside, to tell the trainers apart from the order.

`--end-to-end` times what a user times: each trainer from process start until
its vectors are on disk, on the raw corpus at 1x and 4x, in one run:
tfxfer's CLI; a gensim script that streams and tokenizes the file in a Python
iterator (workers=2); fastText's `train_unsupervised` (skipgram, minn=0,
maxn=0, thread=2; `pip install fasttext-wheel`) on the same tokens written by
a Python pass. Same settings, min_count 5. Prints wall times, tfxfer's phases
(start-up and compilation, reading, training, saving), peak RSS, and the
quality of each: analogy, wordsim353, simlex999, and few-shot accuracy of
averaged vectors (pros_cons, 256 labels per class, LogisticRegression, 5 draws).
Target: tfxfer >= 1.5x faster than the faster of gensim and fastText, at 1x
and at 4x, at equal quality.

`--update` checks `pretrain-text --update`: the corpus's lines are shuffled
and split in halves; vectors trained on the first half are updated with the
second, against training on the whole corpus from scratch. Prints each
command's wall time and the quality of the three outputs. Target: the update
reaches the whole corpus's quality (within 2 analogy points and 0.03
Spearman) in a fraction of its time. Analogy accuracy is also given on the
questions all three outputs can answer, as their vocabularies differ.

Usage: NLTK_DATA=../shared/data/nltk_data python scripts/bench_pretrain.py [--quick] [--end-to-end | --update]
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tfxfer.data.text import TextCorpus
from tfxfer.text.encode import token_batches
from tfxfer.text.evaluate import evaluate_embeddings
from tfxfer.text.vectors import WordVectors

SOURCES = ["nltk:brown", "nltk:abc", "nltk:webtext", "nltk:state_union"]
SETTINGS = {"dim": 100, "window": 5, "negatives": 5, "epochs": 5, "min_count": 5}


def tokenized_sentences(sources):
    sentences = []
    for tokens, lengths in token_batches(TextCorpus(sources)):
        start = 0
        for n in lengths:
            sentences.append([t.decode("utf-8") for t in tokens[start : start + n]])
            start += n
    return [s for s in sentences if s]


class ShuffledEachEpoch:
    """The sentences in a new random order each time gensim starts an epoch (it iterates once per epoch)."""

    def __init__(self, sentences: list, seed: int):
        self.sentences, self.rng = sentences, random.Random(seed)

    def __iter__(self):
        order = list(range(len(self.sentences)))
        self.rng.shuffle(order)
        return (self.sentences[i] for i in order)


def gensim_settings(seed: int) -> dict:
    """SETTINGS as gensim's `Word2Vec` takes them: skip-gram, two worker threads."""
    return {"vector_size": SETTINGS["dim"], "window": SETTINGS["window"], "negative": SETTINGS["negatives"],
            "epochs": SETTINGS["epochs"], "min_count": SETTINGS["min_count"], "sg": 1, "workers": 2, "seed": seed}


def train_gensim(vocabulary: list, sentences, seed: int) -> tuple[float, dict]:
    """gensim's skip-gram with SETTINGS, its vocabulary built from `vocabulary` and trained on `sentences`
    (a list, or an iterable read once per epoch): `(training seconds, evaluate_embeddings)`."""
    from gensim.models import Word2Vec

    model = Word2Vec(**gensim_settings(seed))
    model.build_vocab(vocabulary)
    t0 = time.time()
    model.train(sentences, total_examples=len(vocabulary), epochs=SETTINGS["epochs"])
    seconds = time.time() - t0
    return seconds, evaluate_embeddings(WordVectors(model.wv.index_to_key, model.wv.vectors))


def run_tfxfer(corpus: Path, out: Path, epochs: int, seed: int = 1) -> dict:
    """Run the CLI in a fresh process; return its config.json and peak RSS (MB)."""
    cmd = [sys.executable, "-m", "tfxfer", "pretrain-text", str(corpus), "--out", str(out), "--overwrite"]
    for key, value in {**SETTINGS, "epochs": epochs, "seed": seed}.items():
        cmd += [f"--{key.replace('_', '-')}", str(value)]
    _, peak = timed(cmd)
    run = json.loads((out / "config.json").read_text())
    run["peak_rss_mb"] = peak
    return run


def fmt(q):
    s = lambda r: "n/a" if r["spearman"] is None else f"{r['spearman']:.3f}"
    return f"analogy {q['analogy_accuracy']:.3f}  wordsim353 {s(q['wordsim353'])}  simlex999 {s(q['simlex999'])}"


TOKENIZE = r"""
import re
WORD = re.compile(r"\w+|[^\w\s]+")  # tfxfer's tokenizer, as nltk's WordPunctTokenizer on lowercased text
def tokens(line):
    return WORD.findall(line.lower())
"""

GENSIM = TOKENIZE + r"""
import sys
from gensim.models import Word2Vec
class Lines:
    def __iter__(self):
        with open(sys.argv[1], encoding="utf-8") as f:
            for line in f:
                t = tokens(line)
                if t:
                    yield t
m = Word2Vec(Lines(), vector_size=100, window=5, negative=5, sg=1, min_count=5, epochs=int(sys.argv[3]),
             workers=2, seed=1)
m.wv.save_word2vec_format(sys.argv[2])
"""

FASTTEXT = TOKENIZE + r"""
import sys, fasttext
with open(sys.argv[1], encoding="utf-8") as f, open(sys.argv[2] + ".tok", "w", encoding="utf-8") as out:
    for line in f:
        out.write(" ".join(tokens(line)) + "\n")
m = fasttext.train_unsupervised(sys.argv[2] + ".tok", model="skipgram", dim=100, ws=5, neg=5, minCount=5,
                                epoch=int(sys.argv[3]), minn=0, maxn=0, thread=2, verbose=0)
with open(sys.argv[2], "w", encoding="utf-8") as out:
    words = m.get_words()
    out.write(f"{len(words)} 100\n")
    for w in words:
        out.write(w + " " + " ".join(f"{x:.6g}" for x in m.get_word_vector(w)) + "\n")
"""


def timed(cmd: list[str]) -> tuple[float, float]:
    """Run `cmd`; return its wall time (s) and peak RSS (MB, its VmHWM, polled).

    (`ru_maxrss` of a child starts from the parent's peak on Linux: useless here.)
    """
    import threading

    t0 = time.perf_counter()
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = [0.0]

    def poll():
        while process.poll() is None:
            try:
                for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak[0] = max(peak[0], int(line.split()[1]) / 1024)
            except OSError:
                pass
            time.sleep(0.1)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    _, err = process.communicate()
    seconds = time.perf_counter() - t0
    watcher.join()
    if process.returncode:
        raise RuntimeError(f"{cmd[:4]} failed: {err.decode()[-2000:]}")
    return seconds, peak[0]


def few_shot(vectors_file: Path, draws: int = 5, per_class: int = 256) -> float:
    """Test accuracy of LogisticRegression on averaged word vectors, pros_cons."""
    import random
    import re

    import numpy as np
    from gensim.models import KeyedVectors
    from sklearn.linear_model import LogisticRegression

    from tfxfer.data.labeled import load_labeled_text

    kv = KeyedVectors.load_word2vec_format(str(vectors_file))
    texts, labels = load_labeled_text("nltk:pros_cons")
    word = re.compile(r"\w+|[^\w\s]+")
    x = np.stack([np.mean([kv[t] for t in toks if t in kv], 0) if any(t in kv for t in toks) else np.zeros(kv.vector_size)
                  for toks in (word.findall(t.lower()) for t in texts)])
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    y = np.array(labels)
    order = list(range(len(texts)))
    random.Random(0).shuffle(order)
    test, pool = np.array(order[:5000]), order[5000:]
    scores = []
    for draw in range(draws):
        rng = random.Random(draw)
        train = np.array([i for c in sorted(set(labels)) for i in rng.sample([j for j in pool if labels[j] == c], per_class)])
        scores.append(LogisticRegression(max_iter=2000).fit(x[train], y[train]).score(x[test], y[test]))
    return float(np.mean(scores))


def end_to_end(sources, seed: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench_e2e-"))
    lines = list(TextCorpus(sources))
    corpus = tmp / "corpus.txt"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp / "corpus4x.txt").write_text(corpus.read_text(encoding="utf-8") * 4, encoding="utf-8")
    tokens = sum(len(s) for s in tokenized_sentences([str(corpus)]))
    rows = []
    for scale in ("1x", "4x"):
        path = corpus if scale == "1x" else tmp / "corpus4x.txt"
        out = {}
        cmd = [sys.executable, "-m", "tfxfer", "pretrain-text", str(path), "--out", str(tmp / f"tfxfer{scale}"),
               "--overwrite", "--seed", str(seed)]
        for key, value in SETTINGS.items():
            cmd += [f"--{key.replace('_', '-')}", str(value)]
        out["tfxfer"] = (*timed(cmd), tmp / f"tfxfer{scale}" / "vectors.txt")
        out["gensim"] = (*timed([sys.executable, "-c", GENSIM, str(path), str(tmp / f"gensim{scale}.txt"),
                                 str(SETTINGS["epochs"])]), tmp / f"gensim{scale}.txt")
        try:
            out["fastText"] = (*timed([sys.executable, "-c", FASTTEXT, str(path), str(tmp / f"fasttext{scale}.vec"),
                                       str(SETTINGS["epochs"])]), tmp / f"fasttext{scale}.vec")
        except RuntimeError as e:
            print(f"fastText not run: {e}")
        run = json.loads((tmp / f"tfxfer{scale}" / "config.json").read_text())
        phases = run["timings"]
        other = out["tfxfer"][0] - sum(phases.values())
        quality = {name: (evaluate_embeddings(WordVectors.load(vec)), few_shot(vec)) for name, (_, _, vec) in out.items()}
        rows.append((scale, out, phases, other, quality))
        fastest = min(t for n, (t, _, _) in out.items() if n != "tfxfer")
        print(f"\ncorpus {scale} ({tokens * (4 if scale == '4x' else 1):,} tokens): " + ", ".join(
            f"{n} {t:.1f}s ({rss:.0f} MB)" for n, (t, rss, _) in out.items())
              + f"; tfxfer {fastest / out['tfxfer'][0]:.2f}x faster than the faster anchor (target >= 1.5)")
        print(f"  tfxfer phases: start-up and compilation {other:.1f}s, reading {phases['read_seconds']:.1f}s, "
              f"training {phases['train_seconds']:.1f}s, saving {phases['save_seconds']:.1f}s")
        for name, (q, acc) in quality.items():
            print(f"  {name:<9} {fmt(q)}  few-shot {acc:.3f}", flush=True)


def shared_analogies(outputs, path: Path) -> Path:
    """gensim's analogy questions, only those whose words every output knows, written to `path`."""
    from gensim.test.utils import datapath

    known = [set(v.words) for v in outputs]
    kept = [line for line in Path(datapath("questions-words.txt")).read_text().splitlines()
            if line.startswith(":") or all(w.lower() in k for w in line.split() for k in known)]
    path.write_text("\n".join(kept) + "\n")
    return path


def update(sources, seed: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench_update-"))
    lines = list(TextCorpus(sources))
    random.Random(seed).shuffle(lines)
    half = len(lines) // 2
    files = {"whole": lines, "first": lines[:half], "second": lines[half:]}
    for name, part in files.items():
        (tmp / f"{name}.txt").write_text("\n".join(part) + "\n", encoding="utf-8")

    def pretrain(corpus: str, out: str, *extra: str) -> float:
        cmd = [sys.executable, "-m", "tfxfer", "pretrain-text", str(tmp / corpus), "--out", str(tmp / out),
               "--overwrite", "--seed", str(seed), *extra]
        if not extra:
            for key, value in SETTINGS.items():
                cmd += [f"--{key.replace('_', '-')}", str(value)]
        return timed(cmd)[0]

    seconds = {
        "whole corpus": pretrain("whole.txt", "whole"),
        "first half": pretrain("first.txt", "first"),
        "first half, updated with the second": pretrain("second.txt", "updated", "--update", str(tmp / "first")),
    }
    outputs = {name: WordVectors.load(tmp / out) for name, out in zip(seconds, ("whole", "first", "updated"))}
    shared = shared_analogies(outputs.values(), tmp / "questions.txt")
    print(f"\n{len(lines):,} lines in halves of {half:,} and {len(lines) - half:,}")
    for name, vectors in outputs.items():
        q = evaluate_embeddings(vectors)
        common = vectors.keyed_vectors.evaluate_word_analogies(shared)[0]
        print(f"  {name:<38} {seconds[name]:5.1f}s  vocabulary {len(vectors):,}  {fmt(q)}"
              f"  analogy on the questions all three answer {common:.3f}", flush=True)
    print(f"  update / whole corpus time: {seconds['first half, updated with the second'] / seconds['whole corpus']:.2f}")
    gensim_update(files, tmp, seed)


def gensim_update(files: dict, tmp: Path, seed: int) -> None:
    """The anchor: gensim's `build_vocab(update=True)` and `train` on the same halves (same tokens)."""
    import copy

    from gensim.models import Word2Vec

    def tokens(part):
        path = tmp / f"gensim-{part}.txt"
        path.write_text("\n".join(files[part]) + "\n", encoding="utf-8")
        return tokenized_sentences([str(path)])

    settings = gensim_settings(seed)
    whole, first, second = tokens("whole"), tokens("first"), tokens("second")
    t0 = time.perf_counter()
    models = {"whole corpus": Word2Vec(whole, **settings).wv}
    t1 = time.perf_counter()
    model = Word2Vec(first, **settings)
    models["first half"] = copy.deepcopy(model.wv)
    t2 = time.perf_counter()
    model.build_vocab(second, update=True)
    model.train(second, total_examples=len(second), epochs=SETTINGS["epochs"])
    models["first half, updated with the second"] = model.wv
    seconds = dict(zip(models, (t1 - t0, t2 - t1, time.perf_counter() - t2)))
    outputs = {name: WordVectors(kv.index_to_key, kv.vectors) for name, kv in models.items()}
    shared = shared_analogies(outputs.values(), tmp / "gensim-questions.txt")
    print("gensim (training time only, same tokens):")
    for name, vectors in outputs.items():
        common = vectors.keyed_vectors.evaluate_word_analogies(shared)[0]
        print(f"  {name:<38} {seconds[name]:5.1f}s  vocabulary {len(vectors):,}  {fmt(evaluate_embeddings(vectors))}"
              f"  analogy on the questions all three answer {common:.3f}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="brown only, for a smoke run")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--end-to-end", action="store_true", help="whole commands against gensim and fastText")
    parser.add_argument("--update", action="store_true", help="pretrain-text --update against the whole corpus")
    parser.add_argument("--seed", type=int, default=1, help="seed of both trainers")
    args = parser.parse_args()
    sources = SOURCES[:1] if args.quick else SOURCES
    if args.end_to_end:
        end_to_end(sources, args.seed)
        return
    if args.update:
        update(sources, args.seed)
        return

    sentences = tokenized_sentences(sources)
    words = sum(map(len, sentences))
    print(f"corpus: {' + '.join(sources)}: {len(sentences):,} lines, {words:,} tokens")
    tmp = Path(tempfile.mkdtemp(prefix="bench_pretrain-"))
    corpus = tmp / "corpus.txt"
    corpus.write_text("\n".join(" ".join(s) for s in sentences) + "\n", encoding="utf-8")

    gensim_seconds, gensim_q = train_gensim(sentences, sentences, args.seed)
    gensim_wps = words * SETTINGS["epochs"] / gensim_seconds
    # tfxfer reads each epoch's lines in a random order (stop 52); gensim reads them as given.
    # The same order for both tells the trainers apart from what the order does.
    _, shuffled_q = train_gensim(sentences, ShuffledEachEpoch(sentences, args.seed), args.seed)

    run = run_tfxfer(corpus, tmp / "tfxfer", SETTINGS["epochs"], args.seed)
    # The same token count for both (tfxfer's own figure counts in-vocabulary
    # words and line ends, gensim's all tokens).
    tfxfer_wps = words * SETTINGS["epochs"] / run["training"]["seconds"]
    tfxfer_q = evaluate_embeddings(WordVectors.load(tmp / "tfxfer"))

    print(f"gensim  {gensim_wps:>10,.0f} words/s  ({gensim_seconds:.1f}s)  {fmt(gensim_q)}")
    print(f"gensim, each epoch's lines in a random order, as tfxfer reads them:  {fmt(shuffled_q)}")
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
