"""Atomic output directories: written beside their target, renamed into place."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path

from tfxfer.errors import OutputExistsError


def check_writable(out: Path, overwrite: bool) -> None:
    """Raise `OutputExistsError` if `out` exists and `overwrite` is false."""
    if out.exists() and not overwrite:
        raise OutputExistsError(
            f"Output {str(out)!r} already exists. Pass --overwrite (overwrite=True) "
            "to replace it, or choose another output directory."
        )


@contextlib.contextmanager
def atomic_dir(out: str | Path, overwrite: bool = False):
    """Yield a temporary sibling of `out`; rename it to `out` if the block succeeds.

    A crash or an exception inside the block removes the temporary directory, so
    `out` is either absent, the old version, or complete: never half-written.

    Args:
        out: The final directory.
        overwrite: Replace an existing `out`. Defaults to `False`.

    Yields:
        The `Path` of the temporary directory to write into.
    """
    out = Path(out)
    check_writable(out, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        yield tmp
        if out.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            out.rename(trash / "old")
            tmp.rename(out)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write `text` to `path` through a temporary file and a rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
