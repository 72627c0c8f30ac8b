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
