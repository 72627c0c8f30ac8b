"""Benchmark: few-shot image classification on hymenoptera (ants vs bees).

Fits tfxfer heads on the EfficientNet-Lite0 features of ../shared/data/models
with 8 and 16 training images per class (10 random draws each) and with the
full train set, and reports accuracy on the 153 val images.
Targets: >= 0.95 with the full train set, >= 0.92 with 8 per class.

Usage: python scripts/bench_fewshot_images.py [--draws 10]
"""

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from tfxfer.data.image_files import load_image_list  # noqa: E402
from tfxfer.features.load import load_features  # noqa: E402
from tfxfer.fitting import fit_head  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
DATA = SHARED / "images" / "hymenoptera_data"
MODULE = SHARED / "models" / "efficientnet_lite0_feature_vector"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--draws", type=int, default=10)
    args = parser.parse_args()
    module = load_features(MODULE)
    cache = Path(tempfile.mkdtemp(prefix="bench_images-"))
    paths, labels = load_image_list(DATA / "train")
    t0 = time.time()
    full = fit_head(module, DATA / "train", validation=DATA / "val", cache_dir=cache)
    print(f"full train set ({len(paths)} images): val accuracy {full.report['validation']['accuracy']:.3f} "
          f"(head: {full.report['head']}; {time.time() - t0:.0f}s incl. feature extraction)")
    by_class = {c: [p for p, l in zip(paths, labels) if l == c] for c in sorted(set(labels))}
    for per_class in (8, 16):
        scores = []
        for draw in range(args.draws):
            rng = random.Random(draw)
            rows = [(p, c) for c, ps in by_class.items() for p in rng.sample(ps, per_class)]
            csv = cache / f"train_{per_class}_{draw}.csv"
            csv.write_text("path,label\n" + "".join(f"{p},{c}\n" for p, c in rows))
            fitted = fit_head(module, csv, validation=DATA / "val", cache_dir=cache, seed=draw)
            scores.append(fitted.report["validation"]["accuracy"])
        print(f"{per_class:>2} per class: val accuracy {np.mean(scores):.3f} ± {np.std(scores):.3f} over {args.draws} draws")


if __name__ == "__main__":
    main()
