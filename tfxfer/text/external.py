"""Word vectors trained elsewhere as a text feature module.

Public word vectors (GloVe, fastText's `.vec` and `.bin`, word2vec's `.bin`)
were trained on billions of words; a few labels on top of them often beat
vectors pretrained on a small corpus. `--features glove.6B.100d.txt` makes
one a text feature module once (the module is cached) and uses it as any
other: the same tokenizer and averaging, in the export too. Files are taken
as they are downloaded: gzipped, a `.zip` of one (Stanford's GloVe), from
gensim-data, or as gensim's `save` wrote them. Text files are read here
(gensim's reader stops at a word that holds a space); binary ones and
gensim's saves by gensim.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import pickle
import shutil
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from tfxfer.cache_dir import default_cache_dir
from tfxfer.errors import DataError

# Written beside the converted SavedModel: where its vectors came from.
SOURCE_FILE = "tfxfer_vectors.json"
_TEXT_SUFFIXES = (".txt", ".vec", ".txt.gz", ".vec.gz")
# What gensim's `save` is given for a model or its vectors, by its documentation and users.
_GENSIM_SUFFIXES = (".model", ".kv", ".wordvectors", ".w2v")
# The first 4 bytes of a fastText model (`.bin`, as fasttext.cc's cc.en.300.bin), not word2vec's binary format.
_FASTTEXT_MAGIC = (793712314).to_bytes(4, "little")


def _numbers(fields: list[str]) -> bool:
    try:
        [float(f) for f in fields]
    except ValueError:
        return False
    return True


def vectors_format(path: str | Path) -> dict | None:
    """How to read a word-vector file: `{"binary", "no_header"}`, `{"fasttext": True}` for a fastText
    model, `{"gensim": True}` for what gensim's `save` wrote, `{"zip_member"}` for a `.zip` of one text
    file; or `None` when `path` is not one. Word-vector files are word2vec or fastText `.bin`, and text
    (`.txt`/`.vec`: lines of a word and its numbers, after an optional `COUNT DIM` header as word2vec and
    fastText write), gzipped or not; a plain `.gz` (gensim-data's) is either, told by its content."""
    path = Path(path)
    name = path.name.lower()
    # gensim-data's downloads (~/gensim-data/NAME/NAME.gz) are text or binary, told by their content.
    gz_only = name.endswith(".gz") and not name.endswith((".tar.gz", ".bin.gz", *_TEXT_SUFFIXES))
    if name.endswith((".bin", ".bin.gz")):  # GoogleNews-vectors-negative300.bin.gz, cc.en.300.bin.gz
        try:
            with (gzip.open if name.endswith(".gz") else open)(path, "rb") as f:
                start = f.read(4)
        except (OSError, EOFError):
            start = b""
        if start.startswith((b"PK\x03\x04", b"\x80")):  # a zip or a pickle: PyTorch's pytorch_model.bin
            return None
        return {"fasttext": True} if start == _FASTTEXT_MAGIC else {"binary": True, "no_header": False}
    if name.endswith(_GENSIM_SUFFIXES):  # saved by gensim (`model.save`, `wv.save`): a pickle
        try:
            with open(path, "rb") as f:
                return {"gensim": True} if f.read(1) == b"\x80" else None
        except OSError:
            return None
    if name.endswith(".zip"):
        try:
            members = zipped_vectors(path)
        except (OSError, zipfile.BadZipFile):
            return None
        return {"zip_member": members[0]} if len(members) == 1 else None
    if not (name.endswith(_TEXT_SUFFIXES) or gz_only) or not path.is_file():
        return None
    opener = gzip.open if name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as f:
            lines = [f.readline().rstrip("\n").split(" ") for _ in range(2)]
    except (OSError, EOFError):
        return None
    first, second = (list(filter(None, line)) for line in lines)
    if len(first) == 2 and all(f.isdigit() for f in first):  # COUNT DIM
        dim = int(first[1])
        ok = len(second) == dim + 1 and _numbers(second[1:])
        return {"binary": not ok, "no_header": False} if ok or gz_only else None
    if len(first) >= 3 and _numbers(first[1:]) and len(second) == len(first) and _numbers(second[1:]):
        return {"binary": False, "no_header": True}  # GloVe: no header
    return None


def read_vectors(path: str | Path, max_words: int | None) -> tuple[list[str], np.ndarray, int]:
    """The words (lowercased and composed, NFC; the file's first of the variants kept) and vectors of a word-vector
    file, and how many words were read; `DataError` when it is not one or cannot be read.

    Args:
        path: A word-vector file (`vectors_format`). A fastText model is read whole, subword n-grams too;
            its words' vectors are taken.
        max_words: Read at most this many words, the file's first (these
            files list the most frequent words first); `None` for all.
    """
    from gensim.models import KeyedVectors

    form = vectors_format(path)
    if form and "zip_member" in form:
        with _first_lines(path, form["zip_member"], max_words) as member:
            return read_vectors(member, max_words)
    if form is None:
        raise DataError(f"{str(path)!r} is not a word-vector file: expected lines of a word and its numbers "
                        "(GloVe, fastText .vec, word2vec text, after an optional 'COUNT DIM' line), a word2vec .bin, a "
                        "fastText model .bin or gensim's saved vectors.")
    try:
        if form.get("fasttext"):
            keys, matrix = _fasttext_vectors(Path(path), max_words)  # most frequent first too
        elif form.get("gensim"):
            vectors = _gensim_saved(Path(path))
            keys, matrix = vectors.index_to_key[:max_words], vectors.vectors
        elif form["binary"]:
            vectors = KeyedVectors.load_word2vec_format(str(path), limit=max_words, **form)
            keys, matrix = vectors.index_to_key, vectors.vectors
        else:
            keys, matrix = _read_text(Path(path), max_words, header=not form["no_header"])
    except NotImplementedError:  # gensim reads fastText's unsupervised models alone
        raise DataError(f"{str(path)!r} is a supervised fastText model (a classifier, from `fasttext supervised`), "
                        "whose vectors gensim does not read. Pass an unsupervised fastText model (skipgram or "
                        "cbow) or a .vec file of word vectors.") from None
    except (ValueError, UnicodeDecodeError, EOFError, OSError, AssertionError) as e:
        raise DataError(f"Cannot read the word vectors of {str(path)!r} ({e}): is the file whole? Each line "
                        "holds a word and the same count of numbers.") from None
    words, rows, seen = [], [], set()
    for row, word in enumerate(keys):
        key = unicodedata.normalize("NFC", word.lower())  # as the tokenizer lowercases and composes texts
        if key and key not in seen:
            seen.add(key)
            words.append(key)
            rows.append(row)
    return words, np.asarray(matrix[rows], np.float32), len(keys)


def _fasttext_vectors(path: Path, max_words: int | None) -> tuple[list[str], np.ndarray]:
    """The first `max_words` words of a fastText model and their vectors: a word's own row and those of its
    character n-grams, averaged, as fastText's `get_word_vector` and gensim's `FastTextKeyedVectors` give them.

    The model's matrix is read a row where needed: gensim's `load_facebook_vectors` reads it whole
    (cc.en.300.bin: 2M words and 2M n-gram buckets of 300 floats, 4.8 GB) and then computes every word's
    vector (2.4 GB more). Rows are read with `pread`, not a memory map, whose faults the kernel serves with
    whole folios: 10 words of a 100 MB model mapped 92 MB. The header and dictionary are read with gensim's
    reader of the format. A gzipped model is decompressed first, beside the module cache.
    """
    if not path.name.lower().endswith(".gz"):
        return _fasttext_rows(path, max_words)
    default_cache_dir().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".fasttext-", dir=default_cache_dir()) as tmp:
        plain = Path(tmp) / path.name[:-3]
        with gzip.open(path, "rb") as packed, open(plain, "wb") as out:
            shutil.copyfileobj(packed, out, 1 << 20)
        return _fasttext_rows(plain, max_words)


