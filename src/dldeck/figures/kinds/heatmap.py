"""A matrix as a heatmap: entry (i, j) from one check-language expression, optional mask and softmax.

Attention patterns are the reason: a score matrix over query i and key j, cells where a mask
expression holds are removed (shown grey, like the −∞ a causal or padding mask adds before the
softmax), and `softmax: true` normalises each row over the cells left, so the picture shows
attention weights. Rows and columns count from 0, as positions do in code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import matplotlib
import numpy as np
import sympy
from matplotlib.figure import Figure

from dldeck.figures import style
from dldeck.figures.kind import FigureKind, Params
from dldeck.figures.kinds.function import Label, Source
from dldeck.figures.params import Bool, Int, SpecError, show

VARIABLES = ("i", "j")
ANNOTATE_MAX_CELLS = 36  # values are printed in cells only while they fit at a phone's text size

KEYS = {
    "value": Source(required=True),
    "rows": Int(1, 32, default=8),
    "cols": Int(1, 32),
    "mask": Source(),
    "softmax": Bool(),
    "xlabel": Label(),
    "ylabel": Label(),
}


@dataclass(frozen=True)
class HeatmapData:
    values: np.ndarray  # (rows, cols) float
    masked: np.ndarray  # (rows, cols) bool: True where the mask holds (not drawn)
    softmax: bool
    xlabel: str
    ylabel: str


def _grid(expr: Any, text: str, key: str, rows: int, cols: int) -> np.ndarray:
    """The expression at every (i, j), refusing names other than i and j."""
    if not isinstance(expr, sympy.Basic):
        expr = sympy.sympify(expr)
    others = sorted(s.name for s in expr.free_symbols if s.name not in VARIABLES)
    if others:
        raise SpecError(
            f"{', '.join(others)} is not defined: only i (row) and j (column) vary in a heatmap "
            f"(define constants with := in a check block)",
            key=key,
        )
    symbols = {s.name: s for s in expr.free_symbols}
    i_grid, j_grid = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    function = sympy.lambdify(
        [symbols.get(name, sympy.Symbol(name)) for name in VARIABLES], expr, modules="numpy"
    )
    try:
        with np.errstate(all="ignore"):
            grid = np.broadcast_to(np.asarray(function(i_grid, j_grid)), (rows, cols))
    except (NameError, TypeError, AttributeError, ValueError, ZeroDivisionError) as error:
        raise SpecError(f"{show(text)} cannot be computed on the grid ({error})", key=key) from None
    return np.array(grid)


def compute(params: Params) -> HeatmapData:
    rows = params["rows"]
    cols = params.get("cols") or rows
    expr, text = params["value"]
    if isinstance(expr, sympy.logic.boolalg.Boolean) and not isinstance(expr, sympy.Symbol):
        raise SpecError(f"{show(text)} is a condition, not a value: use it as `mask`", key="value")
    values = _grid(expr, text, "value", rows, cols)
    if values.dtype == object or np.iscomplexobj(values):
        raise SpecError(f"{show(text)} is not a real number at every cell", key="value")
    values = values.astype(float)
    masked = np.zeros((rows, cols), dtype=bool)
    if params.get("mask") is not None:
        mask_expr, mask_text = params["mask"]
        if not isinstance(mask_expr, sympy.logic.boolalg.Boolean) or isinstance(mask_expr, sympy.Symbol):
            raise SpecError(f"{show(mask_text)} must be a condition such as j > i", key="mask")
        masked = _grid(mask_expr, mask_text, "mask", rows, cols).astype(bool)
    if not np.all(np.isfinite(values[~masked])):
        i, j = np.argwhere(~np.isfinite(values) & ~masked)[0]
        raise SpecError(f"{show(text)} is not finite at i = {i}, j = {j}", key="value")
    softmax = params["softmax"]
    if softmax:
        full = np.nonzero(masked.all(axis=1))[0]
        if len(full):
            raise SpecError(f"row i = {full[0]} is masked entirely: its softmax is undefined", key="mask")
        shifted = np.where(masked, -np.inf, values)
        shifted = shifted - shifted.max(axis=1, keepdims=True)
        weights = np.exp(shifted)
        values = weights / weights.sum(axis=1, keepdims=True)
    values = np.where(masked, 0.0, values)
    return HeatmapData(
        values, masked, softmax, params.get("xlabel") or "$j$", params.get("ylabel") or "$i$"
    )


def draw(data: HeatmapData, fig: Figure) -> None:
    ax = fig.subplots()
    shown = np.ma.masked_array(data.values, mask=data.masked)
    cmap = matplotlib.colormaps["Blues"].with_extremes(bad=style.MUTED)
    image = ax.imshow(shown, cmap=cmap, interpolation="nearest", aspect="equal")
    rows, cols = data.values.shape
    if rows * cols <= ANNOTATE_MAX_CELLS:
        top = float(np.max(shown)) if shown.count() else 0.0
        for i, j in np.argwhere(~data.masked):
            value = data.values[i, j]
            colour = "white" if top and value > 0.6 * top else "black"
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=style.MIN_FONT_PT, color=colour)
    ax.set_xticks(range(cols))
    ax.set_yticks(range(rows))
    ax.set_xlabel(data.xlabel)
    ax.set_ylabel(data.ylabel)
    ax.xaxis.set_label_position("top")
    ax.xaxis.tick_top()
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)


def describe(params: Params) -> str:
    rows = params["rows"]
    cols = params.get("cols") or rows
    text = f"热力图：{params['value'][1]}，{rows}×{cols}"
    if params.get("mask") is not None:
        text += f"，屏蔽 {params['mask'][1]}"
    return text + ("，按行 softmax" if params["softmax"] else "")


def size(data: HeatmapData) -> tuple[float, float]:
    return (style.WIDTH_IN, style.WIDTH_IN * 0.85)


KIND = FigureKind("heatmap", KEYS, compute, draw, describe, size, uses_expressions=True)
