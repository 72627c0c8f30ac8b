"""Labeled images as files: class folders, or lists of paths (CSV/TSV, workbooks, Parquet, JSON).

Listing and checking needs no TensorFlow (`tfxfer.data.images` decodes the
pixels), so commands that only read data start fast.
"""

from __future__ import annotations

import collections
import csv
import logging
import os
import re
import sys
import unicodedata
import urllib.parse
from pathlib import Path

from tfxfer.data.columnar import PARQUET_SUFFIXES
from tfxfer.data.compressed import READ_ERRORS, format_suffix
from tfxfer.data.delimited import sniff_delimiter
from tfxfer.data.labeled_data import LabeledData
from tfxfer.data.names import PATH_COLUMNS, Columns, check_not_splits, files_under, left_out
from tfxfer.data.patterns import NLTK_PREFIX, path_exists
from tfxfer.data.records import is_table, read_labeled
from tfxfer.data.table import table_records
from tfxfer.data.text import check_not_archive, open_text
from tfxfer.data.workbook import WORKBOOK_SUFFIXES
from tfxfer.errors import DataError, not_found

logger = logging.getLogger(__name__)

# The one list of what is decoded, in training, prediction and the exported graph alike.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp")
IMAGE_FORMATS = "JPEG, PNG, GIF (first frame), BMP or WebP"
# Label Studio's exports name an image by its server's URL for it: an upload, or a file of its local storage
# (`?d=` a path under LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT); the host is there when Label Studio knows its own.
_STUDIO_URL = re.compile(r"^(?:https?://[^/]+)?/data/(upload/|local-files/\?d=)(.+)$")
# Photo formats TensorFlow does not decode: named in a warning, never dropped unseen (phones write HEIC,
# scanners and microscopes TIFF).
UNDECODED_SUFFIXES = (".tif", ".tiff", ".heic", ".heif", ".avif", ".svg", ".dng", ".cr2", ".nef", ".arw")


def is_image_file(item: str) -> bool:
    """Whether `item` names an existing file; `False` for a text too long to be a path."""
    return path_exists(item) and Path(item).is_file()


def undecoded_note(paths: list[Path]) -> str | None:
    """A note on the images left out because TensorFlow cannot decode their format, if any; also logged as a
    warning, so that they are never dropped unseen."""
    counts = collections.Counter(p.suffix.lower() for p in paths if p.suffix.lower() in UNDECODED_SUFFIXES)
    if not counts:
        return None
    formats = ", ".join(f"{n} {suffix}" for suffix, n in counts.most_common())
    total = sum(counts.values())
    them = "them" if total > 1 else "it"
    note = (f"{total} image{'s were' if total > 1 else ' was'} left out: TensorFlow cannot decode "
            f"{'their' if total > 1 else 'its'} format ({formats}). Convert {them} to JPEG or PNG "
            f"(e.g. `mogrify -format jpg *{counts.most_common(1)[0][0]}`) to use {them}.")
    logger.warning(note)
    return note