def _fasttext_rows(path: Path, max_words: int | None) -> tuple[list[str], np.ndarray]:
    from gensim.models import _fasttext_bin as fasttext_bin
    from gensim.models.fasttext import ft_ngram_hashes

    with open(path, "rb") as fin:
        magic, _ = fasttext_bin._struct_unpack(fin, "@2i")  # old models: (dim, ws), unused here
        new_format = magic == fasttext_bin._FASTTEXT_FILEFORMAT_MAGIC
        header = {name: fasttext_bin._struct_unpack(fin, form)[0] for name, form in
                  (fasttext_bin._NEW_HEADER_FORMAT if new_format else fasttext_bin._OLD_HEADER_FORMAT)}
        # A supervised model's labels: gensim raises NotImplementedError, which read_vectors reports.
        vocabulary, _, words_count, _ = fasttext_bin._load_vocab(fin, new_format)
        if new_format:
            fasttext_bin._struct_unpack(fin, "@?")  # quantized: gensim does not read those either
        rows, dim = fasttext_bin._struct_unpack(fin, "@2q")
        offset = fin.tell()
    row_bytes = dim * 4
    if rows < words_count or path.stat().st_size < offset + rows * row_bytes:
        raise EOFError(f"the matrix of {rows:,} x {dim} floats is cut short")
    words = list(vocabulary)[:words_count][:max_words]
    vectors = np.empty((len(words), dim), np.float32)
    subwords = header.get("bucket", 0) and header.get("maxn", 0)
    with open(path, "rb") as matrix:
        for row, word in enumerate(words):
            grams = ft_ngram_hashes(word, header["minn"], header["maxn"], header["bucket"]) if subwords else []
            read = b"".join(os.pread(matrix.fileno(), row_bytes, offset + i * row_bytes)
                            for i in (row, *(words_count + int(h) for h in grams)))
            vectors[row] = np.frombuffer(read, np.float32).reshape(-1, dim).mean(axis=0)  # its own row and n-grams'
    return words, vectors


