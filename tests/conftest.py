import os
import random
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
NLTK_DATA = SHARED_DATA / "nltk_data"

needs_shared_data = pytest.mark.skipif(
    not NLTK_DATA.is_dir(), reason="../shared/data is not present"
)

if NLTK_DATA.is_dir():
    import nltk

    if str(NLTK_DATA) not in nltk.data.path:
        nltk.data.path.insert(0, str(NLTK_DATA))

ANIMALS = "cat dog horse cow sheep goat".split()
VEHICLES = "car truck bus train tram van".split()


def topic_sentences(n: int = 1500, seed: int = 0) -> list[str]:
    """Sentences in which animals and vehicles keep to their own contexts."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        if rng.random() < 0.5:
            a, b = rng.sample(ANIMALS, 2)
            out.append(f"The {a} eats grass with the {b} in the field")
        else:
            a, b = rng.sample(VEHICLES, 2)
            out.append(f"The {a} drives on the road behind the {b} downtown")
    return out


@pytest.fixture
def topic_corpus(tmp_path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(topic_sentences()) + "\n", encoding="utf-8")
    return path
