"""On-disk feature cache, keyed by module, preprocessing and content hash.

One `.npy` per (module, preprocessing, file content, view): fitting again on
the same data extracts nothing, a changed file or module misses, and a damaged
entry is detected (unreadable or of the wrong shape) and recomputed.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import logging
import os
import threading
from pathlib import Path

import numpy as np

from tfxfer.atomic import write_text_atomic
from tfxfer.cache_dir import ABOUT_FILE, write_about

logger = logging.getLogger(__name__)


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FileHashes:
    """Content hashes of files, memoised by (path, size, mtime) as git's index does.

    A warm run then stats files instead of reading and hashing them. A file
    changed in place changes size or mtime and is hashed again.

    Args:
        path: The memo file (JSON), or `None` to memoise nothing.
    """

    def __init__(self, path: str | Path | None):
        self.path = Path(path) if path else None
        self.memo: dict[str, list] = {}
        self.dirty = False
        if self.path and self.path.is_file():
            try:
                self.memo = json.loads(self.path.read_text())
            except (ValueError, OSError):
                self.memo = {}

    def __call__(self, file: str | Path) -> str:
        """The SHA-256 of `file`'s content. Raises `OSError` if it cannot be read."""
        st = os.stat(file)
        key = str(Path(file).resolve())
        stamp = [st.st_size, st.st_mtime_ns]
        entry = self.memo.get(key)
        if entry and entry[:2] == stamp:
            return entry[2]
        digest = content_hash(Path(file).read_bytes())
        self.memo[key] = [*stamp, digest]
        self.dirty = True
        return digest

    def save(self) -> None:
        """Write the memo; a cache that cannot be written only costs hashing again next time."""
        if self.path and self.dirty:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                write_text_atomic(self.path, json.dumps(self.memo))  # readable as the entries are, not 0600
            except OSError as e:
                logger.warning("Cannot write the file-hash memo %s (%s); files will be hashed again next time.",
                               self.path, e.strerror or e)
            self.dirty = False


class FeatureCache:
    """A directory of cached feature vectors.

    Args:
        root: The cache directory (created on first write).
        module_identity: `FeatureModule.identity`.
        preprocessing: A JSON-able description of how inputs become module
            inputs (image size, decoder version...).
        dim: The feature size, to reject damaged entries.
        source: What the entries are of, for `tfxfer cache` (the module's spec).
        origin: The module's absolute path where it is local, for `tfxfer cache --clear --gone`.
    """

    def __init__(self, root: str | Path, module_identity: str, preprocessing: dict, dim: int,
                 source: str | None = None, origin: str | None = None):
        key = hashlib.sha256(
            json.dumps([module_identity, preprocessing], sort_keys=True).encode()
        ).hexdigest()[:24]
        self.root = Path(root)
        self.dir = self.root / key
        self.dim = dim
        self.damaged = 0
        self.writable = True
        self._made: set[Path] = set()
        self._about = {"source": source, "origin": origin, "preprocessing": preprocessing, "dim": dim}
        # Every entry has the same `.npy` header: written once, each entry is then one write.
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            header, np.lib.format.header_data_from_array_1_0(np.zeros(dim, np.float32)))
        self._header = header.getvalue()

    def _path(self, item: str, view: int) -> Path:
        return self.dir / item[:2] / f"{item}-{view}.npy"

    def get(self, item: str, view: int = 0) -> np.ndarray | None:
        path = self._path(item, view)
        if not path.is_file():
            return None
        try:
            vector = np.load(path, allow_pickle=False)
            if vector.shape == (self.dim,) and vector.dtype == np.float32 and np.isfinite(vector).all():
                return vector
        except (ValueError, OSError, EOFError):
            pass
        logger.warning("Damaged cache entry %s; recomputing it.", path)
        self.damaged += 1
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass  # a read-only cache: the entry is recomputed, not replaced
        return None

    def put(self, item: str, vector: np.ndarray, view: int = 0) -> None:
        """Store a vector. A cache that cannot be written (read-only, shared, full) is
        left alone with one warning: features are then computed without caching."""
        if not self.writable:
            return
        path = self._path(item, view)
        vector = np.ascontiguousarray(vector, np.float32)
        # Written to a name of this process and thread, then renamed: a reader never sees half an entry.
        tmp = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
        try:
            if path.parent not in self._made:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._made.add(path.parent)
                if not (self.dir / ABOUT_FILE).is_file():
                    write_about(self.dir, **self._about)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                data = self._header + vector.tobytes()
                if os.write(fd, data) != len(data):
                    raise OSError(errno.ENOSPC, "short write")
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except OSError as e:
            self.writable = False
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            logger.warning("The feature cache %s cannot be written (%s): computing features without caching. "
                           "Pass --cache-dir with a writable directory, or --no-cache.", self.root, e.strerror or e)