def _named_classes(root: Path) -> str:
    """The fix when a flat folder's file names hold labels (Kaggle's dogs vs cats: cat.0.jpg, dog.0.jpg), or ''."""
    names = [p.name for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
    prefixes = collections.Counter(re.match(r"(.*?)[._-]?\d*$", Path(n).stem).group(1) for n in names)
    # Labels repeat: a few prefixes, each on several files (Oxford pets: 37 breeds, Abyssinian_1.jpg).
    if len(names) < 4 or not 2 <= len(prefixes) <= len(names) / 4 or min(prefixes.values()) < 2:
        return ""
    shown = sorted(prefixes)
    listed = (f"{', '.join(map(repr, shown[:-1]))} or {shown[-1]!r}" if len(shown) <= 5
              else f"{', '.join(map(repr, shown[:4]))} and {len(shown) - 4} more prefixes")
    return (f"The names of its {len(names):,} images start with {listed}, which look like labels: move them into "
            f"folders of those names (mkdir {shown[0]} && mv {shown[0]}[._-]* {shown[0]}/ ...), or pass a CSV of "
            "path,label.")


def list_image_folder(root: str | Path) -> tuple[list[Path], list[str], str | None]:
    """Images under `root/<class>/`, with their class names as labels.

    Returns:
        `(paths, labels, note)`, sorted by class then file name. Files with
        other suffixes are ignored (and logged); `note` names the images left
        out for their format (`undecoded_note`), or is `None`.
    """
    root = Path(root)
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not left_out(p, root))
    if not classes:
        fix = _named_classes(root) or ("Put each class's images in its own folder (root/ants/*.jpg, "
                                       "root/bees/*.jpg) or pass a CSV of path,label.")
        raise DataError(f"{str(root)!r} has no class subfolders. {fix}")
    check_not_splits(root, [c.name for c in classes])
    if len(classes) == 1:  # an archive extracted into a folder of its own name
        inner = [p.name for p in sorted(classes[0].iterdir()) if p.is_dir() and not left_out(p, classes[0])]
        if len(inner) > 1:
            raise DataError(f"{str(root)!r} has one subfolder, {classes[0].name!r}, whose subfolders "
                            f"({', '.join(inner[:5])}) look like the classes: pass {str(classes[0])!r}.")
    paths, labels, other = [], [], []
    for folder in classes:
        for path in sorted(p for p in files_under(folder) if p.is_file() and not left_out(p, folder)):
            if path.suffix.lower() in IMAGE_SUFFIXES:
                paths.append(path)
                labels.append(folder.name)
            else:
                other.append(path)
                logger.info("Ignoring %s (not an image suffix)", path)
    return paths, labels, undecoded_note(other)


def label_studio_data_dir() -> Path:
    """Label Studio's data directory (its `--data-dir`, whose `media/upload/` holds the files uploaded
    to it): `$LABEL_STUDIO_BASE_DATA_DIR`, else where Label Studio puts it by default (appdirs'
    user data directory of "label-studio")."""
    if os.environ.get("LABEL_STUDIO_BASE_DATA_DIR"):
        return Path(os.environ["LABEL_STUDIO_BASE_DATA_DIR"]).expanduser()
    # Not Path.home(), which raises without a home folder (a container's --user): "~" then stays "~", the
    # files are not found, and the error names the setting.
    home = Path(os.path.expanduser("~"))
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "label-studio"
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or home) / "label-studio" / "label-studio"
    return Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share") / "label-studio"


def studio_file(entry: str) -> tuple[str, str] | None:
    """`(file, setting)` for a Label Studio URL: the local file it serves and the environment variable
    that says where such files are (`/data/upload/3/1a2b-cat.jpg` -> the data directory's
    `media/upload/3/1a2b-cat.jpg`; `/data/local-files/?d=photos/cat.jpg` -> `photos/cat.jpg` under
    its document root, `/` by default); `None` for any other entry."""
    found = _STUDIO_URL.match(entry.strip())
    if not found:
        return None
    kind, rest = found.group(1), urllib.parse.unquote(found.group(2))
    if kind == "upload/":
        return str(label_studio_data_dir() / "media" / "upload" / rest), "LABEL_STUDIO_BASE_DATA_DIR"
    root = os.environ.get("LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT") or os.sep
    return str(Path(root) / rest), "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT"


def listed_path(entry: str, listing: Path) -> str:
    """The file a list's relative path names: beside the list, or else from the current folder.

    Lists are written both ways; a path that exists only from the current
    folder is taken from there rather than reported missing. Backslashes
    (a list written on Windows, `imgs\\cat\\1.jpg`) are read as `/` where
    the name with them does not exist. Label Studio's URLs are read as the
    files its server serves (`studio_file`). A name with accents is found
    spelled either way: macOS, and zips made on it, write `é` in file names
    decomposed (NFD), a list typed elsewhere composed (NFC).
    """
    studio = studio_file(entry)
    if studio:
        return studio[0]
    if "://" in entry:  # kept whole, to be named as a URL (a Path would join it to the list's folder)
        return entry

    def found(name: str) -> bool:
        return path_exists(listing.parent / name) or path_exists(name)

    if "\\" in entry and not found(entry):
        entry = entry.replace("\\", "/")
    if not found(entry):
        entry = next((other for other in (unicodedata.normalize(form, entry) for form in ("NFD", "NFC"))
                      if other != entry and found(other)), entry)
    path = Path(entry)
    beside = listing.parent / path
    if path.is_absolute() or path_exists(beside) or not path_exists(path):
        return str(beside)
    return str(path)


