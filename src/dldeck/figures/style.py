"""One look for every figure, and byte-identical files for identical inputs.

Everything that could vary between runs or machines is pinned here: the backend, the SVG hash
salt, the metadata matplotlib would stamp (date, version), fonts (glyphs become paths, so the SVG
needs no font), the dpi, and the white background (night mode inverts the picture in CSS, see anki.css).
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

# Designed for the width a figure is shown at. In Anki a figure is at most 450 CSS px wide and, in a
# 360 CSS px window at least 294 px (measured in Anki 26.9.3: column minus padding, border and scroll
# bar; 300 px since the phone padding shrank).
# Drawn 3.6 in (259 pt) wide, 1 pt becomes 294/259 = 1.13 CSS px there, so the smallest text
# (MIN_FONT_PT = 10 pt) is 11.3 CSS px. The PNG is 900 px wide: two device pixels per CSS pixel at
# the 450 px cap, so it is sharp on 2x screens.
WIDTH_IN = 3.6
HEIGHT_IN = 2.4
PNG_DPI = 250
MIN_FONT_PT = 10.0
PHONE_WIDTH_PX = 294.0

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
        "font.size": MIN_FONT_PT,
        "axes.titlesize": MIN_FONT_PT + 0.5,
        "figure.titlesize": MIN_FONT_PT + 0.5,
        "axes.labelsize": MIN_FONT_PT,
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


def legend_below(fig: Figure, ax: Any, ncols: int = 1) -> None:
    """A legend under the plot: at 3.6 in a legend inside the axes covers the curves it explains."""
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=ncols, frameon=False,
               columnspacing=1.0, handletextpad=0.5)


SVG_METADATA = {"Date": None, "Creator": None, "Contributor": None, "Publisher": None}
PNG_METADATA = {"Software": None}


def to_bytes(fig: Figure) -> tuple[bytes, bytes]:
    """SVG and PNG bytes of a figure; call inside `figure()` so the same rcParams apply."""
    svg = io.BytesIO()
    fig.savefig(svg, format="svg", metadata=SVG_METADATA)
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=PNG_DPI, metadata=PNG_METADATA)
    return svg.getvalue(), png.getvalue()
