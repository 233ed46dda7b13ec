"""One look for every figure, and byte-identical files for identical inputs.

Everything that could vary between runs or machines is pinned here: the backend, the SVG hash
salt, the metadata matplotlib would stamp (date, version), fonts (glyphs become paths, so the SVG
needs no font), the dpi, and the white background (night mode inverts the picture in CSS, see anki.css).

matplotlib draws each figure once, as SVG; its PNG twin is that SVG rasterized (`raster`), so the
two cannot disagree and the costly drawing is not done twice.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib import font_manager, textpath  # noqa: E402
from matplotlib import text as mtext  # noqa: E402
from matplotlib.backends.backend_svg import FigureCanvasSVG  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.mathtext import MathTextParser  # noqa: E402

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


class _MathTextMemo(MathTextParser):
    """mathtext parses kept for the process: matplotlib keeps its last 50 only, fewer than the labels
    of a deck's figures, so a label checked in `prepare` was parsed again when drawn."""

    LIMIT = 4096

    def __init__(self) -> None:
        super().__init__("path")
        self._memo: dict[tuple[Any, ...], Any] = {}

    def parse(self, s: str, dpi: float = 72, prop: Any = None, *, antialiased: bool | None = None) -> Any:
        if antialiased is None:
            antialiased = matplotlib.rcParams["text.antialiased"]
        key = (s, dpi, prop.copy() if prop is not None else None, antialiased)
        if key not in self._memo:
            if len(self._memo) >= self.LIMIT:
                self._memo.clear()
            self._memo[key] = super().parse(s, dpi, prop, antialiased=antialiased)
        return self._memo[key]


# Every renderer makes its own TextToPath, and with it an empty mathtext cache, so each label was
# parsed again (by pyparsing, slowly) for every file written. TextToPath keeps no state of the
# renderer that made it: one instance for all parses each label once per process.
_TEXT_TO_PATH = textpath.TextToPath()
_TEXT_TO_PATH.mathtext_parser = _MathTextMemo()
mtext.TextToPath = lambda: _TEXT_TO_PATH  # type: ignore[assignment,misc]
# A parsed label holds the FreeType fonts it was laid out with, and those read their font file through
# a descriptor a forked child shares with its parent and siblings: two processes seeking it at once
# load broken glyphs ("FT_Load_Glyph … invalid outline"). matplotlib drops its font cache in a forked
# child for that reason; the labels parsed with those fonts go with it.
os.register_at_fork(after_in_child=_TEXT_TO_PATH.mathtext_parser._memo.clear)


def parse_mathtext(text: str) -> None:
    """Parse `$…$` text as drawing it will, with the figures' fonts, through the shared parser, so the
    drawing finds it parsed. ValueError when mathtext cannot typeset it."""
    with matplotlib.rc_context(rc()):
        _TEXT_TO_PATH.get_text_width_height_descent(text, font_manager.FontProperties(), ismath=True)


@contextmanager
def figure(size: tuple[float, float] = (WIDTH_IN, HEIGHT_IN)) -> Iterator[Figure]:
    """A fresh figure under the pinned style, on an SVG canvas: it is laid out for the file it becomes.
    No pyplot: nothing keeps the figure alive once the caller lets go of it."""
    with matplotlib.rc_context(rc()):
        fig = Figure(figsize=size, layout="constrained")
        FigureCanvasSVG(fig)
        yield fig


def legend_below(fig: Figure, ax: Any, ncols: int = 1) -> None:
    """A legend under the plot: at 3.6 in a legend inside the axes covers the curves it explains."""
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=ncols, frameon=False,
               columnspacing=1.0, handletextpad=0.5)


SVG_METADATA = {"Date": None, "Creator": None, "Contributor": None, "Publisher": None}


def to_svg(fig: Figure) -> bytes:
    """SVG bytes of a figure from `figure()`, inside its `with` so the same rcParams apply.

    Laid out once: savefig alone runs the constrained layout on a dry-run draw and again on the real
    one, which costs more than the drawing. Here the layout runs once, measured by the SVG renderer
    as savefig's own first pass is, and the file is the same byte for byte."""
    engine = fig.get_layout_engine()
    if engine is not None:
        engine.execute(fig)
        fig.set_layout_engine(None)
    svg = io.BytesIO()
    fig.savefig(svg, format="svg", metadata=SVG_METADATA)
    return svg.getvalue()
