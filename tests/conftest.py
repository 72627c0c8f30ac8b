import csv
import json
import logging
import os
import random
import subprocess
import sys
import textwrap
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



@pytest.fixture(scope="session", autouse=True)
def _suite_cache(tmp_path_factory):
    """The suite's feature cache in its temporary directory: tests never fill the user's ~/.cache/tfxfer
    (each run left the features of its tiny test modules there). A test may still set its own."""
    patch = pytest.MonkeyPatch()
    patch.setenv("TFXFER_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    yield
    patch.undo()


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


# --- images and feature modules -------------------------------------------------

COLOURS = {"red": (230, 20, 20), "green": (20, 200, 40), "blue": (30, 40, 220)}
# A 1x1 GIF whose only pixel is red (palette: red, black).
RED_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\x00\x00\x00\x00\x00!\xf9\x04\x00\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


def bmp_bytes(rgb, size=8) -> bytes:
    """An uncompressed 24-bit BMP of one colour (TensorFlow has no BMP encoder)."""
    import struct

    row = bytes(rgb[::-1]) * size + b"\0" * ((4 - size * 3 % 4) % 4)
    pixels = row * size
    header = struct.pack("<2sIHHI", b"BM", 54 + len(pixels), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, size, size, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    return header + info + pixels


def solid_image_bytes(rgb, fmt: str, size: int = 16, jitter: int = 0) -> bytes:
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(jitter)
    pixels = np.clip(np.array(rgb) + rng.integers(-15, 16, size=(size, size, 3)), 0, 255).astype("uint8")
    if fmt == "png":
        return tf.io.encode_png(pixels).numpy()
    return tf.io.encode_jpeg(pixels).numpy()


def make_image_folder(root: Path, per_class: int = 4) -> Path:
    """root/<colour>/ with JPEGs and PNGs, plus a BMP and a GIF among them."""
    for colour, rgb in COLOURS.items():
        folder = root / colour
        folder.mkdir(parents=True)
        for i in range(per_class):
            fmt = "png" if i % 2 else "jpg"
            (folder / f"{colour}{i}.{fmt}").write_bytes(solid_image_bytes(rgb, fmt, jitter=i))
    (root / "blue" / "extra.bmp").write_bytes(bmp_bytes(COLOURS["blue"]))
    (root / "red" / "extra.gif").write_bytes(RED_GIF)
    return root


def save_tiny_image_module(path: Path, fixed_size: int | None = None, signature_size: int | None = None,
                           wants_255: bool = False) -> Path:
    """A weightless image feature module: mean colour + pooled fixed conv (11-d).

    `fixed_size`: the only size it takes. `signature_size`: the size its
    serving signature declares while its plain call takes any (as TF-Hub's
    and ../shared/data's modules do). `wants_255`: it normalises pixels in
    [0, 255] first, as Keras applications with built-in preprocessing do.
    """
    import numpy as np
    import tensorflow as tf

    class Tiny(tf.Module):
        def __init__(self):
            self.kernel = tf.Variable(np.random.default_rng(0).normal(size=(3, 3, 3, 8)).astype("float32"))

        @tf.function(input_signature=[tf.TensorSpec([None, fixed_size, fixed_size, 3], tf.float32)])
        def __call__(self, images):
            if wants_255:
                images = (images / 255.0 - 0.5) * 4.0
            conv = tf.nn.relu(tf.nn.conv2d(images, self.kernel, 1, "SAME"))
            return tf.concat([tf.reduce_mean(images, [1, 2]), tf.reduce_mean(conv, [1, 2])], -1)

    module = Tiny()
    sig = tf.function(lambda images: {"feature_vector": module(images)},
                      input_signature=[tf.TensorSpec([None, signature_size or fixed_size, signature_size or fixed_size, 3],
                                                     tf.float32, name="images")])
    tf.saved_model.save(module, str(path), signatures={"serving_default": sig})
    return path


def save_tf1_hub_module(path: Path, kind: str, hub: bool = True, as_text: bool = False) -> Path:
    """A module in TF1 Hub format, as `hub.Module` exported them (the `/1` - `/3` handles of tfhub.dev).

    A TF1 SavedModel with an inference graph under no tags and a training graph
    under {"train"}, each with a "default" signature, and `tfhub_module.pb`.
    `kind="image"`: images [None, 16, 16, 3] -> their mean colour, twice (6-d).
    `kind="text"`: sentences [None] -> the sqrtn mean of word vectors from a
    lookup table (initialized by the graph's main op), animals along one axis
    and vehicles along another (4-d). `hub=False`: a TF1 SavedModel as an
    Estimator exported one instead: graphs tagged "serve" and "train", each
    with a "serving_default" signature, and no `tfhub_module.pb`.
    """
    import numpy as np
    import tensorflow as tf

    v1 = tf.compat.v1
    with tf.Graph().as_default(), v1.Session() as session:
        if kind == "image":
            inputs = v1.placeholder(tf.float32, [None, 16, 16, 3], name="images")
            mix = v1.get_variable("mix", initializer=np.hstack([np.eye(3), np.eye(3)]).astype("float32"))
            features, init = tf.matmul(tf.reduce_mean(inputs, [1, 2]), mix), None
        else:
            inputs = v1.placeholder(tf.string, [None], name="sentences")
            words = ANIMALS + VEHICLES
            table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
                tf.constant(words), tf.range(len(words), dtype=tf.int64)), len(words))
            rows = np.zeros((len(words) + 1, 4), "float32")
            rows[: len(ANIMALS), 0] = rows[len(ANIMALS): len(words), 1] = 1.0
            vectors = v1.get_variable("vectors", initializer=rows)
            tokens = v1.strings.split(tf.strings.lower(inputs))
            ids = tf.sparse.SparseTensor(tokens.indices, table.lookup(tokens.values), tokens.dense_shape)
            features = tf.nn.embedding_lookup_sparse(vectors, ids, None, combiner="sqrtn")
            init = v1.tables_initializer()
        session.run([v1.global_variables_initializer(), *([init] if init is not None else [])])
        signature = v1.saved_model.signature_def_utils.predict_signature_def(
            {"images" if kind == "image" else "default": inputs}, {"default": features})
        builder, signatures = v1.saved_model.Builder(str(path)), {"default" if hub else "serving_default": signature}
        builder.add_meta_graph_and_variables(session, tags=[] if hub else ["serve"], signature_def_map=signatures,
                                             main_op=init)
        builder.add_meta_graph(tags=["train"], signature_def_map=signatures)  # the main op is shared
        builder.save(as_text=as_text)  # as_text: saved_model.pbtxt
    if hub:
        (path / "tfhub_module.pb").write_bytes(b"\x08\x03")  # ModuleDef(format=FORMAT_V3), as hub.Module wrote it
    return path


