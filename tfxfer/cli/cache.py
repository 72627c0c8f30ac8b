"""`tfxfer cache`: what the cache directory holds, and clearing it."""

from __future__ import annotations

import os

import click

from tfxfer.cli import main
from tfxfer.cli.common import echo_json, library_errors

_ABOUT_PARTS = {
    "features": "feature vectors of images, by module and image size, and of texts, by slow module",
    "modules": "feature modules made from archives, word-vector and Keras files, or copied from gs://",
    "images": "images unpacked from Parquet files",
    "tfhub": "TF-Hub handles downloaded",
}


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000
    return ""  # unreachable


@main.command("cache", short_help="What tfxfer's cache holds; --clear deletes it.")
@click.option("--cache-dir", type=click.Path(file_okay=False),
              help="A feature cache given to other commands as --cache-dir.  [default: CACHE/features]")
@click.option("--clear", "clear", is_flag=True, help="Delete what is listed (it is made again when next needed).")
@click.option("--gone", is_flag=True, help="With --clear: only what was made from modules or files that no longer "
                                            "exist (nothing reads it again).")
@click.option("--part", "parts", type=click.Choice(list(_ABOUT_PARTS)), multiple=True,
              help="Only this part (repeat for several).  [default: all]")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@library_errors(tensorflow=False)
def cache_command(cache_dir, clear, gone, parts, as_json):
    """List what tfxfer's cache holds, or delete it with --clear.

    The cache (CACHE: $TFXFER_CACHE_DIR, else ~/.cache/tfxfer) keeps image
    feature vectors (features/, so fitting again on the same photos extracts
    nothing), feature modules made from .tar.gz / .zip archives, Keras and word-vector files
    or copied from gs:// folders (modules/), the images of Hugging Face Parquet files (images/), and
    TF-Hub handles downloaded (tfhub_modules/, or $TFHUB_CACHE_DIR where set). Each
    is made again when it is next needed; clear it when no tfxfer command runs.

    Example: tfxfer cache --clear --part features
    """
    from tfxfer.cache_dir import PARTS, cache_usage, clear_cache

    if gone and not clear:
        raise click.UsageError("--gone chooses what --clear deletes: pass both (tfxfer cache lists what is gone).")
    kept = None
    if clear and not parts and os.environ.get("TFHUB_CACHE_DIR"):
        # The user's own TF-Hub cache, which notebooks and other tools share: deleted only when asked for.
        parts, kept = tuple(p for p in PARTS if p != "tfhub"), os.environ["TFHUB_CACHE_DIR"]
    parts = parts or PARTS
    if clear:
        usage = clear_cache(features_dir=cache_dir, parts=parts, gone_only=gone)
    else:
        usage = cache_usage(features_dir=cache_dir, parts=parts)
    if as_json:
        echo_json(usage.to_dict())
        return
    click.echo(f"Cache: {usage.root}" + (f" (features: {usage.features_dir})" if cache_dir else ""))
    for part in parts:
        entries = usage.part(part)
        files = sum(e.files for e in entries)
        where = f", in {usage.tfhub_dir}" if part == "tfhub" and usage.tfhub_dir.parent != usage.root else ""
        click.echo(f"{part}: {_size(sum(e.size for e in entries))} in {files:,} files ({_ABOUT_PARTS[part]}{where})")
        for entry in entries:
            gone_mark = ", gone" if entry.gone else ""
            click.echo(f"  {_size(entry.size):>10}  {entry.source or 'unrecorded source'} ({entry.path.name}"
                       f"{gone_mark})")
    if clear:
        click.echo(f"Deleted {_size(usage.size)}.")
        if kept:
            click.echo(f"Kept the TF-Hub downloads in $TFHUB_CACHE_DIR ({kept}), which other tools may share: "
                       "--part tfhub deletes them.")
    elif usage.entries:
        click.echo(f"Total {_size(usage.size)}; tfxfer cache --clear deletes it.")
        stale = [e for e in usage.entries if e.gone]
        if stale:
            click.echo(f"{_size(sum(e.size for e in stale))} of it ({len(stale)} marked gone) was made from modules "
                       "or files that no longer exist: tfxfer cache --clear --gone deletes that alone.")
