"""Drawing helpers shared by the grid-based kinds (conv, transposed conv, overlap)."""

from __future__ import annotations

from collections.abc import Mapping

from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from dldeck.figures import style

Cell = tuple[int, int]  # (row, column), row 0 at the top


def grid_axes(ax: Axes, rows: int, cols: int) -> None:
    """Square cells, row 0 on top, no ticks: a grid is a picture, not a chart."""
    ax.set_xlim(-0.05, cols + 0.05)
    ax.set_ylim(rows + 0.05, -0.05)
    ax.set_aspect("equal")
    ax.axis("off")


def draw_cells(
    ax: Axes,
    rows: int,
    cols: int,
    fills: Mapping[Cell, str] | None = None,
    texts: Mapping[Cell, str] | None = None,
    dashed: set[Cell] | None = None,
    origin: tuple[float, float] = (0.0, 0.0),
    fontsize: float = 7.0,
) -> None:
    """A rows×cols grid of unit cells at `origin` (x, y of the top-left corner)."""
    fills = fills or {}
    texts = texts or {}
    dashed = dashed or set()
    x0, y0 = origin
    for r in range(rows):
        for c in range(cols):
            cell = (r, c)
            ax.add_patch(
                Rectangle(
                    (x0 + c, y0 + r),
                    1,
                    1,
                    facecolor=fills.get(cell, "white"),
                    edgecolor=style.GRID_EDGE,
                    linewidth=0.6,
                    linestyle=(0, (2, 1.5)) if cell in dashed else "-",
                )
            )
            if cell in texts:
                ax.text(x0 + c + 0.5, y0 + r + 0.5, texts[cell], ha="center", va="center", fontsize=fontsize)


def outline(ax: Axes, top: float, left: float, height: float, width: float, color: str) -> None:
    ax.add_patch(Rectangle((left, top), width, height, fill=False, edgecolor=color, linewidth=2.0, zorder=5))


def lighten(hex_color: str, amount: float = 0.55) -> str:
    """Mix a colour with white, for fills that keep black text readable."""
    rgb = [int(hex_color[i : i + 2], 16) for i in (1, 3, 5)]
    mixed = [round(v + (255 - v) * amount) for v in rgb]
    return "#" + "".join(f"{v:02X}" for v in mixed)