def unreadable_reason(path: str, error: OSError) -> str:
    """Why an image file could not be read, as a skipped file's note: a URL is named as one."""
    if "://" in path:
        return "a URL: nothing is downloaded; download it first"
    return f"unreadable: {error.strerror or error}"


def absent(source: str | Path) -> bool:
    """Whether data named by `source` is not there: no such file or folder (`nltk:NAME` aside, which
    NLTK's data path holds). Such data is named as missing, never judged by what it holds."""
    return not str(source).startswith(NLTK_PREFIX) and not path_exists(source)


def stem_folder(listing: Path, entries: list[str]) -> tuple[Path, str] | None:
    """Where a list's entries are images named without their extension (Kaggle's `id` columns:
    `labels.csv` beside `train/<id>.jpg`): `(folder, suffix)` such that `folder/<entry><suffix>`
    exists for each of the first 20 entries, `folder` being the list's own or one of its
    subfolders. `None` if entries have extensions or no such folder holds them."""
    sample = entries[:20]
    # Ids are short and have no spaces; texts (this is asked of text tables too) are neither.
    if not sample or any(not e or len(e) > 100 or any(c in e for c in " /\\") or Path(e).suffix.lower() in
                         IMAGE_SUFFIXES for e in sample):
        return None
    base = listing.parent
    try:
        folders = [base, *sorted(p for p in base.iterdir() if p.is_dir() and not left_out(p, base))]
    except OSError:
        return None
    for folder in folders:
        for suffix in IMAGE_SUFFIXES:
            if all((folder / f"{e}{suffix}").is_file() for e in sample):
                return folder, suffix
    return None


def moved_root(entries: list[str], listing: Path) -> tuple[str, int] | None:
    """Where a list written on another machine (`/home/alice/data/cat/1.jpg`, `C:\\data\\cat\\1.jpg`) finds
    its files here: `(root, k)` such that each entry's path less its first `k` parts, read beside the
    list, exists for most of the first 20 entries that start with the same `root`; `None` if no such."""
    sample = [Path(e.replace("\\", "/")) for e in entries[:20] if e]
    if not sample:
        return None
    parts = sample[0].parts
    for k in range(1, len(parts)):
        if not path_exists(listing.parent.joinpath(*parts[k:])):
            continue
        same = [e for e in sample if e.parts[:k] == parts[:k]]
        found = sum(path_exists(listing.parent.joinpath(*e.parts[k:])) for e in same if len(e.parts) > k)
        if found * 2 >= len(sample):
            return str(Path(*parts[:k])), k
    return None


def read_image_list(path: str | Path, columns: Columns = None, keep_columns: bool = False) -> LabeledData:
    """Rows of `path,label` from a CSV or TSV (header optional), with their other columns if
    `keep_columns`.

    Relative paths are read beside the file, or from the current folder when
    only that finds them; entries without an extension, as ids, are found
    with `stem_folder`; paths of another machine, beside the list as
    `moved_root` finds; a list none of whose files exist is refused.
    """
    path = Path(path)
    data = read_labeled(path, PATH_COLUMNS, columns, keep_columns)
    entries = list(data.items)
    studio = next((found for found in map(studio_file, data.items) if found), None)
    urls = [p for p in data.items if "://" in p and not studio_file(p)]
    stems = stem_folder(path, data.items)
    if stems:
        folder, suffix = stems
        shown = folder.relative_to(path.parent) / f"<id>{suffix}"
        data.notes.append(f"the listed names have no extension: read as {shown} beside the list")
        data.items = [str(folder / f"{e}{suffix}") for e in data.items]
    else:
        windows = any("\\" in p for p in data.items)
        data.items = [listed_path(p, path) for p in data.items]
        if windows and any(path_exists(p) for p in data.items):
            data.notes.append("paths written with \\ (on Windows) were read with /")
    if studio and any(path_exists(p) for p in data.items):
        data.notes.append(f"Label Studio's URLs read as the files it serves (e.g. {studio[0]}; {studio[1]} says "
                          "where they are)")
    moved = None if studio or urls or any(path_exists(p) for p in data.items) else moved_root(entries, path)
    if moved:
        root, k = moved
        for i, entry in enumerate(entries):
            parts = Path(entry.replace("\\", "/")).parts
            if str(Path(*parts[:k])) == root and len(parts) > k:
                data.items[i] = str(path.parent.joinpath(*parts[k:]))
        data.notes.append(f"the listed paths start with {root}, which is not here: read from beside the list "
                          "instead (the list was written on another machine, or its folder moved)")
    if data.items and not any(path_exists(p) for p in data.items):
        if studio:
            where = ("its uploads are in the media/upload folder of the data directory it runs with (--data-dir; "
                     "in Docker the folder mounted as /label-studio/data)" if studio[1] == "LABEL_STUDIO_BASE_DATA_DIR"
                     else "its local storage's paths are under the document root it runs with")
            raise DataError(f"{str(path)!r} names images by Label Studio's URLs, and none of the {len(data.items):,} "
                            f"files they stand for exist (e.g. {studio[0]!r}): {where}. Set {studio[1]} to the "
                            "folder Label Studio was given, and run again.")
        if urls:
            raise DataError(f"{str(path)!r} lists URLs ({urls[0]!r}...): tfxfer reads image files, and nothing "
                            "is downloaded at run time. Download them first (e.g. wget -i) and list the files.")
        raise DataError(
            f"None of the {len(data.items):,} images listed in {str(path)!r} exist (e.g. {data.items[0]!r}). "
            f"Relative paths are read beside the list ({str(path.parent)!r}) or from the current folder; "
            "fix the paths or run from the folder they start in."
        )
    return data


