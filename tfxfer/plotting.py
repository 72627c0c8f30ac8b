"""Matplotlib set-up for tfxfer's PNG reports: no display, and labels in any script.

Class labels can be Chinese, Japanese, Arabic...: matplotlib's default font
(DejaVu Sans) draws those as empty boxes. Installed fonts that cover more
scripts are added as fallbacks (matplotlib >= 3.6 falls back per glyph); a
label that no installed font can draw is shown with its characters escaped
(`\\u4e2d`), which is at least readable and searchable, and a warning says
which font package to install.
"""

from __future__ import annotations

import functools
import logging

logger = logging.getLogger(__name__)

# Fonts with wide coverage (CJK first), as Debian and other systems name them.
FALLBACK_FONTS = (
    "Noto Sans CJK JP", "Noto Sans CJK SC", "Noto Sans CJK TC", "Noto Sans CJK KR", "Source Han Sans",
    "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Droid Sans Fallback", "Noto Sans", "Arial Unicode MS",
)


@functools.lru_cache(maxsize=1)
def _fonts() -> tuple[tuple[str, ...], frozenset[int]]:
    """The font families to use and the code points they cover together."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    families, covered = ["DejaVu Sans"], set()
    installed = {f.name: f.fname for f in font_manager.fontManager.ttflist}
    for name in families[:1] + [f for f in FALLBACK_FONTS if f in installed]:
        path = installed.get(name) or font_manager.findfont(name)
        try:
            covered.update(FT2Font(path).get_charmap())
        except (OSError, RuntimeError):
            continue
        if name not in families:
            families.append(name)
    return tuple(families), frozenset(covered)


def pyplot():
    """`matplotlib.pyplot` with the Agg backend and fallback fonts for labels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["font.family"] = list(_fonts()[0])
    return plt


def drawable(labels) -> list[str]:
    """`labels`, with characters that no installed font can draw escaped."""
    covered = _fonts()[1]
    out, missing = [], set()
    for label in labels:
        chars = [c if (ord(c) in covered or c.isspace()) else f"\\u{ord(c):04x}" for c in label]
        missing.update(c for c in label if not (ord(c) in covered or c.isspace()))
        out.append("".join(chars))
    if missing:
        logger.warning(
            "No installed font draws %s; those labels are shown escaped in the plots. Install a font "
            "that covers them (Debian: fonts-noto-cjk or fonts-droid-fallback).", "".join(sorted(missing))[:20]
        )
    return out


def save_figure(fig, path, dpi: int = 120) -> None:
    """Write `fig` to `path` (its format from the suffix, PNG by default) atomically, and close it:
    a crash never leaves half a plot where one is expected (`evaluate --plot` writes outside any
    output directory)."""
    from pathlib import Path

    from tfxfer.atomic import write_atomic

    fmt = Path(path).suffix.lstrip(".").lower() or "png"
    try:
        write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format=fmt))
    finally:
        pyplot().close(fig)
