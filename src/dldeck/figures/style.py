"""One look for every figure, and byte-identical files for identical inputs.

Everything that could vary between runs or machines is pinned here: the backend, the SVG hash
salt, the metadata matplotlib would stamp (date, version), fonts (glyphs become paths, so the SVG
needs no font), the dpi, and the white background that keeps figures readable in Anki night mode.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib import font_manager  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from dldeck.fonts import find_cjk_font  # noqa: E402

# Designed for the width a figure is shown at. In Anki a figure is at most 450 CSS px wide and about
# 323 px on a 360 px phone; drawn 3.6 in (259 pt) wide, 1 pt becomes 323/259 = 1.25 CSS px there, so
# the smallest text (MIN_FONT_PT = 9 pt) is 11.2 CSS px. The PNG is 900 px wide: two device pixels
# per CSS pixel at the 450 px cap, sharp on 2x screens.
WIDTH_IN = 3.6
HEIGHT_IN = 2.4
PNG_DPI = 250
MIN_FONT_PT = 9.0
PHONE_WIDTH_PX = 323.0  # a figure's width in a 360 CSS px Anki window (column minus border)

# Okabe–Ito: distinguishable for colour-blind readers and in greyscale print.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
SHADE = "#56B4E9"  # highlighted cells
SHADE_DARK = "#0072B2"
GRID_EDGE = "#555555"
MUTED = "#DDDDDD"
PAD_FILL = "#F2F2F2"


@functools.cache
def _font_families() -> tuple[str, ...]:
    """The CJK font first: text mixing Chinese and `$math$` is typeset by mathtext with the first
    family only (no per-glyph fallback there). DejaVu Sans backs up symbols the CJK font lacks."""
    cjk = find_cjk_font()
    font_manager.fontManager.addfont(str(cjk.path))
    return (cjk.family, "DejaVu Sans")


def rc() -> dict[str, Any]:
    return {
        "font.family": list(_font_families()),
        "font.size": 9.5,
        "axes.titlesize": 10,
        "figure.titlesize": 10,
        "axes.labelsize": 9.5,
        "legend.fontsize": MIN_FONT_PT,
        "xtick.labelsize": MIN_FONT_PT,
        "ytick.labelsize": MIN_FONT_PT,
        "legend.handlelength": 1.5,
        "legend.borderaxespad": 0.3,
        "mathtext.fontset": "dejavusans",
        "axes.unicode_minus": True,
        "axes.prop_cycle": matplotlib.cycler(color=list(PALETTE)),
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.facecolor": "white",
        "figure.facecolor": "white",
        "savefig.facecolor": "white",
        "savefig.edgecolor": "white",
        "savefig.transparent": False,
        "svg.fonttype": "path",
        "svg.hashsalt": "dldeck-figures",
        "path.simplify": True,
        "lines.linewidth": 1.6,
        "image.interpolation": "nearest",
    }


@contextmanager
def figure(size: tuple[float, float] = (WIDTH_IN, HEIGHT_IN)) -> Iterator[Figure]:
    """A fresh figure under the pinned style; closed afterwards so workers do not leak memory."""
    with matplotlib.rc_context(rc()):
        fig = plt.figure(figsize=size, layout="constrained")
        try:
            yield fig
        finally:
            plt.close(fig)


SVG_METADATA = {"Date": None, "Creator": None, "Contributor": None, "Publisher": None}
PNG_METADATA = {"Software": None}


def to_bytes(fig: Figure) -> tuple[bytes, bytes]:
    """SVG and PNG bytes of a figure; call inside `figure()` so the same rcParams apply."""
    svg = io.BytesIO()
    fig.savefig(svg, format="svg", metadata=SVG_METADATA)
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=PNG_DPI, metadata=PNG_METADATA)
    return svg.getvalue(), png.getvalue()
