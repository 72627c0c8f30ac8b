"""Generate the sample data in data/ from WordNet 3.0 (deterministic; rerun to regenerate).

WordNet's noun glosses are short real definitions ("a large cat of the
forests ...") filed by Princeton's lexicographers under broad categories
(animal, plant, food, artifact, person...): a small, real, openly licensed
text classification task on which a few labels give a useful, imperfect model.

- data/corpus.txt: unlabeled glosses (definitions and usage examples) of a
  sample of all noun synsets, one per line, for `pretrain-text`;
- data/labeled.tsv: 40 definitions of each of five categories, labeled;
- data/unlabeled.txt: other definitions of those categories, unlabeled, the
  pool for `tfxfer suggest` (and `fit-head --unlabeled`);
- data/test.tsv: 100 more definitions per category, labeled, held out for
  `tfxfer evaluate`.

Usage: python scripts/make_sample_data.py [--wordnet /usr/share/wordnet]
(WordNet's files: Debian's `wordnet-base` package, or wordnet.princeton.edu.)
"""

import argparse
import random
from pathlib import Path

# WordNet lexicographer files of the five categories (lexnames(5WN)).
CATEGORIES = {"05": "animal", "06": "artifact", "13": "food", "18": "person", "20": "plant"}
CORPUS_SYNSETS = 30000
LABELED, TEST, POOL = 40, 100, 400


def read_glosses(path: Path) -> list[tuple[str, str, str]]:
    """`(lexfile number, definition, examples)` of each noun synset of `data.noun`."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("  ") or " | " not in line:
            continue  # the licence header
        fields, gloss = line.split(" | ", 1)
        parts = [p.strip() for p in gloss.strip().split(";")]
        definition = parts[0]
        examples = " ".join(p.strip('"') for p in parts[1:] if p.startswith('"'))
        out.append((fields.split()[1], definition, examples))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wordnet", type=Path, default=Path("/usr/share/wordnet"))
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "data")
    args = parser.parse_args()
    glosses = read_glosses(args.wordnet / "data.noun")
    rng = random.Random(20261129)
    corpus = rng.sample(glosses, CORPUS_SYNSETS)
    lines = [f"{d}. {e}".strip() if e else d for _, d, e in corpus]
    (args.out / "corpus.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    labeled, test, pool = [], [], []
    for number, name in sorted(CATEGORIES.items(), key=lambda kv: kv[1]):
        definitions = sorted({d for n, d, _ in glosses if n == number and "\t" not in d and len(d.split()) >= 4})
        rng.shuffle(definitions)
        labeled += [(d, name) for d in definitions[:LABELED]]
        test += [(d, name) for d in definitions[LABELED:LABELED + TEST]]
        pool += definitions[LABELED + TEST:LABELED + TEST + POOL]
    rng.shuffle(pool)
    for file, rows in (("labeled.tsv", labeled), ("test.tsv", test)):
        (args.out / file).write_text("text\tlabel\n" + "".join(f"{d}\t{c}\n" for d, c in rows), encoding="utf-8")
    (args.out / "unlabeled.txt").write_text("\n".join(pool) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
