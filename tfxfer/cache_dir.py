"""What tfxfer keeps in its cache directory, and clearing it.

The cache (`default_cache_dir`: `$TFXFER_CACHE_DIR`, else `~/.cache/tfxfer`) has four parts, each
made again when it is next needed, so each may be deleted at any time that no
tfxfer command runs:

- `features/`: feature vectors of images, a folder per module and
  preprocessing, and of texts, a folder per slow module
  (`tfxfer.features.cache.FeatureCache`, or `--cache-dir`), and the memo of
  file hashes;
- `modules/`: feature modules made from `.tar.gz` / `.zip` archives, Keras and word-vector files, and
  copied from `gs://` folders;
- `images/`: the images of Hugging Face Parquet files, unpacked;
- `tfhub_modules/`: TF-Hub handles downloaded by tensorflow_hub, or `$TFHUB_CACHE_DIR`'s
  where that is set (`tfhub_cache_dir`).

Only folders of the shapes tfxfer writes are counted or deleted: a cache
directory pointed at a folder that holds other things loses nothing else.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path

from tfxfer.errors import ConfigError, OutputError

PARTS = ("features", "modules", "images", "tfhub")
# What a cache folder was made from (a feature folder's module, a module's archive or vectors file).
ABOUT_FILE = "tfxfer_cache.json"
FILE_HASHES = "file-hashes.json"
# The names tfxfer gives the folders of each part (see `FeatureCache`, `sources._cached_module`, `unpacked_folder`).
_NAMES = {
    "features": re.compile(r"[0-9a-f]{24}"),
    "modules": re.compile(r"(vectors-|remote-|keras-)?[0-9a-f]{20}"),
    "images": re.compile(r".+-[0-9a-f]{12}"),
    "tfhub": re.compile(r"[0-9a-f]{40}"),  # tensorflow_hub's: sha1(handle)
}
# Where tensorflow_hub tells which handle a folder holds: "Module: HANDLE" on its first line.
HUB_DESCRIPTOR = ".descriptor.txt"


def default_cache_dir() -> Path:
    """Where tfxfer caches features: `$TFXFER_CACHE_DIR`, else the user's cache dir.

    A process with no home folder (HOME unset, and a user id with no passwd entry, as a
    container run with `--user` may be) caches under the temporary folder instead.
    """
    if os.environ.get("TFXFER_CACHE_DIR"):
        return Path(os.environ["TFXFER_CACHE_DIR"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "tfxfer"
    try:
        return Path.home() / ".cache" / "tfxfer"
    except RuntimeError:  # "Could not determine home directory."
        return Path(tempfile.gettempdir()) / f"tfxfer-cache-{os.getuid() if hasattr(os, 'getuid') else 0}"


def tfhub_cache_dir() -> Path:
    """Where TF-Hub handles are downloaded to: `$TFHUB_CACHE_DIR`, else `tfhub_modules/` in the cache.

    tensorflow_hub's own default is the temporary folder, which a reboot or a
    temp-file cleaner empties, the latter leaving a module's folders without
    their files, which tensorflow_hub then takes for a download
    (tensorflow/hub#575, #896).
    """
    if os.environ.get("TFHUB_CACHE_DIR"):
        return Path(os.environ["TFHUB_CACHE_DIR"])
    return default_cache_dir() / "tfhub_modules"


@dataclasses.dataclass
class CacheEntry:
    """One folder of the cache.

    Attributes:
        part: `features`, `modules`, `images` or `tfhub`.
        path: The folder.
        files: How many files it holds.
        size: Their bytes.
        source: What it was made from, for people (`None` where unrecorded).
        origin: The local module, archive or file it was made from (`None` for a TF-Hub handle,
            a URL, or where unrecorded).
    """

    part: str
    path: Path
    files: int
    size: int
    source: str | None = None
    origin: str | None = None

    @property
    def gone(self) -> bool:
        """Whether what it was made from no longer exists: nothing will read it again (a deleted
        module, a test's temporary folder)."""
        return self.origin is not None and not os.path.exists(self.origin)


@dataclasses.dataclass
class CacheUsage:
    """The cache's folders.

    Attributes:
        root: The cache directory.
        features_dir: Where the feature vectors are (`root/features` unless given).
        entries: Every folder tfxfer made there, part by part.
        tfhub_dir: Where TF-Hub handles are downloaded (`root/tfhub_modules` unless
            `$TFHUB_CACHE_DIR` says otherwise).
    """

    root: Path
    features_dir: Path
    entries: list[CacheEntry]
    tfhub_dir: Path | None = None

    @property
    def size(self) -> int:
        return sum(e.size for e in self.entries)

    def part(self, name: str) -> list[CacheEntry]:
        return [e for e in self.entries if e.part == name]

    def to_dict(self) -> dict:
        return {"root": str(self.root), "features_dir": str(self.features_dir), "tfhub_dir": str(self.tfhub_dir),
                "size": self.size,
                "entries": [{**dataclasses.asdict(e), "path": str(e.path)} for e in self.entries]}


def write_about(folder: Path, **about) -> None:
    """Record what a cache folder is made from (`source=` for people, and any details)."""
    (Path(folder) / ABOUT_FILE).write_text(json.dumps(about, indent=1), encoding="utf-8")


def _about(folder: Path, part: str) -> tuple[str | None, str | None]:
    """`CacheEntry.source` and `.origin` of a folder."""
    if part == "tfhub":
        try:
            first = Path(f"{folder}{HUB_DESCRIPTOR}").read_text(encoding="utf-8").partition("\n")[0]
        except (OSError, ValueError):
            return None, None
        return (first.removeprefix("Module: ") if first.startswith("Module: ") else None), None
    try:
        about = json.loads((folder / ABOUT_FILE).read_text(encoding="utf-8"))
        source, origin = about.get("source"), about.get("origin")
    except (OSError, ValueError, AttributeError):
        source = origin = None
    if part == "images" and source is None:
        source = f"{folder.name.rsplit('-', 1)[0]}.parquet"  # named after the file's stem
    # A source that is a path is the origin: a module's file, or (recorded before `origin`) a feature
    # folder's module, its image size after it.
    if origin is None and source and os.path.isabs(source):
        origin = source.rsplit(" at ", 1)[0] if part == "features" else source
    return source, origin


def _count(folder: Path) -> tuple[int, int]:
    files = size = 0
    for dirpath, _, names in os.walk(folder):
        for name in names:
            try:
                size += os.lstat(os.path.join(dirpath, name)).st_size
                files += 1
            except OSError:
                pass  # removed meanwhile
    return files, size


def _folders(base: Path, part: str) -> list[Path]:
    try:
        return sorted(p for p in base.iterdir() if p.is_dir() and not p.is_symlink()
                      and _NAMES[part].fullmatch(p.name))
    except OSError:
        return []


def cache_usage(root: str | Path | None = None, features_dir: str | Path | None = None,
                parts: tuple[str, ...] = PARTS) -> CacheUsage:
    """What the cache holds.

    Args:
        root: The cache directory. Defaults to `default_cache_dir()`, and its TF-Hub part to
            `tfhub_cache_dir()`.
        features_dir: The feature cache (a `--cache-dir`). Defaults to `root/features`.
        parts: Which of `PARTS` to list. Defaults to all.

    Returns:
        `CacheUsage`, its entries in part order, the largest first within a part.

    Raises:
        ConfigError: A part that is not one of `PARTS`.
    """
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise ConfigError(f"Unknown cache part {unknown[0]!r}. Choose from {', '.join(PARTS)}.")
    hub = Path(root) / "tfhub_modules" if root else tfhub_cache_dir()
    root = Path(root) if root else default_cache_dir()
    features_dir = Path(features_dir) if features_dir else root / "features"
    bases = {"features": features_dir, "modules": root / "modules", "images": root / "images", "tfhub": hub}
    entries = []
    for part in (p for p in PARTS if p in parts):
        found = [CacheEntry(part, folder, *_count(folder), *_about(folder, part))
                 for folder in _folders(bases[part], part)]
        entries += sorted(found, key=lambda e: -e.size)
    return CacheUsage(root, features_dir, entries, hub)


def clear_cache(root: str | Path | None = None, features_dir: str | Path | None = None,
                parts: tuple[str, ...] = PARTS, gone_only: bool = False) -> CacheUsage:
    """Delete the cache's folders (each is made again when next needed).

    Each folder is renamed out of the way first and then deleted, so a reader
    finds it whole or not at all. Nothing but the folders tfxfer makes (and
    the file-hash memo) is touched.

    Args:
        root, features_dir, parts: As in `cache_usage`: what to clear.
        gone_only: Only the folders made from what no longer exists (`CacheEntry.gone`);
            the file-hash memo is kept.

    Returns:
        `CacheUsage` of what was deleted.

    Raises:
        ConfigError: A part that is not one of `PARTS`.
    """
    usage = cache_usage(root, features_dir, parts)
    if gone_only:
        usage.entries = [e for e in usage.entries if e.gone]
    for entry in usage.entries:
        doomed = entry.path.with_name(f".{entry.path.name}.deleting-{uuid.uuid4().hex[:8]}")
        try:
            entry.path.rename(doomed)
        except FileNotFoundError:
            continue  # deleted meanwhile
        except OSError as e:
            raise OutputError(f"Cannot delete {str(entry.path)!r}: {e.strerror or e}. Delete it yourself, or run "
                              "as a user who can write there.") from None
        shutil.rmtree(doomed, ignore_errors=True)
        if entry.part == "tfhub":
            Path(f"{entry.path}{HUB_DESCRIPTOR}").unlink(missing_ok=True)
    if "features" in parts and not gone_only:
        (usage.features_dir / FILE_HASHES).unlink(missing_ok=True)
    return usage
