"""What labeled image files hold, from their headers and bytes: formats, sizes, odd ones out, copies.

`tfxfer inspect-data` reports these before any model: a placeholder saved
among photos ("image not found" as the one GIF among JPEGs), a thumbnail among
full-size photos, a file that is no image, the same photo saved twice
(under two labels, or in two folds, where it makes cross-validation look
better than it is), and phone photos stored sideways with an EXIF tag that
says how to turn them, which viewers obey and TensorFlow's decoders do not.
No pixels are decoded and TensorFlow is not imported: Pillow reads each
header, a JPEG's last 64 KB are searched for its end (a download cut off
keeps its header, which Pillow reads, and TensorFlow's decoder refuses it),
and only files of equal size are read whole, to compare their bytes.
"""

from __future__ import annotations

import collections
import re
import statistics
import warnings
from collections.abc import Sequence
from pathlib import Path

from tfxfer.config import MAX_DECODED_PIXELS
from tfxfer.data.image_limits import ANIMATED_WEBP
from tfxfer.data.unlabeled import item_key
from tfxfer.errors import counted

# A format held by at most this share of the images (or by one image), where one format holds
# `ODD_FORMAT_MAJORITY` of them, is named as odd.
ODD_FORMAT_SHARE, ODD_FORMAT_MAJORITY = 0.01, 0.9
# An image whose shorter side is under this fraction of the median image's is named as small.
SMALL_SIDE_FRACTION = 0.25
# The EXIF Orientation tag (0x0112): 1 is as stored; 2-8 mirror and/or turn by 90, 180 or 270 degrees.
EXIF_ORIENTATION = 0x0112
# A JPEG's end-of-image marker is looked for in this many last bytes (some cameras append data after it).
JPEG_END_BYTES = 1 << 16


def check_image_files(paths: Sequence[str], labels: Sequence[str]) -> dict:
    """Formats, sizes, unreadable files, odd formats, small images and byte-for-byte copies.

    Args:
        paths: Image file paths (missing ones are left out: `inspect_labeled` lists them).
        labels: Their labels, in the same order.

    Returns:
        A dict: `formats` (`{format: count}`, the commonest first), `sizes`
        (`{"smallest", "median", "largest"}`, each `[width, height]`, by
        pixel count; `None` without a readable image), `unreadable`
        (`[path, reason]`), `odd_format` (`[path, format]` of images in a
        format nearly no other image has), `small` (`[path, width, height]`),
        `turned` (`[path, orientation]`: an EXIF orientation other than 1,
        which TensorFlow ignores) and `copies` (groups of paths with the same
        bytes, each `{"paths", "labels"}`).
    """
    label_of = {}
    for path, label in zip(paths, labels):
        label_of.setdefault(str(path), label)
    files = [p for p in label_of if Path(p).is_file()]
    formats, sizes, unreadable, turned = {}, {}, [], []
    for path in files:
        found = _header(path)
        if isinstance(found, str) or (found[0] == "JPEG" and _truncated_jpeg(path)):
            # A cut-off JPEG has a whole header, so Pillow reads it; TensorFlow's decoder refuses it.
            unreadable.append([path, found if isinstance(found, str) else
                               "a JPEG cut off before its end (an interrupted download or copy?)"])
            continue
        formats[path], size, orientation = found
        if size:  # not known of a JPEG too large for Pillow to open, which TensorFlow decodes at 1/8 scale
            sizes[path] = size
        if orientation != 1:
            turned.append([path, orientation])
    counts = collections.Counter(formats.values())
    return {"formats": dict(counts.most_common()), "sizes": _size_summary(list(sizes.values())),
            "unreadable": unreadable, "odd_format": _odd_formats(formats, counts), "small": _small(sizes),
            "turned": turned,
            "copies": [{"paths": group, "labels": sorted({label_of[p] for p in group})} for group in _copies(files)]}


def _too_large(pixels: str) -> str:
    return (f"too large to decode ({pixels} pixels; tfxfer decodes at most {MAX_DECODED_PIXELS:,} of a PNG, GIF, "
            "BMP, WebP or progressive JPEG): resize it first")


def _header(path: str) -> tuple[str, tuple[int, int] | None, int] | str:
    """`(format, (width, height), EXIF orientation)` from the file's header, or why it cannot be read
    as an image (or is too large to decode)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # ours is the note below
            with _opened(path) as image:
                orientation = image.getexif().get(EXIF_ORIENTATION, 1)
                found = image.format or "unknown", image.size, orientation if orientation in range(1, 9) else 1
                decoded_whole = image.format != "JPEG" or bool(image.info.get("progressive"))
                if image.format == "WEBP" and getattr(image, "is_animated", False):
                    return ANIMATED_WEBP
    except UnidentifiedImageError:
        return "not an image file Pillow knows"
    except Image.DecompressionBombError as e:  # over twice Pillow's limit: it does not say the size
        pixels = re.search(r"\((\d+) pixels\)", str(e))
        return _too_large(f"{int(pixels[1]):,}" if pixels else "over 2x that many")
    except (OSError, ValueError, SyntaxError) as e:  # truncated headers raise any of these
        return f"cannot be read ({e})"
    (width, height) = found[1]
    if decoded_whole and width * height > MAX_DECODED_PIXELS:
        return _too_large(f"{width} x {height} = {width * height:,}")
    return found


def _opened(path: str):
    """The image at `path`, its header read. A JPEG is opened by Pillow's JPEG reader itself, which
    `Image.open` calls before refusing over twice its pixel limit: only a progressive one decodes whole,
    and whether it is comes from the header too."""
    from PIL import Image, JpegImagePlugin

    with open(path, "rb") as f:
        jpeg = f.read(3) == b"\xff\xd8\xff"
    return JpegImagePlugin.JpegImageFile(path) if jpeg else Image.open(path)


def _truncated_jpeg(path: str) -> bool:
    """Whether a JPEG lacks an end-of-image marker (`FF D9`) after the start of its last scan
    (`FF DA`), in its last `JPEG_END_BYTES`. Entropy-coded data holds neither (an `FF` byte is
    written `FF 00`), so only markers match; asking for the end after the last scan start keeps
    an embedded thumbnail's end, near the file's start, from passing for the photo's."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        f.seek(max(f.tell() - JPEG_END_BYTES, 0))
        tail = f.read()
    return tail.rfind(b"\xff\xd9") < max(tail.rfind(b"\xff\xda"), 0) or b"\xff\xd9" not in tail