@pytest.fixture
def one_curve_draw(monkeypatch):
    """One subsample per learning-curve size, not `config.CURVE_REPEATS`, in this process: for the files
    of tests that check other things than the curve (their files say `pytestmark`), as its repeated fits
    are a third of a small fit-head's time. test_learning_curve.py, test_report.py and others check it."""
    import functools

    from tfxfer.head import learning_curve

    monkeypatch.setattr(learning_curve, "learning_curve", functools.partial(learning_curve.learning_curve, repeats=1))


@pytest.fixture(scope="session")
def tiny_image_module(tmp_path_factory) -> Path:
    return save_tiny_image_module(tmp_path_factory.mktemp("modules") / "tiny")


@pytest.fixture
def image_folder(tmp_path) -> Path:
    return make_image_folder(tmp_path / "images")


# --- labeled text ----------------------------------------------------------------

TOPIC_WORDS = {
    "animals": "cat dog horse cow sheep goat".split(),
    "vehicles": "car truck bus train tram van".split(),
}


@pytest.fixture(scope="session")
def text_module(tmp_path_factory) -> Path:
    """A text feature module whose vectors put each topic's words together."""
    import numpy as np

    from tfxfer.text.module import save_text_module

    rng = np.random.default_rng(0)
    words, vectors = ["the", "a"], [rng.normal(0, 0.1, 8), rng.normal(0, 0.1, 8)]
    for t, (topic, members) in enumerate(sorted(TOPIC_WORDS.items())):
        for w in members:
            words.append(w)
            vectors.append(rng.normal(0, 0.3, 8) + (2.0 if t == 0 else -2.0) * np.eye(8)[0])
    path = tmp_path_factory.mktemp("textmodule") / "module"
    save_text_module(words, np.array(vectors, "float32"), path)
    return path


