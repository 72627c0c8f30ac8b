"""TF-Hub handles: the URL a handle names, and the module tensorflow_hub downloads for it.

Handles come as users copy them (tfhub.dev and Kaggle URLs, with or without
`https://`, or kagglehub's `OWNER/MODEL/tensorFlow2/VARIATION/VERSION`).
tensorflow_hub downloads them into `tfhub_cache_dir()` (`$TFHUB_CACHE_DIR`,
else tfxfer's cache) rather than its default, the temporary folder, which
reboots empty and temp-file cleaners strip of a module's files while leaving
its folders (tensorflow/hub#575, #896): such a copy is downloaded again,
and a whole one left in the temporary folder is used. Its download
progress, which tensorflow_hub tells only in absl's INFO log, is passed on
to tfxfer's progress log.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import socket
import tempfile
import urllib.parse
import warnings
from pathlib import Path

from tfxfer import config
from tfxfer.cache_dir import HUB_DESCRIPTOR, tfhub_cache_dir
from tfxfer.errors import DataError, TfxferError
from tfxfer.layout import is_saved_model

logger = logging.getLogger(__name__)

# kagglehub's handle of a TF-Hub model, which Kaggle's model pages give: OWNER/MODEL/FRAMEWORK/VARIATION/VERSION.
_KAGGLE_HANDLE = re.compile(r"[\w.-]+/[\w.-]+/tensorflow[12]/[\w.-]+(/\d+)?", re.IGNORECASE)


def handle_url(spec: str) -> str | None:
    """The URL tensorflow_hub resolves for a handle given as users copy it, or `None` for no handle: the
    address without its `https://` (as browsers show it; tensorflow_hub reads that as a local path), or
    kagglehub's handle."""
    if spec.startswith(("tfhub.dev/", "kaggle.com/", "www.kaggle.com/")):
        spec = f"https://{spec}"
    if spec.startswith(("http://", "https://")):
        # The handle, as its download link (?tf-hub-format=compressed) and its page's address (a trailing /)
        # name it too: one download, cached under one name.
        parts = urllib.parse.urlsplit(spec)
        query = parts.query if "tf-hub-format" not in parts.query else urllib.parse.urlencode(
            [(k, v) for k, v in urllib.parse.parse_qsl(parts.query) if k != "tf-hub-format"])
        return urllib.parse.urlunsplit(parts._replace(path=parts.path.rstrip("/") or "/", query=query))
    if _KAGGLE_HANDLE.fullmatch(spec):
        if not spec.rsplit("/", 1)[1].isdigit():
            raise DataError(f"{spec!r} reads as a Kaggle model handle without its version: add it, e.g. "
                            f"{spec}/1 (the versions are on the model's Kaggle page).")
        return f"https://www.kaggle.com/models/{spec}"
    return None


def feature_vector_twin(spec: str) -> str | None:
    """The feature-vector handle beside a classification handle (tfhub.dev's `.../classification/5`, Kaggle's
    `.../100-224-classification/2`), which a user may have picked by mistake; `None` for other specs."""
    url = handle_url(spec)
    if url is None:
        return None
    twin = re.sub(r"/classification/(\d+)$", r"/feature_vector/\1", url)
    twin = re.sub(r"-classification/(\d+)$", r"-feature-vector/\1", twin)
    return twin if twin != url else None


def resolve_handle(url: str) -> str:
    """The local directory of the module at `url` (a `handle_url`), downloaded if no whole copy is cached; or,
    with `TFHUB_MODEL_LOAD_FORMAT=UNCOMPRESSED`, the `gs://` folder tfhub.dev names.

    Raises:
        DataError: It cannot be downloaded (network, HTTP or format errors).
        TfxferError: tensorflow_hub does not import.
    """
    try:
        with warnings.catch_warnings():
            # setuptools 81 (what `setuptools<82` gives Python 3.12+ venvs) warns on every import of
            # pkg_resources, which tensorflow_hub does; the user can do nothing about it.
            warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
            import tensorflow_hub as hub
    except ImportError as e:
        # tensorflow_hub 0.16.1 imports pkg_resources, which setuptools 82 removed and Python 3.12+
        # venvs lack (tensorflow/hub#934); setup.cfg pins setuptools, but an environment can move on.
        fix = ("It needs pkg_resources: pip install 'setuptools<82'." if e.name == "pkg_resources"
               else "pip install -U 'tensorflow-hub>=0.16.1'.")
        raise TfxferError(
            f"Cannot resolve the TF-Hub handle {url!r}: tensorflow_hub does not import ({e}). "
            f"{fix} Or download the module once and pass its directory."
        ) from None
    earlier = _earlier_download(url)
    if earlier:
        return str(earlier)
    with _hub_cache_dir() as cache, _hub_lines_told():
        _remove_stale_lock(cache / _folder_name(url), url)
        location = _hub_resolve(hub, url)
        if Path(location).parent == cache and _incomplete(Path(location)):
            logger.warning("The downloaded copy of %r in %s had lost files (a temp-file cleaner's doing, as "
                           "in the temporary folder); downloading it again.", url, location)
            shutil.rmtree(location, ignore_errors=True)
            Path(f"{location}{HUB_DESCRIPTOR}").unlink(missing_ok=True)
            location = _hub_resolve(hub, url, f"Its cached copy in {location} had lost files and was deleted. ")
    return location


