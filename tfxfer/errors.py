"""Typed errors. The library raises them; only `tfxfer.cli` turns them into exits."""

import errno
import re


class TfxferError(Exception):
    """Base class of every error tfxfer raises on purpose (bad input, bad settings)."""


class ConfigError(TfxferError, ValueError):
    """A parameter has an invalid value. The message names it, the value and the fix."""


class DataError(TfxferError):
    """Input data is missing, empty, unreadable or too small for the settings."""


class LabelsError(DataError, ValueError):
    """Labels no classifier can be fitted on (one class; measurements, not classes). A `ValueError`
    too, as scikit-learn's estimators raise for them."""


class OutputExistsError(TfxferError):
    """The output already exists and overwriting was not asked for."""


class OutputError(TfxferError):
    """The output cannot be written: no permission, a file in the way, a full disk."""


class DiskFullError(OutputError, OSError):
    """The output did not fit on its disk; nothing of it was left.

    An `OSError` (ENOSPC) too, as the OS's own error for it is: code that carries on
    when a write fails (the feature cache) carries on after this one.
    """

    def __init__(self, message: str):
        super().__init__(errno.ENOSPC, message)

    def __str__(self) -> str:
        return self.strerror


class TrainingInterrupted(TfxferError):
    """Training was interrupted; a resumable checkpoint was kept."""


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`"1 row"`, `"2 rows"`, `"1,200 classes"` (with `plural`) for messages."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def listed(names, noun: str, plural: str | None = None, shown: int = 8) -> str:
    """`"2 classes: animals, vehicles"`; past `shown` names, the first ones and `"and 4 more"`."""
    names = [str(n) for n in names]
    more = f" and {len(names) - shown:,} more" if len(names) > shown else ""
    return f"{counted(len(names), noun, plural)}: {', '.join(names[:shown])}{more}"


def not_found(what: str, source, fix: str = "") -> DataError:
    """`DataError` for data that is not there: `"Labeled data 'x.csv' not found. {fix}"`, or for a URL,
    that nothing is downloaded (where the data sits somewhere else, the fix is to fetch it)."""
    source = str(source)
    if "://" in source:
        return DataError(f"{what} {source!r} is a URL: tfxfer reads local files and downloads nothing. Download "
                         f"it first (e.g. {_download_command(source)}) and pass the file.")
    return DataError(f"{what} {source!r} not found." + (f" {fix}" if fix else ""))


def _download_command(url: str) -> str:
    """A shell command that fetches `url` into a file of this folder: the bucket's tool for gs:// and s3://;
    curl otherwise, quoted, and named by its path where a query follows (a Google Sheet's
    .../export?format=csv: `-O` would name the file 'export?format=csv')."""
    import shlex
    import urllib.parse
    from pathlib import PurePosixPath

    parts = urllib.parse.urlsplit(url)
    tool = {"gs": "gcloud storage cp -r", "s3": "aws s3 cp"}.get(parts.scheme)
    if tool:
        return f"{tool} {shlex.quote(url)} ."
    name = PurePosixPath(urllib.parse.unquote(parts.path)).name
    if name and not parts.query:
        return f"curl -LO {shlex.quote(url)}"
    form = dict(urllib.parse.parse_qsl(parts.query)).get("format", "")
    name = (name or "download") + (f".{form}" if form.isalnum() and not name.endswith(f".{form}") else "")
    return f"curl -L -o {shlex.quote(name)} {shlex.quote(url)}"


def check_positive_int(name: str, value, fix: str = "") -> int:
    """Return `value` if it is an integer >= 1, else raise `ConfigError` naming it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"`{name}` must be a positive integer. Received: {name}={value!r}."
            + (f" {fix}" if fix else "")
        )
    return value


def op_error_reason(message: str) -> str:
    """The line of a TensorFlow op error that says what went wrong.

    Errors raised in graphs read "Graph execution error: Detected at node ...
    <stack> REASON [[node ...]]"; users need REASON. A `tf.debugging.Assert` of ours
    reads "{{function_node ...}} assertion failed: [MESSAGE] [DATA]" (in a graph) or
    "... Summarized data: b"MESSAGE"\nDATA" (eagerly): users need "MESSAGE DATA".
    """
    summarized = re.search(r'Summarized data: b"(.*)"\n(.*)', str(message))
    if summarized:
        return f"{summarized[1]} {summarized[2]}"
    lines = [l.strip() for l in str(message).splitlines() if l.strip()]
    useful = [l for l in lines if not l.startswith(("Graph execution error", "Detected at node", "<stack", "[[",
                                                     "File ", "Traceback"))]
    reason = (useful or lines or ["unknown error"])[-1 if useful else 0]
    reason = re.sub(r"^\{\{function_node [^}]*\}\}\s*", "", reason.split("\t [[")[0].split(" [[")[0].strip())
    asserted = re.fullmatch(r"assertion failed: \[(.*)\]", reason)  # "[MESSAGE] [DATA] ...": each without brackets
    return " ".join(filter(None, (part.strip() for part in asserted[1].split("] [")))) if asserted else reason
