"""Atomic outputs: written beside their target, renamed into place; and locks for writers.

A crash never leaves a half-written output: the target is absent, the old
version, or complete. Replacing an existing directory swaps the two in one
`renameat2(RENAME_EXCHANGE)` where Linux offers it, so a reader (TF Serving
polling a model directory) never sees the target missing.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from tfxfer.data.patterns import user_path
from tfxfer.errors import DiskFullError, OutputError, OutputExistsError

try:
    import fcntl
except ImportError:  # native Windows
    raise ImportError("tfxfer runs on Linux and macOS: two runs writing one output take turns through POSIX file "
                      "locks (fcntl), which Windows lacks. On Windows, run it in WSL2 (wsl --install), as "
                      "TensorFlow advises for GPUs too.") from None

logger = logging.getLogger(__name__)

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def make_temp_dir(parent: Path, prefix: str) -> Path:
    """A new directory in `parent` with the permissions a plain `mkdir` would give.

    (`tempfile.mkdtemp` makes it 0700, which would stay on the renamed output.)
    """
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    tmp.chmod(0o777 & ~_umask())
    return tmp


def disk_full(error: BaseException) -> bool:
    """Whether `error` is a full disk (or quota): the OS's; NumPy's short write, which sets no errno;
    TensorFlow's error carrying the OS's message (a SavedModel's or a checkpoint's variables are
    written by TF ops, which raise no `OSError`); or ours, from an output written inside another."""
    if isinstance(error, DiskFullError):
        return True
    if isinstance(error, OSError):
        return error.errno in (errno.ENOSPC, errno.EDQUOT) or (
            error.errno is None and re.fullmatch(r"\d+ requested and \d+ written", str(error)) is not None)
    return type(error).__module__.startswith("tensorflow") and any(
        os.strerror(code) in str(error) for code in (errno.ENOSPC, errno.EDQUOT))


def disk_full_error(out: Path) -> DiskFullError:
    """The error for an output `out` that did not fit on its disk (and was removed), with the space there is."""
    existing = next(p for p in (Path(out).absolute(), *Path(out).absolute().parents) if p.exists())
    free = shutil.disk_usage(existing).free
    return DiskFullError(f"The disk holding {str(out)!r} is full: writing it needs more than the {free / 1e6:,.1f} "
                         "MB free there. Nothing was written. Free some space, or choose an output on another disk.")


@contextlib.contextmanager
def removed_on_failure(path: str | Path, output: str | Path | None = None):
    """Remove `path` (a file or directory being written) if the block fails; a full disk is then a
    `DiskFullError` naming `output` (default `path`), with the space there once `path` is gone."""
    try:
        yield
    except BaseException as e:
        path = Path(path)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        if disk_full(e):
            raise disk_full_error(output or path) from None
        raise


@contextlib.contextmanager
def new_dirs_removed_on_failure(path: str | Path):
    """Remove the directories the block makes on the way to `path` (and `path`) if it fails, where they are empty.

    An export that failed before its first version leaves no `NAME/` folder for TF Serving to poll.
    """
    path = Path(path).absolute()
    new = [p for p in (path, *path.parents) if not p.exists()]
    try:
        yield
    except BaseException:
        for directory in new:  # deepest first
            with contextlib.suppress(OSError):  # not empty (another writer's), or never made
                directory.rmdir()
        raise


def refuse_url(path: str | Path) -> None:
    """Raise `OutputError` for an output given as a URL (`gs://bucket/export`): as a path it is the local
    folder `gs:/bucket/export`, which the output went into while the command said gs://."""
    parts = Path(path).parts
    if "://" in str(path) or (parts and re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]+:", parts[0])):
        url = str(path) if "://" in str(path) else f"{parts[0]}//{'/'.join(parts[1:])}"
        raise OutputError(f"Output {url!r} is a URL: tfxfer writes local files and folders. Write to a local "
                          "one, then copy it there (e.g. gcloud storage cp -r DIR gs://BUCKET/PATH; TF Serving "
                          "reads models from gs:// paths).")


def output_path(path: str | Path, what: str, option: str = "--out") -> Path:
    """`path` as an output `Path`, `~` expanded; an empty one (a script's unset `$OUT`) is refused: as a
    `Path` it is the current folder, which the output would go into, or replace.

    Args:
        path: The output as given.
        what, option: Its parameter's name in Python and on the command line, for the error.

    Raises:
        OutputError: `path` is empty or a URL (`refuse_url`).
    """
    if path is None or not str(path).strip():
        shown = None if path is None else str(path)
        raise OutputError(f"{option} ({what}=) is empty. Received: {what}={shown!r}. Name the output (a shell "
                          "variable that is not set gives '').")
    refuse_url(path)
    return Path(user_path(path))