def load_image_list(source: str | Path, skip_bad_rows: bool = False, columns: Columns = None,
                    keep_columns: bool = False) -> LabeledData:
    """Image paths and labels from a class folder or a CSV/TSV list (with its other columns if
    `keep_columns`).

    Returns:
        `LabeledData` of paths (unpacks as `paths, labels`).
    """
    given, source = str(source), Path(source)  # a Path would turn a URL's // into /
    check_not_archive(source, "Labeled data")
    if source.is_dir():
        paths, labels, note = list_image_folder(source)
        data = LabeledData([str(p) for p in paths], labels, str(source), rows=len(paths),
                           notes=[note] if note else []).check(skip_bad_rows)
    elif source.is_file() and is_table(source):
        data = read_image_list(source, columns, keep_columns).check(skip_bad_rows)
        note = undecoded_note([Path(item) for item in data.items])  # listed, they are tried, and fail
        data.notes += [note] if note else []
    else:
        raise not_found("Image data", given, "Pass a folder with one subfolder per class, or a "
                                              ".csv/.tsv/.xlsx/.jsonl of path,label.")
    if not data.items:
        raise DataError(f"No images ({', '.join(IMAGE_SUFFIXES)}) found in {str(source)!r}."
                        + (f" {data.notes[0]}" if data.notes else ""))
    return data


def holds_images(source: str | Path) -> bool:
    """Whether `source` looks like image data (an image folder or list), not text."""
    path = Path(source)
    if path.is_dir():  # photos TensorFlow cannot decode too (an iPhone's HEIC), so that reading them says so
        return any(p.suffix.lower() in (*IMAGE_SUFFIXES, *UNDECODED_SUFFIXES) for p in files_under(path))
    if path.is_file() and path.suffix.lower() in (*WORKBOOK_SUFFIXES, *PARQUET_SUFFIXES):
        rows = [cells for _, cells in table_records(path, limit=21)[0]]
        head = "\n".join("\t".join(cells) for cells in rows)
        rows = rows[1:]
    elif path.is_file() and is_table(path):
        try:
            with open_text(path) as f:
                head = f.read(4096)
        except READ_ERRORS:  # a damaged .csv.gz: reading it says so
            return False
        delimiter = "\t" if format_suffix(path) == ".tsv" else sniff_delimiter(head, len(head) == 4096)
        rows = list(csv.reader(head.splitlines()[1:21], delimiter=delimiter))
    else:
        return False
    if any(suffix in head.lower() for suffix in IMAGE_SUFFIXES):
        return True
    if any(cell.strip().lower().endswith(UNDECODED_SUFFIXES) for row in rows for cell in row):
        return True  # a list of HEIC or TIFF photos: reading it says they cannot be decoded
    return stem_folder(path, [row[0].strip() for row in rows if row]) is not None
