"""Where a fit-head export keeps what, for every layer that reads one.

`fit-head` writes `OUT/NAME/VERSION/` (the SavedModel TF Serving loads, its
labels in `assets/`) and `OUT/NAME/reports/VERSION/` (the fit report and
plots, beside the versions, where TF Serving does not look for models).
The export writes this layout; loading a feature module reads it too, to
refuse an export given in a module's place, so it lives below both.
"""

from __future__ import annotations

import json
from pathlib import Path

LABELS_FILE = "labels.txt"
# A SavedModel's graph: binary, or text as TF1's `builder.save(as_text=True)` wrote it. TensorFlow
# and TF-Hub load either; tfxfer refused the text form as "not a SavedModel directory" until stop 70.
SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")


def is_saved_model(path: Path) -> bool:
    """Whether `path` is a SavedModel directory (its graph in binary or text form)."""
    return any((path / name).is_file() for name in SAVED_MODEL_FILES)


def report_dir(version_dir: Path) -> Path:
    """Where a version's fit report and plots are: `NAME/reports/VERSION/`."""
    return version_dir.parent / "reports" / version_dir.name


def read_fit_report(version_dir: Path) -> dict:
    """A version's fit report (`report.json` in `report_dir`); empty if there is none to read."""
    report = report_dir(version_dir) / "report.json"
    try:
        loaded = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}