def _check_replaceable(out: Path, marks: tuple[str, ...]) -> None:
    """Refuse to replace a folder that is not an earlier output: the current folder, one holding it or the
    home folder, or one holding other files when none of `marks` (files such an output holds) is there.
    `--overwrite` replaces the folder whole, and `--out ~/projects --overwrite` would take the projects."""
    here, target = Path.cwd().resolve(), out.resolve()
    home = Path(os.path.expanduser("~")).resolve()
    if target == here or target in here.parents or target == home:
        where = ("the home folder" if target == home else "the current folder" if target == here
                 else "a folder above the current one")
        raise OutputError(f"Output {str(out)!r} is {where}: --overwrite (overwrite=True) would replace it whole. "
                          f"Name a folder of its own, e.g. {str(out / 'out')!r}.")
    try:
        contents = sorted(p.name for p in out.iterdir())
    except OSError:
        return  # writable_parent or the write itself says why
    if contents and marks and not any((out / mark).exists() for mark in marks):
        shown = ", ".join(repr(name) for name in contents[:3]) + (", ..." if len(contents) > 3 else "")
        raise OutputError(f"Output {str(out)!r} holds files tfxfer did not write ({shown}), and --overwrite "
                          f"(overwrite=True) replaces the folder whole. Name a new folder, e.g. "
                          f"{str(out / 'out')!r}, or empty this one yourself.")


def check_plot_replaceable(path: str | Path, fix: str = "choose another --plot") -> None:
    """Refuse to draw a plot over a file that no plot of matplotlib's is (tfxfer's earlier plots are):
    a plot's default name is rewritten on every run, but `--plot photo.png` must not take the photo.

    Raises:
        OutputError: `path` holds such a file.
    """
    path = Path(path)
    if not path.is_file():
        return
    with open(path, "rb") as f:  # PNG's Software and SVG's comment name it at the start, PDF's Producer at the end
        ends = f.read(4096)
        f.seek(max(0, path.stat().st_size - 4096))
        ends += f.read(4096)
    if b"matplotlib" not in ends.lower():
        raise OutputError(f"{str(path)!r} exists and is not a plot tfxfer drew: {fix}, or delete it.")


def writable_parent(path: Path, directory: bool = True) -> None:
    """Raise `OutputError` unless `path` can be written: its nearest existing
    ancestor is a writable directory, and no file stands where a directory must."""
    refuse_url(path)
    path = Path(path).absolute()
    if directory and path.exists() and not path.is_dir():
        raise OutputError(f"{str(path)!r} is a file, not a directory. Remove it or choose another output.")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(f"{str(parent)!r} is a file, not a directory. Remove it or choose another output.")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise OutputError(f"Cannot write in {str(parent)!r} (permission denied or a read-only file "
                                  "system). Choose an output directory you can write to.")
            return


def check_writable(out: Path, overwrite: bool, directory: bool = True, marks: tuple[str, ...] = ()) -> None:
    """Raise `OutputExistsError` if `out` exists and `overwrite` is false; `OutputError`
    if it cannot be written (`directory`: `out` is to be a directory), or is a folder that
    replacing would lose more than an earlier output (`_check_replaceable`; `marks`: files
    an earlier output of the same kind holds)."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise OutputExistsError(
            f"Output {str(out)!r} already exists. Pass --overwrite (overwrite=True) "
            "to replace it, or choose another output."
        )
    if directory and out.is_dir():
        _check_replaceable(out, marks)
    writable_parent(out, directory)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2); `False` where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def replace_dir(src: Path, dst: Path) -> None:
    """Move directory `src` to `dst`, replacing an existing `dst` atomically where the OS allows."""
    src, dst = Path(src), Path(dst)
    if not dst.exists():
        os.rename(src, dst)
        return
    if _exchange(src, dst):
        shutil.rmtree(src, ignore_errors=True)  # now holds the old `dst`
        return
    trash = make_temp_dir(dst.parent, f".{dst.name}.old-")
    os.rename(dst, trash / "old")
    os.rename(src, dst)
    shutil.rmtree(trash, ignore_errors=True)


@contextlib.contextmanager
def atomic_dir(out: str | Path, overwrite: bool = False, marks: tuple[str, ...] = ()):
    """Yield a temporary sibling of `out`; move it to `out` if the block succeeds.

    A crash or an exception inside the block removes the temporary directory, so
    `out` is either absent, the old version, or complete: never half-written.

    Args:
        out: The final directory.
        overwrite: Replace an existing `out`. Defaults to `False`.
        marks: Files an earlier output of this kind holds: a folder holding
            other files and none of these is not replaced. Defaults to none.

    Yields:
        The `Path` of the temporary directory to write into.
    """
    out = Path(out)
    check_writable(out, overwrite, marks=marks)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(out.parent, f".{out.name}.tmp-")
    with removed_on_failure(tmp, out):
        yield tmp
        if out.exists() and not overwrite:  # appeared while we worked
            raise OutputExistsError(f"Output {str(out)!r} appeared while this run was writing it. "
                                    "Pass --overwrite, or choose another output directory.")
        replace_dir(tmp, out)


def write_atomic(path: str | Path, write: Callable[[Path], None]) -> None:
    """Write `path` through a temporary file beside it (unique: writers may race) that `write` fills,
    then a rename: readers see the old file or the whole new one."""
    refuse_url(path)
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    with removed_on_failure(tmp, path):
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write `text` to `path` in UTF-8 (`write_atomic`)."""
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


@contextlib.contextmanager
def locked(directory: str | Path, what: str = "another process"):
    """Hold an exclusive lock on `directory` for the block (`flock` on the directory itself).

    Writers of the same directory (two `fit-head` runs into one export) take
    turns instead of overwriting each other. Nothing is left behind, and the
    lock is released when the process exits, however it exits.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.warning("Waiting for %s to finish writing %s.", what, directory)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
