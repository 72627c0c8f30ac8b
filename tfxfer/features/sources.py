"""Where a feature module comes from: the local SavedModel directory a spec names.

`resolve(spec)` turns a TF-Hub handle (downloaded and cached by
tensorflow_hub: `features.hub`), a
SavedModel directory (or a `pretrain-text` output holding one), a `gs://`
folder of one, a `.tar.gz` or `.zip` of one, a Keras model file, or a word-vector file
into a SavedModel directory; folders elsewhere, archives, Keras files and
vectors are made into one once, in the module cache. `refuse_fit_head_export` stops a
classifier export given where a feature module belongs.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shlex
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from tfxfer import config
from tfxfer.cache_dir import default_cache_dir, write_about
from tfxfer.errors import DataError
from tfxfer.features.hub import handle_url, resolve_handle
from tfxfer.features.keras_files import export_keras_model, export_saved_model_features, tfjs_model_fix
from tfxfer.layout import LABELS_FILE, SAVED_MODEL_FILES, is_saved_model, read_fit_report
from tfxfer.text.external import module_from_vectors, vectors_format, zipped_vectors

logger = logging.getLogger(__name__)


def _is_remote_folder(spec: str) -> bool:
    """A folder on a file system TensorFlow reads (`gs://` built in; `s3://`, `hdfs://` with tensorflow-io)."""
    return "://" in spec and not spec.startswith(("http://", "https://"))


def _cached_module(target: Path, make: Callable[[Path], Path], source: Path | str, verb: str) -> Path:
    """`target`, a SavedModel made once into the module cache: `make(tmp)` writes it under `tmp` and
    returns its directory, which is renamed into place (a process that got there first wins)."""
    if is_saved_model(target):
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    except OSError as e:
        raise DataError(f"Cannot {verb} {str(source)!r} into the module cache {str(target.parent)!r}: "
                        f"{e.strerror or e}. Set TFXFER_CACHE_DIR to a writable directory.") from None
    try:
        made = make(tmp)
        # For `tfxfer cache`, which reads it as the origin too.
        write_about(made, source=str(source.resolve()) if isinstance(source, Path) else source)
        try:
            made.rename(target)
        except OSError:
            if not is_saved_model(target):  # not just another process that got there first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _extract_archive(archive: Path) -> Path:
    """Extract a SavedModel archive once into the module cache; return its directory."""

    def extract(tmp: Path) -> Path:
        try:
            if zipfile.is_zipfile(archive):  # zipfile keeps every name inside `tmp` and makes no links
                with zipfile.ZipFile(archive) as zipped:
                    zipped.extractall(tmp)
            else:
                with tarfile.open(archive) as tar:
                    if hasattr(tarfile, "data_filter"):
                        tar.extractall(tmp, filter="data")
                    else:  # Pythons before 3.10.12 / 3.11.4 (Debian 12's 3.11.2) have no filters
                        tar.extractall(tmp, members=_plain_members(tar, archive))
        except (tarfile.TarError, zipfile.BadZipFile, OSError) as e:
            raise DataError(f"Cannot extract {str(archive)!r}: {e}.") from None
        found = [p.parent for name in SAVED_MODEL_FILES for p in tmp.rglob(name)]
        if len(found) != 1:
            tfjs = [fix for p in tmp.rglob("model.json") if (fix := tfjs_model_fix(p, str(p.relative_to(tmp))))]
            raise DataError(f"{str(archive)!r} must hold exactly one SavedModel (saved_model.pb); found "
                            + (f"none: it holds {tfjs[0]} Extract the archive first for the converter."
                               if tfjs and not found else f"{len(found)}."))
        return found[0]

    digest = hashlib.sha256(archive.read_bytes()).hexdigest()[:20]
    return _cached_module(default_cache_dir() / "modules" / digest, extract, archive, "extract")


def _copied_module(location: str) -> Path:
    """A SavedModel folder at a URL TensorFlow's file systems read (`gs://...`), copied once into the module
    cache: tfxfer reads a module's files (its identity, its vocabulary) as local ones. The copy is kept
    while the remote saved_model.pb and variables keep their sizes and times."""
    import tensorflow as tf

    location = location.rstrip("/")
    files = [f"{location}/saved_model.pb", f"{location}/variables/variables.index"]
    try:  # each remote call is a request: the files' existence and stats are read once
        found = [tf.io.gfile.exists(name) for name in files]
        if not found[0]:
            raise DataError(f"Feature module {location!r} not found: no saved_model.pb there. Pass the folder "
                            "that holds the SavedModel.")
        stats = [tf.io.gfile.stat(name) for name, there in zip(files, found) if there]
    except tf.errors.OpError as e:
        raise DataError(f"Cannot read the feature module {location!r}: {e.message.splitlines()[0]}. Check the "
                        "path, the network and your access to it (for gs://: gcloud auth application-default "
                        "login), or copy the folder here and pass it.") from None
    key = "|".join([location, *(f"{s.length}:{s.mtime_nsec}" for s in stats)])
    target = default_cache_dir() / "modules" / f"remote-{hashlib.sha256(key.encode()).hexdigest()[:20]}"
    if not (target / "saved_model.pb").is_file():
        logging.getLogger(config.PROGRESS_LOG).info("Copying the module at %s into the module cache (once).",
                                                    location)

    def copy(tmp: Path) -> Path:
        try:
            for folder, _, files in tf.io.gfile.walk(location):
                local = tmp / "module" / folder[len(location):].lstrip("/")
                local.mkdir(parents=True, exist_ok=True)
                for name in files:
                    tf.io.gfile.copy(f"{folder.rstrip('/')}/{name}", str(local / name), overwrite=True)
        except tf.errors.OpError as e:
            raise DataError(f"Cannot copy the feature module {location!r}: {e.message.splitlines()[0]}") from None
        return tmp / "module"

    return _cached_module(target, copy, location, "copy")


def _plain_members(tar: tarfile.TarFile, archive: Path) -> list[tarfile.TarInfo]:
    """The archive's files and folders, as the "data" filter lets them through: none may lead outside the
    folder it is extracted to. A SavedModel holds nothing else, so links and devices are refused."""
    members = tar.getmembers()
    for m in members:
        name = Path(m.name)
        if not (m.isfile() or m.isdir()) or name.is_absolute() or ".." in name.parts:
            raise DataError(f"{str(archive)!r} holds {m.name!r}, which is not a plain file or folder inside the "
                            "archive; a SavedModel archive holds nothing else.")
    return members


def refuse_fit_head_export(spec: str | Path) -> None:
    """Refuse a fit-head export (its directory, a model's, or a version) given as a feature module.

    Its `serving_default` answers classes, and its `features` signature holds the lexical columns
    of one head; the module it was trained on is the one to build on, named in its report.
    """
    path = Path(spec).expanduser()
    path = _folder_of(path) or path
    if not path.is_dir():
        return
    versions = [v for v in (path, *path.glob("*"), *path.glob("*/*"))
                if (v / "saved_model.pb").is_file() and (v / "assets" / LABELS_FILE).is_file()]
    if not versions:
        return
    latest = max(versions, key=lambda v: (v.parent, int(v.name) if v.name.isdigit() else -1))
    trained_on = read_fit_report(latest).get("feature_module")
    module = trained_on.get("spec") if isinstance(trained_on, dict) else None
    fix = f", --features {module}" if module else " (its report names it)"
    raise DataError(f"{str(spec)!r} is a fit-head export (a classifier), not a feature module. Pass the feature "
                    f"module it was trained on{fix}; `tfxfer predict`, `evaluate` and `suggest` take the export.")


def _folder_of(path: Path) -> Path | None:
    """The SavedModel folder of one of its files given instead (`.../saved_model.pb`, as a shell completes
    the path), else `None`."""
    if path.name in (*SAVED_MODEL_FILES, "fingerprint.pb", "keras_metadata.pb", "tfhub_module.pb") \
            and path.is_file() and is_saved_model(path.parent):
        return path.parent
    return None


def _nested_hint(path: Path) -> str:
    """The fix for a directory one level above SavedModels (a folder of several)."""
    inside = sorted(str(p) for p in path.glob("*/") if is_saved_model(p))
    if not inside:
        return "Pass a SavedModel directory, a .tar.gz or .zip of one, or a TF-Hub handle."
    return f"It holds {' and '.join(inside[:3])}: pass {'that' if len(inside) == 1 else 'one of them'}."


def _cache_target(path: Path, prefix: str, news: str, settings: str = "", changes: Path | None = None) -> Path:
    """Where the module made from the file `path` is cached (made again when the file, or `changes`, changes),
    and the news of making it (`news`, with `%s` for the file) when it is not there yet."""
    stat = (changes or path).stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}{settings}"
    target = default_cache_dir() / "modules" / f"{prefix}-{hashlib.sha256(key.encode()).hexdigest()[:20]}"
    if news and not is_saved_model(target):
        # News of a slow step, not a problem: the progress log, shown without a "Warning:".
        logging.getLogger(config.PROGRESS_LOG).info(news, path)
    return target


def _vectors_module(path: Path) -> Path:
    """The text feature module of a word-vector file, made once into the module cache."""
    target = _cache_target(path, "vectors", "Making a text feature module of the word vectors in %s (once; it is "
                           "cached).", f"|{config.VECTORS_MAX_WORDS}")

    def make(tmp: Path) -> Path:
        module_from_vectors(path, tmp / "module", config.VECTORS_MAX_WORDS)
        return tmp / "module"

    return _cached_module(target, make, path, "convert")


def _keras_module(path: Path) -> Path:
    """The SavedModel of a Keras model file (`.keras`, or a whole model in `.h5`), exported once into the
    module cache by Keras itself (`features.keras_files`), so that it runs without Keras."""
    # "|features": exported without a classifier it ends in (before, whole).
    target = _cache_target(path, "keras", "Exporting the Keras model %s as a SavedModel (once; it is cached).",
                           "|features")

    def make(tmp: Path) -> Path:
        export_keras_model(path, tmp / "module")
        return tmp / "module"

    return _cached_module(target, make, path, "export")


class _EndsOtherwise(Exception):
    """A model tf.keras cannot cut a classifier from."""


def keras_features_of(path: Path) -> Path | None:
    """The module of the features of a classifier tf.keras saved as a SavedModel at `path` (`model.save(DIR)`
    before TensorFlow 2.16: `keras_metadata.pb` holds its layers), made once into the module cache; `None`
    for other SavedModels, and for those whose classifier cannot be cut (remembered)."""
    if not (path / "keras_metadata.pb").is_file():
        return None
    target = _cache_target(path, "keras", "", "|features", changes=path / "saved_model.pb")
    whole = target.with_name(f"{target.name}-whole")  # remembers a model found not to end in a classifier
    if whole.is_dir():
        return None
    if not is_saved_model(target):
        logging.getLogger(config.PROGRESS_LOG).info(
            "Reading the layers of the Keras model in %s to leave its classifier out (once; it is cached).", path)

    def make(tmp: Path) -> Path:
        if not export_saved_model_features(path, tmp / "module"):
            raise _EndsOtherwise
        return tmp / "module"

    try:
        return _cached_module(target, make, path, "export")
    except _EndsOtherwise:
        whole.mkdir(parents=True, exist_ok=True)
        write_about(whole, source=str(path.resolve()), cut=False)
        return None


def resolve(spec: str | Path) -> Path:
    """The local SavedModel directory of `spec` (downloading a handle if needed)."""
    spec = str(spec)
    path = Path(spec).expanduser()
    path = _folder_of(path) or path
    if path.is_dir():
        if not is_saved_model(path):
            if is_saved_model(path / "module"):
                return path / "module"  # a pretrain-text output: the DIR that --update takes means its module
            tfjs = tfjs_model_fix(path)
            raise DataError(f"{spec!r} is not a SavedModel directory (no saved_model.pb)"
                            + (f": it holds {tfjs}" if tfjs else f". {_nested_hint(path)}"))
        return path
    if path.is_file() and spec.lower().endswith(".zip") and zipfile.is_zipfile(path):
        vectors = zipped_vectors(path)  # Stanford's GloVe downloads
        if len(vectors) == 1:
            return _vectors_module(path)
        if vectors:
            raise DataError(f"{spec!r} holds {len(vectors)} files of word vectors ({', '.join(vectors)}): extract "
                            f"the one to use (unzip {shlex.quote(spec)} {shlex.quote(vectors[0])}) and pass it.")
    # .zip: how a folder leaves Google Drive, Colab or Windows' "Send to compressed folder".
    if path.is_file() and spec.lower().endswith((".tar.gz", ".tgz", ".tar", ".zip")):
        return _extract_archive(path)
    if path.is_file() and vectors_format(path):
        return _vectors_module(path)
    if _is_remote_folder(spec):
        return _copied_module(spec)
    url = handle_url(spec)
    if url:
        location = resolve_handle(url)
        # With TFHUB_MODEL_LOAD_FORMAT=UNCOMPRESSED, tfhub.dev answers with the module's gs:// folder.
        return _copied_module(location) if _is_remote_folder(location) else Path(location)
    if path.is_file() and path.suffix.lower() in (".keras", ".h5", ".hdf5"):
        return _keras_module(path)
    tfjs = tfjs_model_fix(path)
    if tfjs:
        raise DataError(f"Feature module {spec!r} is {tfjs}")
    found = "is a file, but neither a SavedModel archive nor word vectors" if path.is_file() else "not found"
    if path.suffix.lower() in (".pt", ".pth", ".bin", ".onnx", ".safetensors", ".tflite"):
        found += f" ({path.suffix} models of other frameworks, and TFLite's, are not read)"
    elif path.is_file() and path.suffix.lower() == ".pb":
        found += (" (a frozen TF1 graph? It does not say which tensors are its input and its features: load it with "
                  "tf.compat.v1, then save those two as a SavedModel with tf.compat.v1.saved_model.simple_save)")
    elif not path.exists() and re.fullmatch(r"[\w.-]+/[\w.-]+", spec):
        found += " (a Hugging Face model id? Its PyTorch models are not read)"
    raise DataError(
        f"Feature module {spec!r} {found}. Pass a SavedModel directory, a .tar.gz or .zip of one, a TF-Hub "
        "handle (https://tfhub.dev/... or https://www.kaggle.com/models/...), a Keras .keras file, or word "
        "vectors (GloVe or word2vec text, fastText .vec or .bin, word2vec .bin, gensim's .model or .kv)."
    )
