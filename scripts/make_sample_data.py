"""Generate the bundled sample data in data/ (deterministic; rerun to regenerate).

data/corpus.txt: unlabeled sentences about five topics, for `pretrain-text`.
data/labeled.tsv: a small labeled set (text<TAB>label) drawn from the same
topics, for fitting a head. Synthetic, so there is no licence to worry about.
"""

import random
from pathlib import Path

TOPICS = {
    "sports": (
        "team coach player match goal season league striker referee stadium fans trophy".split(),
        "scored won lost trained celebrated defended kicked coached".split(),
    ),
    "cooking": (
        "chef recipe oven kitchen soup bread garlic sauce pasta onion flavour dinner".split(),
        "baked stirred chopped tasted seasoned roasted simmered served".split(),
    ),
    "weather": (
        "rain storm wind cloud forecast snow sunshine temperature thunder fog frost breeze".split(),
        "poured blew drifted froze cleared fell warmed rumbled".split(),
    ),
    "computing": (
        "software computer server code program database network laptop keyboard bug compiler chip".split(),
        "crashed compiled installed booted debugged updated deployed rebooted".split(),
    ),
    "music": (
        "band guitar song concert album singer drummer melody piano orchestra chorus rhythm".split(),
        "played sang recorded performed tuned composed strummed rehearsed".split(),
    ),
}
FILLERS = "the a this that every one our their".split()
LINKS = "and then while after before because so".split()
ENDINGS = [".", "!", ".", "."]


def sentence(rng: random.Random, topic: str) -> str:
    nouns, verbs = TOPICS[topic]
    words = [rng.choice(FILLERS), rng.choice(nouns), rng.choice(verbs), rng.choice(FILLERS), rng.choice(nouns)]
    if rng.random() < 0.6:
        words += [rng.choice(LINKS), rng.choice(FILLERS), rng.choice(nouns), rng.choice(verbs)]
    text = " ".join(words) + rng.choice(ENDINGS)
    return text[0].upper() + text[1:]


def main(out: Path = Path(__file__).resolve().parent.parent / "data") -> None:
    rng = random.Random(20261124)
    topics = sorted(TOPICS)
    corpus = [sentence(rng, rng.choice(topics)) for _ in range(6000)]
    (out / "corpus.txt").write_text("\n".join(corpus) + "\n", encoding="utf-8")
    rows = ["text\tlabel"] + [f"{sentence(rng, t)}\t{t}" for t in topics for _ in range(40)]
    (out / "labeled.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