def _folder_name(url: str) -> str:
    """The name tensorflow_hub gives the folder of `url`'s download in its cache."""
    return hashlib.sha1(url.encode("utf8")).hexdigest()


def _remove_stale_lock(module_dir: Path, url: str) -> None:
    """Remove the lock of a download into `module_dir` whose process no longer runs on this machine (killed:
    out of memory, a notebook's restart), and what it downloaded. tensorflow_hub waits for a lock to make
    progress for 10 minutes before it takes it, and tells that only in absl's INFO log."""
    lock = Path(f"{module_dir}.lock")
    try:
        host, pid, uid = lock.read_text(encoding="utf-8").rsplit(".", 2)  # tensorflow_hub's host.pid.uid
        os.kill(int(pid), 0)
    except (OSError, ValueError) as e:
        stale = isinstance(e, ProcessLookupError) and host == socket.gethostname()
        if stale:
            logger.info("A download of %r by a process that no longer runs (%s) left its lock: removed.", url, pid)
            lock.unlink(missing_ok=True)
            shutil.rmtree(f"{module_dir}.{uid}.tmp", ignore_errors=True)


def _hub_resolve(hub, url: str, before: str = "") -> str:
    try:
        return hub.resolve(url)
    except Exception as e:  # noqa: BLE001 - network, HTTP and format errors alike
        if "CERTIFICATE_VERIFY_FAILED" in str(e):  # a company proxy that re-signs HTTPS with its own certificate
            before += ("A proxy that re-signs HTTPS needs its certificate trusted: set SSL_CERT_FILE to a bundle of "
                       "certificates that holds it. ")
        raise DataError(
            f"Cannot resolve the TF-Hub handle {url!r}: {str(e).rstrip('.')}. {before}Check the handle and your "
            "network, or download the module once and pass its directory (or set TFHUB_CACHE_DIR to a cache that "
            "holds it)."
        ) from None


@contextlib.contextmanager
def _hub_cache_dir():
    """tensorflow_hub downloads into `tfhub_cache_dir()` in this block, which it yields."""
    cache = tfhub_cache_dir()
    unset = not os.environ.get("TFHUB_CACHE_DIR")
    if unset:
        os.environ["TFHUB_CACHE_DIR"] = str(cache)
    try:
        yield cache
    finally:
        if unset:
            os.environ.pop("TFHUB_CACHE_DIR", None)


def _earlier_download(url: str) -> Path | None:
    """A whole copy of `url` that tensorflow_hub downloaded to its default, the temporary folder (a notebook's,
    or tfxfer's before stop 72), where `TFHUB_CACHE_DIR` is unset and tfxfer's cache has none: used, not
    downloaded again (offline, it is the only one)."""
    name = _folder_name(url)
    if os.environ.get("TFHUB_CACHE_DIR") or (tfhub_cache_dir() / name).exists():
        return None
    earlier = Path(tempfile.gettempdir()) / "tfhub_modules" / name
    return earlier if earlier.is_dir() and not _incomplete(earlier) else None


def _incomplete(module: Path) -> bool:
    """Whether a downloaded module lost files: a temp-file cleaner deletes them by age and can leave the
    folders, which tensorflow_hub takes for a complete download."""
    variables = module / "variables"
    return not is_saved_model(module) or (variables.is_dir() and not (
        (variables / "variables.index").is_file() and any(variables.glob("variables.data-*"))))


@contextlib.contextmanager
def _hub_lines_told():
    """Pass absl's INFO lines, tensorflow_hub's in this block, on to `config.PROGRESS_LOG` once one tells of a
    download.

    A download can take minutes, and tensorflow_hub tells of it (where it caches, the start, the size so far
    every 15 s, the total) only in absl's INFO log, which tfxfer keeps quiet. A module read from its cache
    tells nothing.
    """
    absl = logging.getLogger("absl")
    own, quiet_below = absl.level, absl.getEffectiveLevel()
    told, held, downloading = logging.getLogger(config.PROGRESS_LOG), [], False

    def tell(record: logging.LogRecord) -> bool:
        nonlocal downloading
        if record.levelno != logging.INFO:
            return record.levelno >= quiet_below
        held.append(record.getMessage())
        downloading = downloading or any(news in held[-1] for news in ("Download", "already being downloaded"))
        while downloading and held:
            told.info("%s", held.pop(0))
        return False  # told, or not worth telling

    absl.addFilter(tell)
    absl.setLevel(min(quiet_below, logging.INFO))
    try:
        yield
    finally:
        absl.removeFilter(tell)
        absl.setLevel(own)