def _gensim_saved(path: Path):
    """The `KeyedVectors` of what gensim's `save` wrote: a model (its `wv`) or the vectors themselves."""
    from gensim.models import KeyedVectors
    from gensim.utils import SaveLoad

    try:
        saved = SaveLoad.load(str(path), mmap="r")  # large arrays are .npy files beside it, mapped
    except (pickle.UnpicklingError, AttributeError, ImportError, EOFError, OSError, ValueError) as e:
        raise DataError(f"Cannot read {str(path)!r} as vectors saved by gensim ({e}). Pass the file gensim's "
                        "save wrote, with the .npy files it wrote beside it, or word vectors in text.") from None
    vectors = getattr(saved, "wv", saved)
    if not isinstance(vectors, KeyedVectors):
        raise DataError(f"{str(path)!r} holds a gensim {type(saved).__name__}, which has no word vectors.")
    return vectors


def _read_text(path: Path, max_words: int | None, header: bool) -> tuple[list[str], np.ndarray]:
    """The words and vectors of a text file of lines of a word and its numbers, the first `max_words`.

    gensim's reader stops at a line whose word holds a space, which glove.840B.300d.txt has ('. . .',
    'at name@domain.com'): such lines are skipped, as no token of the tokenizer holds a space. A line
    with fewer numbers than the others (a download cut short) is an error.
    """
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    words, vectors, dim = [], [], None
    with opener(path, "rt", encoding="utf-8", errors="replace", newline="\n") as f:
        if header:
            dim = int(f.readline().split()[1])
        for number, line in enumerate(f, 2 if header else 1):
            if max_words is not None and len(words) >= max_words:
                break
            fields = line.rstrip().split(" ")
            dim = dim or len(fields) - 1
            if len(fields) > dim + 1:
                continue  # a word that holds spaces
            if len(fields) < dim + 1:
                raise ValueError(f"line {number:,} has {len(fields) - 1} numbers, not {dim}")
            words.append(fields[0])
            vectors.append(np.array(fields[1:], np.float32))
    return words, np.array(vectors, np.float32).reshape(len(vectors), dim or 0)


def zipped_vectors(path: str | Path) -> list[str]:
    """The word-vector text files a `.zip` holds, as Stanford's GloVe downloads (glove.6B.zip: four,
    glove.840B.300d.zip: one) come; none where it holds a SavedModel."""
    with zipfile.ZipFile(path) as zipped:
        names = [i.filename for i in zipped.infolist() if not i.is_dir()]
    if any(Path(n).name in ("saved_model.pb", "saved_model.pbtxt") for n in names):
        return []
    return [n for n in names if n.lower().endswith(_TEXT_SUFFIXES) and not Path(n).name.startswith(".")]


@contextlib.contextmanager
def _first_lines(path: Path, member: str, lines: int | None) -> Iterator[Path]:
    """The first `lines` lines (and a header) of a zipped text file, in a temporary file named as it is:
    the words read, without extracting gigabytes (glove.840B.300d.txt is 5.6 GB)."""
    with tempfile.TemporaryDirectory(prefix="tfxfer-vectors-") as tmp:
        out = Path(tmp) / Path(member).name.removesuffix(".gz").removesuffix(".GZ")
        gzipped = member.lower().endswith(".gz")
        with zipfile.ZipFile(path) as zipped, zipped.open(member) as raw, open(out, "wb") as target, \
                (gzip.GzipFile(fileobj=raw) if gzipped else contextlib.nullcontext(raw)) as source:
            if lines is None:
                shutil.copyfileobj(source, target)
            else:
                target.writelines(line for _, line in zip(range(lines + 1), source))
        yield out


def module_from_vectors(path: str | Path, out: str | Path, max_words: int) -> dict:
    """Save the word vectors of `path` (`read_vectors`) as a text feature module at `out`
    (which must not exist).

    Returns:
        `{"source", "words", "dim", "read"}`, also written to `out/SOURCE_FILE`.
    """
    # Imported here: it imports TensorFlow, which `similar` does without to read vectors.
    from tfxfer.text.module import save_text_module

    words, vectors, read = read_vectors(path, max_words)
    save_text_module(words, vectors, out)
    info = {"source": str(Path(path).resolve()), "words": len(words), "dim": int(vectors.shape[1]), "read": read,
            **({"subwords_unused": True} if vectors_format(path) == {"fasttext": True} else {})}
    (Path(out) / SOURCE_FILE).write_text(json.dumps(info, indent=2), encoding="utf-8")
    return info


def vectors_note(module_dir: Path) -> str | None:
    """What a module converted from word vectors is, for the report; `None` for other modules."""
    try:
        info = json.loads((module_dir / SOURCE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return (f"a text module made from the word vectors of {info['source']}: {info['words']:,} lowercased words "
            f"of {info['dim']} dimensions (the file's first {info['read']:,}); a text's vector is the mean of its "
            f"known words' (cached in {module_dir})."
            + (" The fastText model's subword vectors, which it gives words outside its vocabulary, are not used: "
               "the module knows its words alone." if info.get("subwords_unused") else ""))