def _size_summary(sizes: list[tuple[int, int]]) -> dict | None:
    if not sizes:
        return None
    ordered = sorted(sizes, key=lambda s: (s[0] * s[1], s))
    return {"smallest": list(ordered[0]), "median": list(ordered[len(ordered) // 2]), "largest": list(ordered[-1])}


def _odd_formats(formats: dict[str, str], counts: collections.Counter) -> list[list[str]]:
    if not counts or counts.most_common(1)[0][1] < ODD_FORMAT_MAJORITY * len(formats):
        return []
    rare = {f for f, n in counts.items() if n <= max(1, ODD_FORMAT_SHARE * len(formats))}
    return [[path, f] for path, f in formats.items() if f in rare]


def _small(sizes: dict[str, tuple[int, int]]) -> list[list]:
    if len(sizes) < 2:
        return []
    typical = statistics.median(min(s) for s in sizes.values())
    return [[path, w, h] for path, (w, h) in sizes.items() if min(w, h) < SMALL_SIDE_FRACTION * typical]


def _copies(files: list[str]) -> list[list[str]]:
    """Groups of files with the same bytes; only files of the same size are read."""
    by_size = collections.defaultdict(list)
    for path in files:
        by_size[Path(path).stat().st_size].append(path)
    groups = collections.defaultdict(list)
    for same_size in by_size.values():
        if len(same_size) > 1:
            for path in same_size:
                groups[item_key(path, images=True)].append(path)  # as evaluate knows training images
    return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: (-len(g), g))


def image_check_text(found: dict, shown: int = 3) -> list[str]:
    """The lines `tfxfer inspect-data` prints for `check_image_files`'s findings."""
    lines = []
    formats = ", ".join(f"{n:,} {f}" for f, n in found["formats"].items())
    if found["sizes"]:
        small, median, large = (f"{w}x{h}" for w, h in found["sizes"].values())
        lines.append(f"Images: {formats}; from {small} to {large} pixels (median {median}).")
    odd = found["odd_format"]
    if odd:
        commonest = next(iter(found["formats"]))
        named = ", ".join(f"{p} ({f})" for p, f in odd[:shown]) + (", ..." if len(odd) > shown else "")
        lines.append(f"Odd format: {_are(len(odd))} not {commonest} like the rest: {named}. A placeholder "
                     "or a wrong file? Check that each belongs to its class.")
    small = found["small"]
    if small:
        named = ", ".join(f"{p} ({w}x{h})" for p, w, h in small[:shown]) + (", ..." if len(small) > shown else "")
        lines.append(f"Small: {_are(len(small))} under a quarter of the typical size: {named}. Thumbnails or "
                     "icons carry little for the module to see.")
    turned = found["turned"]
    if turned:
        named = ", ".join(p for p, _ in turned[:shown]) + (", ..." if len(turned) > shown else "")
        them = "it" if len(turned) == 1 else "them"
        lines.append(f"Turned: {_are(len(turned))} stored sideways, upside down or mirrored, with an EXIF tag that "
                     f"viewers obey and TensorFlow does not: {named}. The model sees {them} as stored, and so does the "
                     "export given the same files; if it will be sent upright photos (apps and browsers often turn "
                     f"them), turn {them} upright first: mogrify -auto-orient FILES (ImageMagick).")
    unreadable = found["unreadable"]
    if unreadable:
        named = "; ".join(f"{p}: {why}" for p, why in unreadable[:shown]) + ("; ..." if len(unreadable) > shown else "")
        lines.append(f"Unreadable: {counted(len(unreadable), 'file')} cannot be read as "
                     f"{'an image' if len(unreadable) == 1 else 'images'} (fit-head skips "
                     f"{'it' if len(unreadable) == 1 else 'them'}): {named}.")
    copies = found["copies"]
    if copies:
        extra = sum(len(c["paths"]) - 1 for c in copies)
        relabeled = [c for c in copies if len(c["labels"]) > 1]
        if relabeled:
            said = (f"; {counted(len(relabeled), 'group')} of copies {'carries' if len(relabeled) == 1 else 'carry'} "
                    f"several labels (e.g. {' = '.join(relabeled[0]['paths'][:2])}: "
                    f"{', '.join(relabeled[0]['labels'])}), and no model gets every copy right")
        else:
            said = f" (first: {' = '.join(copies[0]['paths'][:2])})"
        lines.append(f"Copies: {counted(extra, 'image')} {'repeats' if extra == 1 else 'repeat'} the bytes of "
                     f"another{said}. Copies in different folds make cross-validation look better than it is: "
                     "keep one.")
    return lines


def _are(n: int) -> str:
    return f"{counted(n, 'image')} {'is' if n == 1 else 'are'}"