def labeled_topic_rows(per_class: int = 12, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    rows = []
    for topic, members in sorted(TOPIC_WORDS.items()):
        for _ in range(per_class):
            rows.append((f"the {rng.choice(members)} and a {rng.choice(members)}", topic))
    return rows


def write_csv(path, rows, header=("text", "label"), **kwargs) -> Path:
    """`rows` as a CSV (after `header`, unless it is empty), written as Python's csv module writes."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, **kwargs)
        if header:
            w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture
def labeled_tsv(tmp_path) -> Path:
    path = tmp_path / "train.tsv"
    path.write_text("text\tlabel\n" + "".join(f"{t}\t{l}\n" for t, l in labeled_topic_rows()))
    return path


# --- faults ------------------------------------------------------------------------


@pytest.fixture
def read_only_dir(tmp_path):
    """A directory nobody can write into, root included (chattr +i for root, chmod otherwise)."""
    import shutil
    import subprocess

    path = tmp_path / "read-only"
    path.mkdir()
    if os.geteuid() == 0:
        if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
            pytest.skip("running as root and chattr +i is not available")
        yield path
        subprocess.run(["chattr", "-i", str(path)], check=False)
    else:
        path.chmod(0o555)
        yield path
        path.chmod(0o755)


@pytest.fixture(scope="session")
def shared_feature_cache(tmp_path_factory) -> Path:
    """One feature cache for the session: the hymenoptera tests extract the same photos once."""
    return tmp_path_factory.mktemp("feature-cache")


def run_without_tfxfer(code: str) -> dict:
    """Run `code` in a fresh process where tfxfer cannot be imported; return its JSON.

    `sys.modules["tfxfer"] = None` makes any import of tfxfer fail, so a model
    that needed tfxfer's code (a custom object) to load would fail here.
    """
    code = (
        "import sys\nsys.modules['tfxfer'] = None\nimport json\nimport tensorflow as tf\n" + textwrap.dedent(code)
        + "\nassert type(m).__module__.startswith('tensorflow'), type(m)  # a plain restored object\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/", timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def memory_growth_kb(setup: str, measured: str, data: bytes = b"") -> int:
    """KB by which the peak memory of a fresh Python process grows while `measured` runs, after `setup`
    (`data` on its standard input, as `DATA`). A process of its own, and its own high-water mark (VmHWM):
    that of a test worker which ran other tests first says nothing of one statement, and getrusage's
    ru_maxrss keeps, across exec, the peak of the worker the child was forked from."""
    if not Path("/proc/self/status").exists():
        pytest.skip("measures memory through Linux's /proc")
    peak = "int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0])"
    code = (f"import sys\nDATA = sys.stdin.buffer.read()\n{textwrap.dedent(setup)}\n_before = {peak}\n"
            f"{textwrap.dedent(measured)}\nprint({peak} - _before)")
    result = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True, timeout=300,
                            cwd=Path(__file__).parent.parent)
    assert result.returncode == 0, result.stderr[-3000:].decode(errors="replace")
    return int(result.stdout.split()[-1])


@pytest.fixture(autouse=True)
def _cli_logging_undone():
    # The CLI run in this process sets logging up for a terminal: tfxfer's records go to its own
    # handler and stop there. Left so, the next test's caplog would see none of them (it did, in some
    # orders of the tests, with the lowest versions of the dependencies).
    loggers = [logging.getLogger(name) for name in ("tfxfer", "tfxfer.progress", "absl", "tensorflow")]
    saved = [(lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    yield
    for lg, (handlers, level, propagate) in zip(loggers, saved):
        lg.handlers[:], lg.propagate = handlers, propagate
        lg.setLevel(level)


def run_cli(args):
    """The `tfxfer` command line, run in this process by click's runner; arguments may be paths."""
    from click.testing import CliRunner

    from tfxfer.cli import main

    return CliRunner().invoke(main, [str(a) for a in args])


def cli_error(args) -> str:
    """The one `Error:` line of a command that must fail with status 1, without a traceback."""
    result = run_cli(args)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    (line,) = [l for l in result.output.splitlines() if l.startswith("Error:")]
    return line


def blobs(n_per_class=20, dim=5, seed=0, spread=1.0):
    """Three classes of Gaussian points around the first three axes: features float32 `[3n, dim]`, labels."""
    import numpy as np

    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(0, spread, (n_per_class, dim)) + 3 * np.eye(dim)[c] for c in range(3)])
    y = np.array([c for c in "abc" for _ in range(n_per_class)])
    return x.astype("float32"), y
